//! `import_batches.rejected_<kind>`: a batch's invalid rows counted by why they were
//! rejected (the service's `Rejection` kinds; `over_limit` already had its column).
//!
//! The counts are exact however many rejected rows the batch kept. Batches from before
//! are filled from the rows they kept in `import_errors`: exact where the batch kept them
//! all (`rejected_not_stored` = 0), a lower bound otherwise (the API reports the rest
//! with an unspecified kind).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The kinds counted in a column of their own, as `import_errors.kind` spells them.
const KINDS: [&str; 8] = [
    "invalid_phone",
    "missing_phone",
    "invalid_email",
    "invalid_country",
    "invalid_field",
    "ragged_row",
    "field_too_long",
    "malformed_csv",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for kind in KINDS {
            db.execute_unprepared(&format!(
                "ALTER TABLE import_batches \
                 ADD COLUMN rejected_{kind} BIGINT NOT NULL DEFAULT 0"
            ))
            .await?;
        }
        // One pass over the kept rows (by the batch index), not one per kind.
        let sums: Vec<String> = KINDS
            .iter()
            .map(|k| format!("SUM(CASE WHEN kind = '{k}' THEN 1 ELSE 0 END) AS {k}"))
            .collect();
        let sets: Vec<String> = KINDS
            .iter()
            .map(|k| format!("rejected_{k} = k.{k}"))
            .collect();
        db.execute_unprepared(&format!(
            "UPDATE import_batches SET {} \
             FROM (SELECT batch_id, {} FROM import_errors GROUP BY batch_id) AS k \
             WHERE k.batch_id = import_batches.id",
            sets.join(", "),
            sums.join(", ")
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for kind in KINDS {
            db.execute_unprepared(&format!(
                "ALTER TABLE import_batches DROP COLUMN rejected_{kind}"
            ))
            .await?;
        }
        Ok(())
    }
}
