//! The `dial_state` table: per contact, the one live lease and the recent dials.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dial_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub contact_id: i64,
    pub account_id: String,
    pub lease_owner: Option<String>,
    /// The campaign the lease is for ("" for a Call Now request).
    pub lease_campaign: Option<String>,
    pub lease_started_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    /// Start times of the person's recent dials, Unix ms, newest first, comma-separated.
    pub recent_dials: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
