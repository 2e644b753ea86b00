//! Accounts, and the contact counter that enforces plan limits atomically.

use crate::domain::account::{Account, AccountChanges, NewAccount};
use crate::domain::{Plan, dialing::Frequency};
use crate::entity::account;
use crate::error::{Error, Result};
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};

/// An account's row, decoded.
fn decode(a: account::Model) -> Account {
    Account {
        plan: Plan::from_stored(&a.plan, a.contact_limit),
        id: a.id,
        name: a.name,
        contact_limit: a.contact_limit,
        contact_count: a.contact_count,
        default_region: a.default_region,
        created_at: a.created_at,
        updated_at: a.updated_at,
        max_calls_per_day: a.max_calls_per_day,
        max_calls_per_week: a.max_calls_per_week,
        min_call_spacing_seconds: a.min_call_spacing_seconds,
    }
}

/// Inserts an account with id `id`, created at `now`, with the default frequency rules.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    id: String,
    new: NewAccount,
    now: i64,
) -> Result<Account> {
    let f = Frequency::default();
    let active: account::ActiveModel = account::Model {
        id,
        name: new.name,
        plan: new.plan.name().to_string(),
        contact_limit: new.plan.limit(),
        contact_count: 0,
        default_region: new.default_region.code().to_string(),
        created_at: now,
        updated_at: now,
        max_calls_per_day: f.per_day,
        max_calls_per_week: f.per_week,
        min_call_spacing_seconds: f.min_spacing_ms / 1000,
    }
    .into();
    Ok(decode(active.insert(db).await?))
}

/// Finds an account or NOT_FOUND.
pub async fn get<C: ConnectionTrait>(db: &C, id: &str) -> Result<Account> {
    account::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(decode)
        .ok_or_else(|| Error::not_found("account", id))
}

/// Writes the changed fields of account `id` (a plan, or a custom limit, sets both the
/// plan and the limit), updated at `now`.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    id: &str,
    changes: AccountChanges,
    now: i64,
) -> Result<Account> {
    let mut active = account::ActiveModel {
        id: Unchanged(id.to_string()),
        ..Default::default()
    };
    if let Some(name) = changes.name {
        active.name = Set(name);
    }
    if let Some(plan) = changes.plan.or(changes.custom_limit) {
        active.plan = Set(plan.name().to_string());
        active.contact_limit = Set(plan.limit());
    }
    if let Some(region) = changes.default_region {
        active.default_region = Set(region.code().to_string());
    }
    if let Some(f) = changes.frequency {
        active.max_calls_per_day = Set(f.per_day);
        active.max_calls_per_week = Set(f.per_week);
        active.min_call_spacing_seconds = Set(f.min_spacing_ms / 1000);
    }
    active.updated_at = Set(now);
    Ok(decode(active.update(db).await?))
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
