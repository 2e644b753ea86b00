//! An import batch's state: one enum from the database to the wire, stored by the explicit
//! values below (what `import_batches.status` has held since the first migration) and
//! converted to the proto's `ImportStatus` at the grpc edge only.

use crate::import::{ColumnMap, Counts};
use sea_orm::entity::prelude::*;

/// Where an import batch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum ImportStatus {
    /// Rows are still arriving (or its server died and no sweep has noticed yet).
    #[sea_orm(string_value = "running")]
    Running,
    /// Every row was read; the counts are final.
    #[sea_orm(string_value = "completed")]
    Completed,
    /// Stopped by an error (or its server died); the counts say what was committed.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// The client went away or its deadline passed.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_value())
    }
}

/// An import batch: what was imported from one file, its counts and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatch {
    pub id: String,
    pub account_id: String,
    pub client_request_id: Option<String>,
    pub status: ImportStatus,
    pub file_name: String,
    /// "" when the import added no campaign members.
    pub campaign_id: String,
    /// How the file's columns were mapped.
    pub mapping: Vec<ColumnMap>,
    pub delimiter: String,
    pub encoding: String,
    /// The file's header, in order.
    pub columns: Vec<String>,
    /// Committed counts (final once the batch has ended).
    pub counts: Counts,
    pub error_message: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
}

/// A batch about to start: running, with no counts yet.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    pub account_id: String,
    pub client_request_id: Option<String>,
    pub file_name: String,
    pub campaign_id: String,
    pub mapping: Vec<ColumnMap>,
    pub delimiter: String,
    pub encoding: String,
    pub columns: Vec<String>,
}

/// A rejected row an import batch kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub id: i64,
    pub batch_id: String,
    pub line: i64,
    /// The column the problem is in ("" for the whole row).
    pub column: String,
    pub raw_value: String,
    pub reason: String,
    /// Its kind's name (a [`crate::import::Rejection`]'s, as stored).
    pub kind: String,
    /// The row's cells as read.
    pub record: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    /// The stored values are the data already in `import_batches`: changing one needs a
    /// migration.
    #[test]
    fn stored_values_are_the_ones_in_the_database() {
        let stored: Vec<String> = ImportStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(stored, ["running", "completed", "failed", "cancelled"]);
    }
}
