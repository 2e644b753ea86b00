//! The `callbacks` table.

use crate::domain::callback::{CallbackStatus, CancelReason};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "callbacks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub campaign_id: String,
    pub contact_id: i64,
    /// The time asked for, Unix ms.
    pub requested_at: i64,
    /// The zone a local time was read in ("" for an instant).
    pub time_zone: String,
    /// The local time as given ("" for an instant).
    pub local_time: String,
    /// When a claim may next hand the person out, Unix ms.
    pub due_at: i64,
    pub status: CallbackStatus,
    pub cancel_reason: CancelReason,
    /// The call that asked for it.
    pub call_id: Option<i64>,
    /// The call that delivered or superseded it.
    pub settled_call_id: Option<i64>,
    pub created_at: i64,
    pub settled_at: Option<i64>,
    /// The end of the lease it is out on, Unix ms (0: none).
    pub held_until: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
