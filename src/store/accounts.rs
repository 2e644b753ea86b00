//! Accounts, and the contact counter that enforces plan limits atomically.

use crate::entity::account;
use crate::error::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};

/// Inserts an account.
pub async fn insert<C: ConnectionTrait>(db: &C, model: account::Model) -> Result<account::Model> {
    let active: account::ActiveModel = model.into();
    Ok(active.insert(db).await?)
}

/// Finds an account or NOT_FOUND.
pub async fn get<C: ConnectionTrait>(db: &C, id: &str) -> Result<account::Model> {
    account::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("account", id))
}

/// Writes changed fields.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    model: account::ActiveModel,
) -> Result<account::Model> {
    Ok(model.update(db).await?)
}

/// Reserves up to `wanted` contact slots in the account, inside the caller's write
/// transaction, and returns how many were granted (0 when full). The `UPDATE` takes the
/// account row's lock first, so concurrent writers serialize on it and the count can
/// never pass the limit.
pub async fn reserve_slots<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    wanted: i64,
    now: i64,
) -> Result<i64> {
    use account::Column;
    if wanted <= 0 {
        return Ok(0);
    }
    // Lock the row (and learn the room) with a no-op write, then grant what fits.
    account::Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(account_id))
        .exec(db)
        .await?;
    let acc = get(db, account_id).await?;
    let granted = wanted.min((acc.contact_limit - acc.contact_count).max(0));
    if granted > 0 {
        adjust_count(db, account_id, granted).await?;
    }
    Ok(granted)
}

/// Adds `delta` (negative to release) to the account's contact count.
pub async fn adjust_count<C: ConnectionTrait>(db: &C, account_id: &str, delta: i64) -> Result<()> {
    use account::Column;
    use sea_orm::ExprTrait;
    if delta == 0 {
        return Ok(());
    }
    account::Entity::update_many()
        .col_expr(
            Column::ContactCount,
            Expr::col(Column::ContactCount).add(Expr::val(delta)),
        )
        .filter(Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}
