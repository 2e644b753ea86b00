//! Counts read for metrics at scrape time.

use crate::entity::campaign_member;
use crate::error::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Dialer leases that have not expired at `now`.
pub async fn live_leases<C: ConnectionTrait>(db: &C, now: i64) -> Result<u64> {
    Ok(campaign_member::Entity::find()
        .filter(campaign_member::Column::LeaseExpiresAt.gt(now))
        .count(db)
        .await?)
}
