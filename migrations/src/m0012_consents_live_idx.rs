//! `consents_live_idx` for campaigns requiring consent; see
//! `migrations/sql/0012_consents_live_idx.sql`. `consents_contact_idx` (m0009) keeps
//! serving the listing of a contact's records, newest first.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, include_str!("../sql/0012_consents_live_idx.sql")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, "DROP INDEX consents_live_idx;").await
    }
}
