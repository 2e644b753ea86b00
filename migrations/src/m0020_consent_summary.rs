//! `contacts.consent_express_until` and `contacts.consent_written_until`: a summary of a
//! contact's live consent records, kept by triggers on `consents`, so that a campaign
//! requiring consent reads a column of the row it already has instead of probing
//! `consents` once per member (issue #25: that probe, in the candidate read and again in
//! the lease statement, cost PostgreSQL ~25 µs per leased contact).
//!
//! Each column holds the latest expiry among the contact's unrevoked records of the kinds
//! a requirement accepts — `express` or `express_written` for the first, only
//! `express_written` for the second — with 9223372036854775807 (i64::MAX) for a record
//! without expiry, and NULL when there is none. A requirement is met at `now` exactly
//! when the column is greater than `now`: the same rule as `domain::consent::is_live` on
//! each record (not revoked, no expiry or one after `now`), so expiry needs no sweep.
//!
//! The triggers recompute the two columns of every contact whose records an `INSERT`,
//! `UPDATE` or `DELETE` on `consents` touched, in the same statement, whatever wrote it
//! (the API, an import, a revocation by a call, a hand-written SQL insert). PostgreSQL
//! runs them once per statement over its transition table (an import's 1,000-row insert
//! is one update); SQLite once per row. A record's `contact_id` never changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The two summaries of the `contacts` row being updated, as a `SET` list.
const SET: &str = "consent_express_until = (SELECT max(coalesce(k.expires_at, 9223372036854775807)) \
       FROM consents k WHERE k.contact_id = contacts.id AND k.revoked_at IS NULL \
       AND k.kind IN ('express', 'express_written')), \
     consent_written_until = (SELECT max(coalesce(k.expires_at, 9223372036854775807)) \
       FROM consents k WHERE k.contact_id = contacts.id AND k.revoked_at IS NULL \
       AND k.kind = 'express_written')";

fn up_statements(backend: DbBackend) -> Vec<String> {
    let mut out = vec![
        "ALTER TABLE contacts ADD COLUMN consent_express_until BIGINT".to_string(),
        "ALTER TABLE contacts ADD COLUMN consent_written_until BIGINT".to_string(),
        format!("UPDATE contacts SET {SET} WHERE id IN (SELECT contact_id FROM consents)"),
    ];
    match backend {
        DbBackend::Postgres => {
            out.push(format!(
                "CREATE FUNCTION consents_summarize() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   UPDATE contacts SET {SET} \
                   WHERE contacts.id IN (SELECT contact_id FROM changed_consents); \
                   RETURN NULL; \
                 END $$"
            ));
            // One event per trigger: PostgreSQL allows a transition table only so.
            for (event, table) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
                out.push(format!(
                    "CREATE TRIGGER consents_summarize_{e} AFTER {event} ON consents \
                     REFERENCING {table} TABLE AS changed_consents \
                     FOR EACH STATEMENT EXECUTE FUNCTION consents_summarize()",
                    e = event.to_lowercase()
                ));
            }
        }
        _ => {
            for (event, row) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
                out.push(format!(
                    "CREATE TRIGGER consents_summarize_{e} AFTER {event} ON consents \
                     BEGIN UPDATE contacts SET {SET} WHERE id = {row}.contact_id; END",
                    e = event.to_lowercase()
                ));
            }
        }
    }
    out
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for statement in up_statements(manager.get_database_backend()) {
            conn.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for e in ["insert", "update", "delete"] {
            let on = match manager.get_database_backend() {
                DbBackend::Postgres => " ON consents",
                _ => "",
            };
            conn.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS consents_summarize_{e}{on}"
            ))
            .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            conn.execute_unprepared("DROP FUNCTION IF EXISTS consents_summarize()")
                .await?;
        }
        for column in ["consent_express_until", "consent_written_until"] {
            conn.execute_unprepared(&format!("ALTER TABLE contacts DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
