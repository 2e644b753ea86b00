//! `dial_state`'s lease index goes: every lease now updates its row in place.
//!
//! `dial_state_lease_idx (account_id, lease_owner, lease_campaign)` served one query, a
//! dialer giving back every lease it holds in a campaign. But a claim changes
//! `lease_owner` and `lease_campaign` whenever a person passes from one dialer to
//! another, and on PostgreSQL an update that changes an indexed column cannot be HOT: it
//! writes a new entry into every index of the table, and the dead ones bloat it. Measured
//! on the lease statement alone (psql, backend CPU over 400 claims of 100 people who
//! already have a row, each claim by one of four dialers at random, runs alternated):
//! 29.5–33.0 µs per leased person with the index, 23.2–24.5 without. (A person's first
//! lease inserts the row and pays for one index entry either way.)
//!
//! `dial_state_account_idx (account_id)` takes its place: no claim changes it, and a
//! give-back of everything (rare: a dialer restarting) reads the account's rows and
//! filters them, a few milliseconds for 50,000 people.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared("CREATE INDEX dial_state_account_idx ON dial_state (account_id)")
            .await?;
        conn.execute_unprepared("DROP INDEX dial_state_lease_idx")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared(
            "CREATE INDEX dial_state_lease_idx ON dial_state (account_id, lease_owner, lease_campaign)",
        )
        .await?;
        conn.execute_unprepared("DROP INDEX dial_state_account_idx")
            .await?;
        Ok(())
    }
}
