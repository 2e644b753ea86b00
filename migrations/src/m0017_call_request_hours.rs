//! `call_requests.calling_rules`: the calling hours a Call Now request was accepted under.
//!
//! A Call Now request may carry the campaign's calling hours (windows by day of the
//! week, excluded dates, overrides by region). A telephony worker claims the request
//! later, and the claim cancels it if the hours have closed since: for that the hours
//! are kept with the request (their stored text form, see the service's
//! `domain::calling_hours`). NULL: the default hours (08:00–21:00 every day), as for
//! every request from before, or a person's override (`window_override`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE call_requests ADD COLUMN calling_rules TEXT")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE call_requests DROP COLUMN calling_rules")
            .await?;
        Ok(())
    }
}
