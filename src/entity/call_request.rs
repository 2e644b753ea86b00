//! The `call_requests` table.

use crate::domain::call::CallRequestStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub contact_id: i64,
    pub phone: String,
    pub requested_by: String,
    pub status: CallRequestStatus,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub done_at: Option<i64>,
    /// A person placed it outside the calling window on purpose (`requested_by`).
    pub window_override: bool,
    /// The calling hours the request was accepted under, in their stored form
    /// (`CallingRules::to_stored`); `None`: the default hours, or overridden.
    pub calling_rules: Option<String>,
    /// Digits to send once the call connects ("" when none).
    pub phone_extension: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
