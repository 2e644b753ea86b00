//! Counts read for metrics at scrape time.

use crate::entity::dial_state;
use crate::error::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Dialer leases that have not expired at `now`.
pub async fn live_leases<C: ConnectionTrait>(db: &C, now: i64) -> Result<u64> {
    Ok(dial_state::Entity::find()
        .filter(dial_state::Column::LeaseExpiresAt.gt(now))
        .count(db)
        .await?)
}
