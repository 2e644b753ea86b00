//! `call_requests.phone_extension`: the digits a telephony worker sends after a Call Now
//! call connects, taken from the contact with its number when the request is made.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(
            manager,
            "ALTER TABLE call_requests ADD COLUMN phone_extension TEXT NOT NULL DEFAULT '';",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(
            manager,
            "ALTER TABLE call_requests DROP COLUMN phone_extension;",
        )
        .await
    }
}
