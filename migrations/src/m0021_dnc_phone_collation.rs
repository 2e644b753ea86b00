//! PostgreSQL: the DNC tables' `phone` columns take `contacts.phone`'s collation (`"C"`,
//! the `{KEY}` text of m0001), so that a probe `dnc_entries.phone = contacts.phone` can use
//! their primary keys.
//!
//! `contacts.phone` was created `COLLATE "C"` and the two DNC tables' `phone` with the
//! database's default. A comparison of two columns of different collations has none, and
//! an index serves only a comparison in its own collation: every query that joins
//! contacts to the account's DNC list by number — the dialer's candidate read and its
//! lease statement, PreviewDialable's member facts — could use the key's `account_id`
//! only, and either read all the account's entries per contact or hashed the whole list
//! once per statement. Invisible with an empty list (the claims benchmark's); with a list
//! of 25,000 numbers (20,000 named-list entries, 5,000 account entries, none of them the
//! campaign's), the candidate read of 108 members cost PostgreSQL 29.5 ms instead of
//! 0.43 and the lease of 100 8–11 ms instead of 2.2 (psql, `bench/psql`); with this
//! migration 1.1 and 3.0 ms. A comparison with a parameter was never affected (it takes
//! the column's collation).
//!
//! Numbers are E.164 (ASCII), so no comparison or order changes. The tables' keys are
//! rebuilt under an exclusive lock, in time proportional to the lists' size (claims and
//! DNC writes wait for it). SQLite compares text bytewise everywhere: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose `phone` is compared with `contacts.phone`.
const TABLES: [&str; 2] = ["dnc_entries", "dnc_list_entries"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_collation(manager, "\"C\"").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_collation(manager, "\"default\"").await
    }
}

async fn set_collation(manager: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in TABLES {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ALTER COLUMN phone TYPE TEXT COLLATE {collation}"
            ))
            .await?;
    }
    Ok(())
}
