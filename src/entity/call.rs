//! The `calls` table.

use crate::domain::call::{CallDirection, CallOutcome, Sentiment};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub external_id: String,
    pub contact_id: Option<i64>,
    pub phone: String,
    pub direction: CallDirection,
    pub campaign_id: String,
    pub started_at: i64,
    pub duration_seconds: i64,
    pub outcome: CallOutcome,
    pub sentiment: Sentiment,
    pub recording_url: String,
    pub transcript: String,
    pub transcript_url: String,
    pub dnc_requested: bool,
    pub dialer_id: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
