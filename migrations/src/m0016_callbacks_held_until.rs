//! `callbacks.held_until`: the end of the lease a callback is out on; see
//! `migrations/sql/0016_callbacks_held_until.sql`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(
            manager,
            include_str!("../sql/0016_callbacks_held_until.sql"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, "ALTER TABLE callbacks DROP COLUMN held_until;").await
    }
}
