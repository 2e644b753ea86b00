//! Room on campaign_members' pages for in-place updates (PostgreSQL).
//!
//! A membership row is rewritten on every claim (the lease), every call (attempts) and
//! every release. None of those columns is indexed, so PostgreSQL can update the row in
//! place without new index entries (a HOT update), but only when its page has free
//! space; a table filled by bulk inserts has none. A fill factor of 80 leaves a fifth of
//! each page free. Rows already stored keep their pages until they are rewritten. SQLite
//! has no fill factor: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE campaign_members SET (fillfactor = 80)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE campaign_members RESET (fillfactor)")
                .await?;
        }
        Ok(())
    }
}
