//! Consent records of contacts.

use crate::entity::consent;
use crate::error::Result;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

/// Stores a consent record.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    row: consent::ActiveModel,
) -> Result<consent::Model> {
    Ok(row.insert(db).await?)
}

/// A contact's consent records, newest first.
pub async fn of_contact<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
) -> Result<Vec<consent::Model>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::AccountId.eq(account_id))
        .filter(consent::Column::ContactId.eq(contact_id))
        .order_by_desc(consent::Column::Id)
        .all(db)
        .await?)
}

/// Revokes a contact's records not revoked yet, at `at`, saying how; returns how many.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    at: i64,
    how: &str,
) -> Result<u64> {
    Ok(consent::Entity::update_many()
        .col_expr(consent::Column::RevokedAt, Expr::value(at))
        .col_expr(consent::Column::RevokedHow, Expr::value(how))
        .filter(consent::Column::AccountId.eq(account_id))
        .filter(consent::Column::ContactId.eq(contact_id))
        .filter(consent::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}
