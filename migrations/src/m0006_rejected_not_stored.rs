//! `import_batches.rejected_not_stored`: how many of a batch's rejected rows were counted
//! but not kept in `import_errors`.
//!
//! A batch keeps at most a fixed number of rejected rows (the service's
//! `MAX_STORED_REJECTED_ROWS`): one 20 MiB file of junk lines once wrote ten million
//! rows (2.5 GB) to `import_errors`. The counts on the batch stay exact; this column says
//! how many rejected rows the stored list lacks. Batches from before keep 0: they kept
//! every rejected row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE import_batches \
                 ADD COLUMN rejected_not_stored BIGINT NOT NULL DEFAULT 0",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE import_batches DROP COLUMN rejected_not_stored")
            .await?;
        Ok(())
    }
}
