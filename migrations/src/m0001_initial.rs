//! The initial schema: accounts, contacts, campaign membership, DNC list and history,
//! import batches and their rejected rows, calls, call requests and API keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, include_str!("../sql/0001_initial.sql")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for table in [
            "api_keys",
            "call_requests",
            "calls",
            "import_errors",
            "dnc_events",
            "dnc_entries",
            "campaign_members",
            "contacts",
            "import_batches",
            "accounts",
        ] {
            conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}
