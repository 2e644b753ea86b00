//! Upgrading a database in use: what migration 0005 (one lease per person) carries over.

use crate::helpers::{Backend, TestApp, TestDb, rules};
use contactd::pb::NotDialableReason as Reason;
use migration::MigratorTrait;
use sea_orm::ConnectionTrait;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_keeps_live_leases_and_counts_the_last_weeks_calls_sqlite() {
    an_upgrade_keeps_live_leases_and_counts_the_last_weeks_calls(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
)]
async fn an_upgrade_keeps_live_leases_and_counts_the_last_weeks_calls_postgres() {
    an_upgrade_keeps_live_leases_and_counts_the_last_weeks_calls(Backend::Postgres).await
}

/// A database at migration 0003 with a contact leased in two campaigns at once (what the
/// old schema allowed) and another called 30 minutes ago: after the upgrade the first is
/// held until the later lease ends, the second is spaced, and old calls are not counted.
async fn an_upgrade_keeps_live_leases_and_counts_the_last_weeks_calls(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    let conn = contactd::store::connect(&db.url, 1).await.unwrap();
    migration::Migrator::up(&conn, Some(3)).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let minute = 60_000;
    for sql in [
        format!(
            "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, \
             created_at, updated_at) VALUES ('acc', 'n', 'PROFESSIONAL', 1000, 2, 'US', {}, {})",
            now - 30 * 24 * 60 * minute,
            now
        ),
        format!(
            "INSERT INTO contacts (id, account_id, phone, phone_national, created_at, updated_at) \
             VALUES (1, 'acc', '+12125550101', '2125550101', {now}, {now}), \
                    (2, 'acc', '+12125550102', '2125550102', {now}, {now})"
        ),
        format!(
            "INSERT INTO campaign_members (account_id, campaign_id, contact_id, attempts, \
             lease_owner, lease_expires_at, added_at) VALUES \
             ('acc', 'A', 1, 0, 'd1', {}, {now}), ('acc', 'B', 1, 0, 'd2', {}, {now}), \
             ('acc', 'A', 2, 0, NULL, NULL, {now})",
            now + 5 * minute,
            now + 9 * minute
        ),
        format!(
            "INSERT INTO calls (account_id, external_id, contact_id, phone, direction, \
             started_at, outcome, created_at) VALUES \
             ('acc', 'recent', 2, '+12125550102', 'OUTBOUND', {}, 'NO_ANSWER', {now}), \
             ('acc', 'old', 2, '+12125550102', 'OUTBOUND', {}, 'NO_ANSWER', {now}), \
             ('acc', 'in', 2, '+12125550102', 'INBOUND', {}, 'ANSWERED', {now})",
            now - 30 * minute,
            now - 8 * 24 * 60 * minute,
            now - 10 * minute
        ),
    ] {
        conn.execute_unprepared(&sql).await.unwrap();
    }
    migration::Migrator::up(&conn, None).await.unwrap();
    conn.close().await.unwrap();

    let app = TestApp::spawn_on(db, Arc::new(contactd::domain::SystemClock)).await;
    let defaults = Some(crate::helpers::with_frequency(rules(
        0,
        1,
        crate::helpers::any_hour(),
    )));
    let held = app
        .check_dialable("acc", 1, "A", "d3", defaults.clone())
        .await;
    assert_eq!(held.reason, Reason::Leased as i32, "{}", held.detail);
    assert!(
        held.detail.contains(&(now + 9 * minute).to_string()),
        "{}",
        held.detail
    );
    let spaced = app.check_dialable("acc", 2, "A", "d3", defaults).await;
    assert_eq!(
        spaced.reason,
        Reason::CallSpacing as i32,
        "{}",
        spaced.detail
    );
    assert!(
        spaced.detail.contains(&(now - 30 * minute).to_string()),
        "the outbound call of 30 minutes ago, not the inbound one: {}",
        spaced.detail
    );
    // Only the last week's outbound calls count: the one of 30 minutes ago.
    let seeded = app
        .sql_i64(&format!(
            "SELECT count(*) FROM dial_state WHERE contact_id = 2 AND recent_dials = '{}'",
            now - 30 * minute
        ))
        .await;
    assert_eq!(seeded, Some(1));
    let account = app.get_account("acc").await;
    let f = account.frequency.unwrap();
    assert_eq!((f.max_calls_per_day, f.max_calls_per_week), (3, 7));
}
