//! The `import_batches` table.

use crate::domain::batch::ImportStatus;
use crate::import::rejection::{ByKind, Rejection};
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
    /// `invalid` by kind ([`Rejection`]); `over_limit` is the one kind of its own.
    pub rejected_invalid_phone: i64,
    pub rejected_missing_phone: i64,
    pub rejected_invalid_email: i64,
    pub rejected_invalid_country: i64,
    pub rejected_invalid_field: i64,
    pub rejected_ragged_row: i64,
    pub rejected_field_too_long: i64,
    pub rejected_malformed_csv: i64,
    pub error_message: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The column counting the batch's rejected rows of `kind`.
pub fn rejected_column(kind: Rejection) -> Column {
    match kind {
        Rejection::InvalidPhone => Column::RejectedInvalidPhone,
        Rejection::MissingPhone => Column::RejectedMissingPhone,
        Rejection::InvalidEmail => Column::RejectedInvalidEmail,
        Rejection::InvalidCountry => Column::RejectedInvalidCountry,
        Rejection::InvalidField => Column::RejectedInvalidField,
        Rejection::RaggedRow => Column::RejectedRaggedRow,
        Rejection::FieldTooLong => Column::RejectedFieldTooLong,
        Rejection::MalformedCsv => Column::RejectedMalformedCsv,
        Rejection::OverLimit => Column::OverLimit,
    }
}

impl Model {
    /// The batch's rejected rows by kind.
    pub fn rejected_by_kind(&self) -> ByKind {
        Rejection::ALL.map(|kind| match kind {
            Rejection::InvalidPhone => self.rejected_invalid_phone,
            Rejection::MissingPhone => self.rejected_missing_phone,
            Rejection::InvalidEmail => self.rejected_invalid_email,
            Rejection::InvalidCountry => self.rejected_invalid_country,
            Rejection::InvalidField => self.rejected_invalid_field,
            Rejection::RaggedRow => self.rejected_ragged_row,
            Rejection::FieldTooLong => self.rejected_field_too_long,
            Rejection::MalformedCsv => self.rejected_malformed_csv,
            Rejection::OverLimit => self.over_limit,
        })
    }
}
