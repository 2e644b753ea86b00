//! An import batch's state: one enum from the database to the wire, stored by the explicit
//! values below (what `import_batches.status` has held since the first migration) and
//! converted to the proto's `ImportStatus` at the grpc edge only.

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
