//! Dialer claims over a 50,000-member campaign.
//!
//! - **Open loop**, what a dialer fleet does: 4 dialers sending 50 claims/s each (200/s
//!   in all) of 25 contacts for 30 s, on schedule whether or not earlier claims have
//!   answered; latency is measured from each claim's scheduled time, so a slow server
//!   cannot hide its queue. Leases last 2 s and nobody calls, so members come back.
//! - **Closed loop**, 4 dialers claiming batches of 100 back to back until the campaign
//!   is drained: the CPU time per leased contact (server + PostgreSQL) and p50/p99; apart
//!   from them the worst claim of a warm-up on another campaign (the server's first
//!   claims open pool connections), the last claims that found the campaign drained, and
//!   the latency floor: one dialer claiming alone from a third campaign. Fails the run if
//!   any contact is handed out twice or any member is never handed out.
//! - **Drains of people who already have a lease history**: with a consent requirement
//!   and due callbacks against plain ones (issue #25), and one with a DNC list of a real
//!   account's size (25,000 numbers, none a member) against the plain ones — the others
//!   run with both DNC tables empty.
//!
//! The same people are members of every campaign and a person has one lease at a time, so
//! each phase gives its leases back before the next; the account-wide frequency rules are
//! overridden (every dial allowed) — their cost is measured, not their effect.

use crate::harness::{Backend, BenchDb, Latencies, Report, Row, Server, Target, postgres_cpu};
use contactd::domain::timezone::Window;
use contactd::domain::{NewContact, Phone};
use contactd::pb;
use contactd::store::contacts::new_row;
use sea_orm::{EntityTrait, TransactionTrait};
use std::collections::HashSet;
use std::time::Instant;

/// The benchmark's account.
const ACCOUNT: &str = "bench_claims";

pub async fn run(
    report: &mut Report,
    backend: Backend,
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let (members, dialers, batch) = if quick {
        (2_000usize, 4usize, 100i32)
    } else {
        (50_000, 4, 100)
    };
    println!(
        "claims suite on {}: {members} members, {dialers} dialers, batches of {batch}…",
        backend.name()
    );
    let account = ACCOUNT;
    let db = BenchDb::with_account(backend, pg_url, account, members).await?;
    seed(&db.url, account, members).await?;
    let server = Server::start(&db.url)?;
    let mut client = server.client().await?;
    // "bench" is measured; "warmup" (the same contacts) is claimed from first, so the
    // measured claims run on open pool connections whose statements are prepared; "solo"
    // is claimed from last by one dialer alone.
    for campaign in [
        "bench", "warmup", "solo", "consent", "again", "consent2", "again2", "listed",
    ] {
        let added = client
            .add_to_campaign(pb::AddToCampaignRequest {
                account_id: account.into(),
                campaign_id: campaign.into(),
                selection: Some(pb::ContactSelection {
                    selection: Some(pb::contact_selection::Selection::Filter(
                        pb::ContactFilter::default(),
                    )),
                }),
            })
            .await?
            .into_inner()
            .result
            .map_or(0, |r| r.changed);
        anyhow::ensure!(
            added as usize == members,
            "added {added} of {members} members to {campaign}"
        );
    }
    // What autovacuum does within a minute of a bulk load.
    let conn = contactd::store::connect(&db.url, 1).await?;
    sea_orm::ConnectionTrait::execute_unprepared(&conn, "ANALYZE").await?;
    conn.close().await.ok();

    // Warm-up: every dialer claims a few batches from "warmup" at once.
    let warm = run_dialers(&server, dialers, "warmup", batch, Some(WARMUP_CLAIMS)).await?;
    release_all(&server, dialers, "warmup").await?;
    let warmup_worst = warm
        .into_iter()
        .fold(Latencies::default(), |mut all, (lat, _, _)| {
            all.extend(lat);
            all
        })
        .quantile_ms(1.0);
    let pg_name = db.pg_name().unwrap_or("");
    let (server_cpu, pg_cpu) = (server.cpu(), postgres_cpu(pg_name));
    let tasks = run_dialers(&server, dialers, "bench", batch, None).await?;
    // Saturating: a process that exits between the two readings takes its CPU time out
    // of the sum (the figure is then low, never a panic).
    let (server_cpu, pg_cpu) = (
        server.cpu().saturating_sub(server_cpu),
        postgres_cpu(pg_name).saturating_sub(pg_cpu),
    );
    // What each dialer's last claim (the one that found the campaign drained) cost:
    // one such claim at a time, the mean of ten.
    let drained_claim = drained_claim_cpu(&server, pg_name, "bench", batch).await?;
    // The host's speed, read the same way in the same run: this host's runs of one build
    // spread over 1.6× between days, so the figure alone does not tell a change in the
    // claim from one in the host.
    let drain_ids: Vec<i64> = tasks
        .iter()
        .flat_map(|(_, _, got)| got.iter().copied())
        .collect();
    let bare = bare_update_cpu(&db.url, pg_name, &drain_ids, batch as usize).await?;
    release_all(&server, dialers, "bench").await?;
    // The same drain with a consent requirement (every contact holds a live written
    // consent) and callbacks (one member in 100 asked to be called back, all due when the
    // drain starts), against a second plain drain: both lease people who already have a
    // `dial_state` row, unlike the first drain above.
    seed_consents(&db.url, account).await?;
    let ids = drain_ids;
    // Different people for each campaign's callbacks: a person's call in one campaign
    // cancels the callback it asked for in another.
    let mut callbacks = 0;
    for (campaign, from) in [("consent", 0), ("consent2", 50)] {
        callbacks = schedule_callbacks(&server, &ids[from.min(ids.len())..], campaign).await?;
    }
    // Alternated (with, without, with, without) and the least of each kept: a drain's
    // figure moves by a fifth from run to run (autovacuum of the tables the drains
    // update, WAL writing) and one pair alone compared the noise as often as the rule.
    let mut per_contact = [f64::MAX; 2];
    for (campaign, consent, i) in [
        ("consent", pb::ConsentRequirement::ExpressWritten, 0),
        ("again", pb::ConsentRequirement::Unspecified, 1),
        ("consent2", pb::ConsentRequirement::ExpressWritten, 0),
        ("again2", pb::ConsentRequirement::Unspecified, 1),
    ] {
        let (s0, p0) = (server.cpu(), postgres_cpu(pg_name));
        let got = run_dialers_requiring(&server, dialers, campaign, batch, None, consent).await?;
        let cpu = server.cpu().saturating_sub(s0) + postgres_cpu(pg_name).saturating_sub(p0);
        let leased: usize = got.iter().map(|(_, _, ids)| ids.len()).sum();
        anyhow::ensure!(
            leased == members,
            "{campaign}: {leased} of {members} members were handed out"
        );
        release_all(&server, dialers, campaign).await?;
        per_contact[i] = per_contact[i].min(cpu.as_secs_f64() * 1e6 / leased as f64);
    }
    // The same drain with a DNC list of a real account's size, none of it the campaign's
    // numbers (the other drains run with both DNC tables empty): every candidate and every
    // lease probes both tables by number. Taken out again before the phases below.
    set_dnc_list(&db.url, account, true).await?;
    let (s0, p0) = (server.cpu(), postgres_cpu(pg_name));
    let got = run_dialers(&server, dialers, "listed", batch, None).await?;
    let cpu = server.cpu().saturating_sub(s0) + postgres_cpu(pg_name).saturating_sub(p0);
    let leased: usize = got.iter().map(|(_, _, ids)| ids.len()).sum();
    anyhow::ensure!(
        leased == members,
        "listed: {leased} of {members} members were handed out"
    );
    release_all(&server, dialers, "listed").await?;
    set_dnc_list(&db.url, account, false).await?;
    report.add(Row {
        figure: format!(
            "CPU time per leased contact with a DNC list of {} numbers ({DNC_LISTED} on a named list, {DNC_MANUAL} on the account's own; none a member), against the plain drain above ({})",
            DNC_LISTED + DNC_MANUAL,
            backend.name()
        ),
        value: cpu.as_secs_f64() * 1e6 / leased as f64,
        unit: "µs",
        reference: Some((
            format!("{:.1} µs with both DNC tables empty", per_contact[1]),
            per_contact[1],
        )),
        ratio_target: Target::None,
        target: Target::None,
    });
    report.add(Row {
        figure: format!(
            "CPU time per leased contact with require_consent (every contact consenting) and {callbacks} due callbacks, against the same drain with neither, least of two alternated drains each ({})",
            backend.name()
        ),
        value: per_contact[0],
        unit: "µs",
        reference: Some((
            format!("{:.1} µs without require_consent", per_contact[1]),
            per_contact[1],
        )),
        ratio_target: Target::AtMost(1.2),
        target: Target::None,
    });
    let mut solo = run_dialers(&server, 1, "solo", batch, Some(SOLO_CLAIMS))
        .await?
        .into_iter()
        .fold(Latencies::default(), |mut all, (lat, _, _)| {
            all.extend(lat);
            all
        });
    let mut all = Latencies::default();
    let mut drained = Latencies::default();
    let mut seen = HashSet::new();
    let mut twice = 0;
    for (lat, empty, got) in tasks {
        all.extend(lat);
        drained.extend(empty);
        for id in got {
            if !seen.insert(id) {
                twice += 1;
            }
        }
    }
    let claims = (all.len() + drained.len()).max(1) as f64;
    let leased = seen.len().max(1) as f64;
    report.add(Row {
        figure: format!(
            "CPU time per leased contact, server + {} ({dialers} dialers × {batch}, {})",
            if backend == Backend::Postgres {
                "PostgreSQL"
            } else {
                "nothing (SQLite is in the server)"
            },
            backend.name()
        ),
        value: (server_cpu + pg_cpu).as_secs_f64() * 1e6 / leased,
        unit: "µs",
        reference: bare.map(|b| {
            (
                format!("{b:.2} µs per row of a bare UPDATE (host reference, below)"),
                b,
            )
        }),
        ratio_target: Target::None,
        target: if backend == Backend::Postgres {
            Target::AtMost(24.0)
        } else {
            Target::None
        },
    });
    report.add(Row {
        figure: format!(
            "CPU time of one claim of the drained campaign (every member leased, all read), server + {}, alone, mean of ten ({})",
            if backend == Backend::Postgres { "PostgreSQL" } else { "nothing" },
            backend.name()
        ),
        value: drained_claim.as_secs_f64() * 1000.0,
        unit: "ms",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    report.add(Row {
        figure: format!(
            "CPU time per leased contact without the {dialers} dialers' final claims (each finding the campaign drained), estimated with the figure above ({})",
            backend.name()
        ),
        value: (server_cpu + pg_cpu)
            .saturating_sub(drained_claim * dialers as u32)
            .as_secs_f64()
            * 1e6
            / leased,
        unit: "µs",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    if let Some(bare) = bare {
        report.add(Row {
            figure: format!(
                "host reference: PostgreSQL's CPU time per row of a bare `UPDATE dial_state … WHERE contact_id = ANY(…)`, {batch} rows a statement, {BARE_STATEMENTS} statements on one connection ({})",
                backend.name()
            ),
            value: bare,
            unit: "µs",
            reference: None,
            ratio_target: Target::None,
            target: Target::None,
        });
    }
    let mut cpu = vec![("the server's", server_cpu)];
    if backend == Backend::Postgres {
        cpu.push(("PostgreSQL's", pg_cpu));
    }
    for (whose, cpu) in cpu {
        report.add(Row {
            figure: format!(
                "{whose} CPU time per claim, measured claims ({})",
                backend.name()
            ),
            value: cpu.as_secs_f64() * 1000.0 / claims,
            unit: "ms",
            reference: None,
            ratio_target: Target::None,
            target: Target::None,
        });
    }
    anyhow::ensure!(twice == 0, "{twice} contacts were handed out twice");
    anyhow::ensure!(
        seen.len() == members,
        "{} of {members} members were handed out",
        seen.len()
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        report.add(Row {
            figure: format!("claim {name}, closed loop, {dialers} dialers × {batch}, {members} members ({}), claims that leased contacts, 0 handed out twice", backend.name()),
            value: all.quantile_ms(q),
            unit: "ms",
            reference: None,
            ratio_target: Target::None,
            target: Target::None,
        });
    }
    release_all(&server, 1, "solo").await?;
    let seconds = if quick { 5 } else { 30 };
    let (mut open, leased) = open_loop(&server, dialers, OPEN_RATE, OPEN_BATCH, seconds).await?;
    for (name, q, target) in [
        ("p50", 0.5, Target::None),
        ("p99", 0.99, Target::AtMost(10.0)),
    ] {
        report.add(Row {
            figure: format!(
                "claim {name}, open loop: {dialers} dialers × {OPEN_RATE}/s × {OPEN_BATCH} contacts for {seconds} s, {members} members ({}), from the scheduled time; {leased} leased",
                backend.name()
            ),
            value: open.quantile_ms(q),
            unit: "ms",
            reference: None,
            ratio_target: Target::None,
            target,
        });
    }
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        report.add(Row {
            figure: format!(
                "claim {name}, 1 dialer alone × {batch}, {} claims on another campaign ({}): the floor without contention",
                solo.len(),
                backend.name()
            ),
            value: solo.quantile_ms(q),
            unit: "ms",
            reference: None,
            ratio_target: Target::None,
            target: Target::None,
        });
    }
    report.add(Row {
        figure: format!(
            "claim during the warm-up ({dialers} dialers × {WARMUP_CLAIMS} on another campaign, new pool connections), worst ({})",
            backend.name()
        ),
        value: warmup_worst,
        unit: "ms",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    // Each dialer's last claim finds the campaign drained: every member leased.
    report.add(Row {
        figure: format!(
            "claim of a drained campaign (every member leased), worst of {dialers} ({})",
            backend.name()
        ),
        value: drained.quantile_ms(1.0),
        unit: "ms",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    drop(server);
    db.drop_db().await;
    Ok(())
}

/// Inserts `n` contacts straight through the store's row builder (the API path is not
/// what is measured here), 1,000 per statement.
pub async fn seed(url: &str, account: &str, n: usize) -> anyhow::Result<()> {
    let db = contactd::store::connect(url, 2).await?;
    let now = chrono::Utc::now().timestamp_millis();
    for start in (0..n).step_by(1000) {
        let rows = (start..(start + 1000).min(n)).map(|i| {
            let national = format!("212{:07}", 2_000_000 + i);
            let phone = Phone::from_stored(format!("+1{national}"), national, 1);
            let c = NewContact {
                phone_extension: String::new(),
                phone,
                first_name: format!("C{i}"),
                last_name: String::new(),
                email: None,
                company: String::new(),
                title: String::new(),
                custom_fields: Default::default(),
                time_zone: String::new(),
            };
            contactd::entity::contact::ActiveModel::from(new_row(account, &c, None, None, now))
        });
        let txn = db.begin().await?;
        contactd::entity::contact::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    contactd::entity::account::Entity::update_many()
        .col_expr(
            contactd::entity::account::Column::ContactCount,
            sea_orm::sea_query::Expr::value(n as i64),
        )
        .exec(&db)
        .await?;
    Ok(())
}

/// The DNC list of [`run`]'s "listed" drain: numbers on a named list.
const DNC_LISTED: usize = 20_000;
/// … and on the account's own list.
const DNC_MANUAL: usize = 5_000;

/// Puts the "listed" drain's DNC list in place (`on`), or takes it out, straight in SQL
/// (the list import is not what is measured), then does what autovacuum would do next.
/// The numbers (+1213… and +1214…) are none of the seeded contacts' (+1212…).
async fn set_dnc_list(url: &str, account: &str, on: bool) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = contactd::store::connect(url, 1).await?;
    let numbers = |n: usize| {
        format!("WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})")
    };
    let statements = if on {
        vec![
            format!(
                "INSERT INTO dnc_lists (account_id, name, source, description, created_at, updated_at) \
                 VALUES ('{account}', 'bench', '', '', 0, 0)"
            ),
            format!(
                "{} INSERT INTO dnc_list_entries (account_id, phone, list_id, expires_at, import_id, created_at) \
                 SELECT '{account}', '+1213' || (1000000 + i), \
                   (SELECT id FROM dnc_lists WHERE account_id = '{account}' AND name = 'bench'), NULL, 0, 0 \
                 FROM g",
                numbers(DNC_LISTED)
            ),
            format!(
                "{} INSERT INTO dnc_entries (account_id, phone, source, reason, actor, created_at) \
                 SELECT '{account}', '+1214' || (1000000 + i), 'manual', '', '', 0 FROM g",
                numbers(DNC_MANUAL)
            ),
        ]
    } else {
        vec![
            format!("DELETE FROM dnc_entries WHERE account_id = '{account}'"),
            format!("DELETE FROM dnc_lists WHERE account_id = '{account}' AND name = 'bench'"),
            format!("DELETE FROM dnc_list_entries WHERE account_id = '{account}'"),
        ]
    };
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    // Taken out: vacuumed too on PostgreSQL, or the phases after it would scan the dead
    // rows of tables the statistics call empty (the open loop's p99 was 1.7–3.6 s in
    // three of five runs that only analyzed them, 15–17 ms in the other two).
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    db.execute_unprepared(if postgres && !on {
        "VACUUM ANALYZE dnc_entries, dnc_list_entries, dnc_lists"
    } else {
        "ANALYZE"
    })
    .await?;
    db.close().await.ok();
    Ok(())
}

/// Every 100th of `ids` asks, on a call recorded now, to be called back in `campaign`
/// a second later; returns once every callback is due, with how many there are.
async fn schedule_callbacks(server: &Server, ids: &[i64], campaign: &str) -> anyhow::Result<usize> {
    let mut client = server.client().await?;
    let mut last_due = std::time::SystemTime::now();
    let mut scheduled = 0;
    for (i, &id) in ids.iter().step_by(100).enumerate() {
        let now = std::time::SystemTime::now();
        last_due = now + std::time::Duration::from_secs(1);
        let response = client
            .record_call(pb::RecordCallRequest {
                account_id: ACCOUNT.into(),
                call: Some(pb::Call {
                    external_id: format!("bench-callback-{campaign}-{i}"),
                    contact_id: id,
                    direction: pb::CallDirection::Outbound as i32,
                    campaign_id: campaign.into(),
                    start_time: Some(now.into()),
                    duration_seconds: 30,
                    outcome: pb::CallOutcome::CallbackRequested as i32,
                    dialer_id: "bench-agent".into(),
                    ..Default::default()
                }),
                callback: Some(pb::CallbackTime {
                    time: Some(pb::callback_time::Time::CallbackTime(last_due.into())),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner();
        anyhow::ensure!(
            response.callback.is_some(),
            "no callback scheduled for {id}"
        );
        scheduled += 1;
    }
    if let Ok(wait) = last_due.duration_since(std::time::SystemTime::now()) {
        tokio::time::sleep(wait + std::time::Duration::from_millis(100)).await;
    }
    Ok(scheduled)
}

/// A live written consent for every contact of the account.
async fn seed_consents(url: &str, account: &str) -> anyhow::Result<()> {
    let db = contactd::store::connect(url, 1).await?;
    let now = chrono::Utc::now().timestamp_millis();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        &format!(
            "INSERT INTO consents (account_id, contact_id, kind, channel, source, captured_at, created_at) \
             SELECT account_id, id, 'express_written', 'web', 'bench', {now}, {now} FROM contacts \
             WHERE account_id = '{account}'"
        ),
    )
    .await?;
    // What autovacuum does within a minute of the insert (PostgreSQL 13 and later vacuum
    // insert-only tables too): statistics and the visibility map of the consents, and
    // the contacts' old row versions (the insert's trigger rewrote each contact's
    // consent summary, m0020).
    let settle = match sea_orm::ConnectionTrait::get_database_backend(&db) {
        sea_orm::DbBackend::Postgres => "VACUUM (ANALYZE) consents, contacts",
        _ => "ANALYZE",
    };
    sea_orm::ConnectionTrait::execute_unprepared(&db, settle).await?;
    db.close().await.ok();
    Ok(())
}

/// Open loop: claims per second of each dialer, and contacts per claim.
const OPEN_RATE: u32 = 50;
const OPEN_BATCH: i32 = 25;

/// Every lease `dialer-0..dialers` holds in `campaign`, given back.
async fn release_all(server: &Server, dialers: usize, campaign: &str) -> anyhow::Result<()> {
    let mut client = server.client().await?;
    for d in 0..dialers {
        client
            .release_leases(pb::ReleaseLeasesRequest {
                account_id: ACCOUNT.into(),
                campaign_id: campaign.into(),
                dialer_id: format!("dialer-{d}"),
                ..Default::default()
            })
            .await?;
    }
    Ok(())
}

/// The CPU time (server + PostgreSQL) of one claim of a drained `campaign` by a dialer
/// alone, the mean of ten in a row (`/proc` counts CPU time in 10 ms ticks): each reads
/// every member and leases none.
async fn drained_claim_cpu(
    server: &Server,
    pg_name: &str,
    campaign: &str,
    batch: i32,
) -> anyhow::Result<std::time::Duration> {
    let mut client = server.client().await?;
    const CLAIMS: u32 = 10;
    let (s0, p0) = (server.cpu(), postgres_cpu(pg_name));
    for _ in 0..CLAIMS {
        let got = client
            .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                account_id: ACCOUNT.into(),
                campaign_id: campaign.into(),
                dialer_id: "drained".into(),
                max_contacts: batch,
                lease_seconds: 3600,
                rules: Some(rules(pb::ConsentRequirement::Unspecified)),
            })
            .await?
            .into_inner()
            .contacts;
        anyhow::ensure!(got.is_empty(), "{campaign} is not drained");
    }
    let cpu = server.cpu().saturating_sub(s0) + postgres_cpu(pg_name).saturating_sub(p0);
    Ok(cpu / CLAIMS)
}

/// Statements of the host reference.
const BARE_STATEMENTS: usize = 1000;

/// The host reference (PostgreSQL only; `None` on SQLite): PostgreSQL's CPU time per row
/// of `BARE_STATEMENTS` autocommitted `UPDATE`s of `batch` people's `dial_state` rows by
/// id (each row rewritten as it is, in place; the drain's 50,000 people twice over), on
/// one connection — about the least a lease of those people could cost the database,
/// read from `/proc` like the claims' figure (in 10 ms ticks: ~300 ms in all here).
async fn bare_update_cpu(
    url: &str,
    pg_name: &str,
    ids: &[i64],
    batch: usize,
) -> anyhow::Result<Option<f64>> {
    use sea_orm::sea_query::{ArrayType, Value};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if pg_name.is_empty() || ids.len() < batch {
        return Ok(None);
    }
    let conn = contactd::store::connect(url, 1).await?;
    let sql = "UPDATE dial_state SET lease_expires_at = lease_expires_at \
               WHERE contact_id = ANY($1)";
    let statement = |part: &[i64]| {
        let ids = part.iter().map(|&id| Value::from(id)).collect();
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [Value::Array(ArrayType::BigInt, Some(Box::new(ids)))],
        )
    };
    // Prepared and planned before the measured statements (the claims' connections are
    // warm too).
    for part in ids.chunks(batch).take(6) {
        conn.execute_raw(statement(part)).await?;
    }
    let p0 = postgres_cpu(pg_name);
    let mut rows = 0;
    for part in ids.chunks(batch).cycle().take(BARE_STATEMENTS) {
        rows += conn.execute_raw(statement(part)).await?.rows_affected();
    }
    let cpu = postgres_cpu(pg_name).saturating_sub(p0);
    conn.close().await.ok();
    Ok(Some(cpu.as_secs_f64() * 1e6 / rows.max(1) as f64))
}

/// Rules that let every contact be dialed at whatever hour the benchmark runs: the widest
/// calling window the API accepts that is open now in New York (the seeded numbers'
/// zone; the whole day is refused).
fn rules(require_consent: pb::ConsentRequirement) -> pb::DialRules {
    let now = chrono::Utc::now().timestamp_millis();
    let window = Window::widest_open_at(&[chrono_tz::America::New_York], now);
    pb::DialRules {
        window: Some(pb::CallingWindow {
            start_minute: window.start_minute as i32,
            end_minute: window.end_minute as i32,
        }),
        max_attempts: 1000,
        max_calls_per_day: Some(50),
        max_calls_per_week: Some(50),
        min_call_spacing_seconds: Some(0),
        require_consent: require_consent as i32,
        ..Default::default()
    }
}

/// `dialers` dialers each sending `rate` claims a second of `batch` contacts to "open"
/// for `seconds`, on schedule; latencies from each claim's scheduled time, and how many
/// contacts were leased in all.
async fn open_loop(
    server: &Server,
    dialers: usize,
    rate: u32,
    batch: i32,
    seconds: u64,
) -> anyhow::Result<(Latencies, usize)> {
    let mut client = server.client().await?;
    client
        .add_to_campaign(pb::AddToCampaignRequest {
            account_id: ACCOUNT.into(),
            campaign_id: "open".into(),
            selection: Some(pb::ContactSelection {
                selection: Some(pb::contact_selection::Selection::Filter(
                    pb::ContactFilter::default(),
                )),
            }),
        })
        .await?;
    let start = tokio::time::Instant::now() + std::time::Duration::from_millis(200);
    let every = std::time::Duration::from_secs(1) / rate;
    let per_dialer = rate as u64 * seconds;
    let mut claims = Vec::new();
    for d in 0..dialers {
        let client = server.client().await?;
        // Dialers start staggered within one period.
        let offset = every * d as u32 / dialers as u32;
        for i in 0..per_dialer {
            let due = start + offset + every * i as u32;
            let mut client = client.clone();
            claims.push(tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let got = client
                    .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                        account_id: ACCOUNT.into(),
                        campaign_id: "open".into(),
                        dialer_id: format!("open-{d}"),
                        max_contacts: batch,
                        lease_seconds: 2,
                        rules: Some(rules(pb::ConsentRequirement::Unspecified)),
                    })
                    .await?
                    .into_inner()
                    .contacts
                    .len();
                anyhow::Ok((due.elapsed(), got))
            }));
        }
    }
    let mut latencies = Latencies::default();
    let mut leased = 0;
    for c in claims {
        let (lat, got) = c.await??;
        latencies.push(lat);
        leased += got;
    }
    Ok((latencies, leased))
}

/// Claims per dialer in the warm-up.
const WARMUP_CLAIMS: usize = 5;
/// Claims of the one dialer that claims alone.
const SOLO_CLAIMS: usize = 200;

/// What one dialer saw: latencies of claims that leased contacts, of claims that found
/// nothing, and the contact ids it was handed.
type Seen = (Latencies, Latencies, Vec<i64>);

/// `dialers` dialers claiming batches of `batch` from `campaign` concurrently, each
/// until a claim comes back empty or it made `limit` claims.
async fn run_dialers(
    server: &Server,
    dialers: usize,
    campaign: &'static str,
    batch: i32,
    limit: Option<usize>,
) -> anyhow::Result<Vec<Seen>> {
    run_dialers_requiring(
        server,
        dialers,
        campaign,
        batch,
        limit,
        pb::ConsentRequirement::Unspecified,
    )
    .await
}

/// [`run_dialers`] with a consent requirement in the rules.
async fn run_dialers_requiring(
    server: &Server,
    dialers: usize,
    campaign: &'static str,
    batch: i32,
    limit: Option<usize>,
    consent: pb::ConsentRequirement,
) -> anyhow::Result<Vec<Seen>> {
    let mut tasks = Vec::new();
    for d in 0..dialers {
        let mut client = server.client().await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let mut empty = Latencies::default();
            let mut got = Vec::new();
            for _ in 0..limit.unwrap_or(usize::MAX) {
                let t = Instant::now();
                let contacts = client
                    .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                        account_id: ACCOUNT.into(),
                        campaign_id: campaign.into(),
                        dialer_id: format!("dialer-{d}"),
                        max_contacts: batch,
                        lease_seconds: 3600,
                        rules: Some(rules(consent)),
                    })
                    .await?
                    .into_inner()
                    .contacts;
                if contacts.is_empty() {
                    empty.push(t.elapsed());
                    break;
                }
                latencies.push(t.elapsed());
                got.extend(contacts.into_iter().filter_map(|c| c.contact.map(|c| c.id)));
            }
            anyhow::Ok((latencies, empty, got))
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}
