//! The per-account Do-Not-Call list, kept by normalized number.

use crate::entity::dnc_entry;
use crate::error::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// The DNC entry for a number, if it is on the account's list.
pub async fn entry<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
) -> Result<Option<dnc_entry::Model>> {
    Ok(dnc_entry::Entity::find()
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.eq(phone))
        .one(db)
        .await?)
}
