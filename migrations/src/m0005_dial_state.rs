//! One lease per person across campaigns, and account-wide call frequency rules.
//!
//! `dial_state` holds, per contact, the one live lease (whichever campaign or Call Now
//! it is for) and the start times of the person's recent dials. Leases held per campaign
//! member until now move over (the latest per contact); the recent dials are seeded from
//! the outbound calls of the last seven days, so the frequency rules count what happened
//! before the upgrade too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// How far back the frequency rules look (the weekly limit's window).
const WEEK_MS: i64 = 7 * 86_400_000;
/// Dials kept per person (the most a weekly limit may be).
const KEPT: usize = 50;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_sql(manager, include_str!("../sql/0005_dial_state.sql")).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // Every claim rewrites its leased rows: room on the page keeps those updates HOT.
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE dial_state SET (fillfactor = 50)")
                .await?;
        }
        seed_recent_dials(manager).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "0005 (dial_state) cannot be undone: the per-campaign lease columns are gone".into(),
        ))
    }
}

async fn seed_recent_dials(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    // Numbered placeholders are PostgreSQL's; SQLite takes `?`.
    let sql = |text: &str| match backend {
        DbBackend::Postgres => text.to_string(),
        _ => text
            .replace("$1", "?")
            .replace("$2", "?")
            .replace("$3", "?"),
    };
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql("SELECT contact_id, account_id, started_at FROM calls \
                 WHERE direction = 'OUTBOUND' AND contact_id IS NOT NULL AND started_at > $1 \
                 ORDER BY contact_id, started_at DESC"),
            [(now - WEEK_MS).into()],
        ))
        .await?;
    let mut current: Option<(i64, String, Vec<i64>)> = None;
    let mut seeded = Vec::new();
    for row in rows {
        let id: i64 = row.try_get("", "contact_id")?;
        let account: String = row.try_get("", "account_id")?;
        let at: i64 = row.try_get("", "started_at")?;
        match &mut current {
            Some((c, _, dials)) if *c == id => {
                if dials.len() < KEPT {
                    dials.push(at)
                }
            }
            _ => {
                seeded.extend(current.take());
                current = Some((id, account, vec![at]));
            }
        }
    }
    seeded.extend(current);
    for (id, account, dials) in seeded {
        let text = dials
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                "INSERT INTO dial_state (contact_id, account_id, recent_dials) VALUES ($1, $2, $3) \
                 ON CONFLICT (contact_id) DO UPDATE SET recent_dials = excluded.recent_dials",
            ),
            [id.into(), account.into(), text.into()],
        ))
        .await?;
    }
    Ok(())
}
