//! A contact's phone extension: digits the dialer sends after the call connects
//! (`+1 212 736 5000 ext. 22` is stored as `+12127365000` and `22`). Empty for none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE contacts ADD COLUMN phone_extension TEXT NOT NULL DEFAULT ''",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE contacts DROP COLUMN phone_extension")
            .await?;
        Ok(())
    }
}
