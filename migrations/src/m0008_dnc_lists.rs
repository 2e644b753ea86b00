//! Named DNC lists (`dnc_lists`), their entries with an optional expiry
//! (`dnc_list_entries`) and their imports (`dnc_list_imports`); see
//! `migrations/sql/0008_dnc_lists.sql`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, include_str!("../sql/0008_dnc_lists.sql")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for table in ["dnc_list_imports", "dnc_list_entries", "dnc_lists"] {
            conn.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}
