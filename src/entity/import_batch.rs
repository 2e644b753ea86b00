//! The `import_batches` table.

use crate::domain::batch::ImportStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_batches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub client_request_id: Option<String>,
    pub status: ImportStatus,
    pub file_name: String,
    pub campaign_id: String,
    pub mapping: String,
    pub delimiter: String,
    pub encoding: String,
    pub header: String,
    pub rows_read: i64,
    pub imported: i64,
    pub updated: i64,
    pub duplicates_in_file: i64,
    pub duplicates_existing: i64,
    pub invalid: i64,
    pub over_limit: i64,
    pub dnc: i64,
    pub dnc_excluded: i64,
    pub added_to_campaign: i64,
    pub rejected_not_stored: i64,
    pub error_message: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
