//! Bounds: what one careless or hostile tenant can cost the others.
//!
//! 1. A 20 MiB import of nothing but invalid lines (`x`): its time, the rejected rows it
//!    stores and how much the database grows (targets: under 100,000 rows and 50 MB; one
//!    such file once stored 10.5 million rows, 2.5 GB).
//! 2. PostgreSQL: another account's export while four exports of one account stall (their
//!    client reads nothing), against the same export with nothing stalled (target: within
//!    ±20 %). The stalled tenant gets its own share of the export slots and no more.

use crate::harness::{Backend, BenchDb, Report, Row, Server, Target};
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use sea_orm::{ConnectionTrait, Statement};
use std::time::{Duration, Instant};

/// The junk file's size.
const JUNK_BYTES: usize = 20 << 20;

/// Bytes the database takes now: PostgreSQL's own figure, or the SQLite files.
async fn database_bytes(url: &str) -> anyhow::Result<i64> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let size = |p: String| std::fs::metadata(p).map(|m| m.len() as i64).unwrap_or(0);
        return Ok(size(path.to_string()) + size(format!("{path}-wal")));
    }
    scalar(url, "SELECT pg_database_size(current_database())").await
}

async fn scalar(url: &str, sql: &str) -> anyhow::Result<i64> {
    let conn = contactd::store::connect(url, 1).await?;
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_string(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    let v: i64 = row.try_get_by_index(0)?;
    conn.close().await.ok();
    Ok(v)
}

/// Imports the junk file; returns how long it took and the batch as it ended.
async fn junk_import(
    client: &mut ContactServiceClient<tonic::transport::Channel>,
    account: &str,
) -> anyhow::Result<(Duration, pb::ImportBatch)> {
    use pb::import_contacts_request::Payload;
    use pb::import_contacts_response::Event;
    let mut file = b"phone\n".to_vec();
    file.resize(JUNK_BYTES, b'x');
    for i in (7..file.len()).step_by(2) {
        file[i] = b'\n';
    }
    let mut msgs = vec![pb::ImportContactsRequest {
        payload: Some(Payload::Options(pb::ImportOptions {
            account_id: account.into(),
            ..Default::default()
        })),
    }];
    msgs.extend(file.chunks(64 * 1024).map(|c| pb::ImportContactsRequest {
        payload: Some(Payload::Chunk(c.to_vec())),
    }));
    let started = Instant::now();
    let mut stream = client
        .import_contacts(tokio_stream::iter(msgs))
        .await?
        .into_inner();
    let mut id = String::new();
    loop {
        match stream.message().await {
            Ok(Some(pb::ImportContactsResponse {
                event: Some(Event::Started(b)),
            })) => id = b.id,
            Ok(Some(_)) => {}
            // A file that is all junk ends the import early (FAILED): expected.
            Ok(None) | Err(_) => break,
        }
    }
    let took = started.elapsed();
    let batch = client
        .get_import_batch(pb::GetImportBatchRequest {
            account_id: account.into(),
            batch_id: id,
        })
        .await?
        .into_inner()
        .batch
        .ok_or_else(|| anyhow::anyhow!("no batch"))?;
    Ok((took, batch))
}

async fn junk(report: &mut Report, backend: Backend, pg_url: &str) -> anyhow::Result<()> {
    let account = "bench_bounds";
    let db = BenchDb::with_account(backend, pg_url, account, 1_000_000).await?;
    let server = Server::start(&db.url)?;
    let mut client = server.client().await?;
    let before = database_bytes(&db.url).await?;
    let (took, batch) = junk_import(&mut client, account).await?;
    let stored = scalar(
        &db.url,
        &format!(
            "SELECT COUNT(*) FROM import_errors WHERE batch_id = '{}'",
            batch.id
        ),
    )
    .await?;
    let growth = database_bytes(&db.url).await? - before;
    let c = batch.counts.unwrap_or_default();
    println!(
        "  junk import: {:?} after {} rows ({} invalid, {} not stored): {}",
        pb::ImportStatus::try_from(batch.status).unwrap_or_default(),
        c.rows,
        c.invalid,
        c.rejected_not_stored,
        batch.error_message
    );
    let name = backend.name();
    for (figure, value, unit, target) in [
        (
            format!("20 MiB all-invalid import: time to its end ({name})"),
            took.as_secs_f64(),
            "s",
            Target::None,
        ),
        (
            format!("20 MiB all-invalid import: rejected rows stored ({name})"),
            stored as f64,
            "rows",
            Target::AtMost(100_000.0),
        ),
        (
            format!("20 MiB all-invalid import: database growth ({name})"),
            growth as f64 / 1e6,
            "MB",
            Target::AtMost(50.0),
        ),
    ] {
        report.add(Row {
            figure,
            value,
            unit,
            reference: None,
            ratio_target: Target::None,
            target,
        });
    }
    drop(server);
    db.drop_db().await;
    Ok(())
}

/// Contacts for `account`, generated in the database.
fn seed_sql(account: &str, rows: u64) -> String {
    format!(
        "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, \
           created_at, updated_at) VALUES ('{account}', 'bench', 'CUSTOM', {rows}, {rows}, 'US', 0, 0); \
         INSERT INTO contacts (account_id, phone, phone_national, first_name, last_name, email, \
           company, title, name_key, last_key, created_at, updated_at) \
         SELECT '{account}', '+1415' || (2000000 + g), '415' || (2000000 + g), 'First' || g, \
           'Last' || g, 'user' || g || '@example.com', 'Company ' || (g % 1000), 'Manager', \
           'first' || g || ' last' || g, 'last' || g, 0, 0 \
         FROM generate_series(1, {rows}) AS g; \
         ANALYZE;"
    )
}

/// One full export; its time.
async fn export_time(
    client: &mut ContactServiceClient<tonic::transport::Channel>,
    account: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut stream = client
        .export_contacts(pb::ExportContactsRequest {
            account_id: account.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    while stream.message().await?.is_some() {}
    Ok(started.elapsed())
}

/// Best of `runs` exports.
async fn best_export(
    client: &mut ContactServiceClient<tonic::transport::Channel>,
    account: &str,
    runs: usize,
) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        best = best.min(export_time(client, account).await?);
    }
    Ok(best)
}

async fn stalled_exports(report: &mut Report, pg_url: &str, quick: bool) -> anyhow::Result<()> {
    let (stalled_rows, other_rows, runs) = if quick {
        (30_000, 20_000, 2)
    } else {
        (200_000, 100_000, 5)
    };
    let db = BenchDb::create(Backend::Postgres, pg_url).await?;
    contactd::store::migrate(&db.url).await?;
    let conn = contactd::store::connect(&db.url, 1).await?;
    conn.execute_unprepared(&seed_sql("greedy", stalled_rows))
        .await?;
    conn.execute_unprepared(&seed_sql("other", other_rows))
        .await?;
    conn.close().await.ok();
    let server = Server::start(&db.url)?;
    let mut client = server.client().await?;
    let alone = best_export(&mut client, "other", runs).await?;

    // Four exports of one account whose client reads only the first message, each on a
    // connection of its own with HTTP/2's smallest default window.
    let mut stalled = Vec::new();
    let mut refused = 0;
    for _ in 0..4 {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", server.port))?
                .initial_stream_window_size(65_535)
                .initial_connection_window_size(65_535)
                .connect()
                .await?;
        let started = ContactServiceClient::new(channel)
            .export_contacts(pb::ExportContactsRequest {
                account_id: "greedy".into(),
                ..Default::default()
            })
            .await;
        match started {
            Ok(r) => {
                let mut s = r.into_inner();
                s.message().await?;
                stalled.push(s);
            }
            Err(e) if e.code() == tonic::Code::ResourceExhausted => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "  {} stalled exports of one account running, {refused} refused",
        stalled.len()
    );
    let beside = best_export(&mut client, "other", runs).await?;
    drop(stalled);
    report.add(Row {
        figure: format!(
            "export of {other_rows} contacts beside 4 stalled exports of another account, \
             best of {runs} (PostgreSQL)"
        ),
        value: beside.as_secs_f64() * 1000.0,
        unit: "ms",
        reference: Some(("nothing stalled".into(), alone.as_secs_f64() * 1000.0)),
        ratio_target: Target::AtMost(1.2),
        target: Target::None,
    });
    drop(server);
    db.drop_db().await;
    Ok(())
}

pub async fn run(
    report: &mut Report,
    backends: &[Backend],
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    for backend in backends.iter().copied() {
        println!(
            "bounds suite on {}: a 20 MiB all-invalid import…",
            backend.name()
        );
        junk(report, backend, pg_url).await?;
    }
    if backends.contains(&Backend::Postgres) {
        println!("bounds suite on PostgreSQL: exports beside stalled exports…");
        stalled_exports(report, pg_url, quick).await?;
    }
    Ok(())
}
