//! Benchmark: ExportContacts from PostgreSQL against `psql \copy` of the same columns.
//!
//! Creates a fresh database, starts a contactd server on it (in this process, port 0),
//! generates N contacts with call statistics, custom fields, DNC entries and campaign
//! memberships with one `generate_series` INSERT, then times, in the same run:
//!
//! - the full export through gRPC (every column, read to the end by a client), and
//! - `psql -c "\copy (SELECT …same columns, same formats, same order…) TO STDOUT CSV"`
//!   with its output discarded,
//!
//! and prints rows/s for each and their ratio (export time / psql time). Build it in
//! release mode:
//!
//! ```sh
//! cargo run --release --bin bench_export -- --rows 1000000
//! ```
//!
//! Options: `--pg-url URL` (default `postgres://postgres@127.0.0.1:5432/test`; the
//! benchmark database is created next to it), `--rows N` (default 1,000,000), `--runs R`
//! (default 3; the best run of each side is compared), `--keep` (leave the database).

use contactd::config::Settings;
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use contactd::startup::Application;
use sea_orm::sqlx::{self, Connection, PgConnection};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DB_NAME: &str = "contactd_bench_export";
/// 2026-03-02T15:00:00Z in Unix ms: the generated data's "now".
const NOW_MS: i64 = 1_772_463_600_000;

struct Options {
    pg_url: String,
    rows: u64,
    runs: u32,
    keep: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        pg_url: "postgres://postgres@127.0.0.1:5432/test".into(),
        rows: 1_000_000,
        runs: 3,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--pg-url" => o.pg_url = value()?,
            "--rows" => o.rows = value()?.parse()?,
            "--runs" => o.runs = value()?.parse()?,
            "--keep" => o.keep = true,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    anyhow::ensure!(
        o.rows > 0 && o.rows < 8_000_000,
        "--rows must be 1..8000000"
    );
    Ok(o)
}

/// `base` with its database name replaced.
fn with_db(base: &str, name: &str) -> String {
    let (head, query) = base.split_once('?').unwrap_or((base, ""));
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let path = head[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(head.len());
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{name}{query}", &head[..path])
}

async fn exec(conn: &mut PgConnection, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await?;
    Ok(())
}

/// The generated data: about 2% DNC (with list entries), 1 in 7 never called, every
/// 10th contact in campaign "spring", two custom fields each.
fn seed_sql(account: &str, rows: u64) -> String {
    format!(
        r#"
INSERT INTO contacts (account_id, phone, phone_national, first_name, last_name, email,
  company, title, name_key, last_key, custom_fields, time_zone, status, dnc_source, dnc_at,
  call_count, last_called_at, last_outcome, total_talk_seconds, created_at, updated_at)
SELECT '{account}', '+1415' || (2000000 + g), '415' || (2000000 + g), 'First' || g,
  'Last' || g, 'user' || g || '@example.com', 'Company ' || (g % 1000), 'Manager',
  'first' || g || ' last' || g, 'last' || g,
  '{{"Tier":"' || (CASE WHEN g % 3 = 0 THEN 'gold' ELSE 'silver' END) || '","Zip":"' || (10000 + g % 90000) || '"}}',
  'America/Los_Angeles',
  CASE WHEN g % 50 = 0 THEN 'DNC' ELSE 'ACTIVE' END,
  CASE WHEN g % 50 = 0 THEN 'MANUAL' ELSE '' END,
  CASE WHEN g % 50 = 0 THEN {NOW_MS} - g END,
  g % 7,
  CASE WHEN g % 7 = 0 THEN NULL ELSE {NOW_MS} - g * 1000 END,
  CASE WHEN g % 7 = 0 THEN '' ELSE 'ANSWERED' END,
  (g % 7) * 45, {NOW_MS}, {NOW_MS}
FROM generate_series(1, {rows}) AS g;
INSERT INTO dnc_entries (account_id, phone, source, created_at)
  SELECT account_id, phone, 'MANUAL', dnc_at FROM contacts WHERE status = 'DNC';
INSERT INTO campaign_members (account_id, campaign_id, contact_id, added_at)
  SELECT account_id, 'spring', id, {NOW_MS} FROM contacts WHERE id % 10 = 0;
UPDATE accounts SET contact_count = {rows} WHERE id = '{account}';
ANALYZE;
"#
    )
}

/// The export's columns and formats, in SQL, for `psql \copy`.
fn copy_sql(account: &str) -> String {
    let time = |col: &str| {
        format!(
            "to_char(to_timestamp({col} / 1000.0) AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    };
    format!(
        "\\copy (SELECT phone, first_name, last_name, email, company, title, time_zone, \
         custom_fields::jsonb->>'Tier', custom_fields::jsonb->>'Zip', status, dnc_source, {}, \
         (SELECT string_agg(m.campaign_id, ';' ORDER BY m.campaign_id) FROM campaign_members m \
          WHERE m.account_id = c.account_id AND m.contact_id = c.id), \
         call_count, {}, last_outcome, total_talk_seconds, id, import_batch_id, {}, {} \
         FROM contacts c WHERE account_id = '{account}' ORDER BY id) TO STDOUT CSV HEADER",
        time("dnc_at"),
        time("last_called_at"),
        time("created_at"),
        time("updated_at"),
    )
}

/// Runs the export through gRPC; returns (rows, bytes, time).
async fn grpc_export(
    client: &mut ContactServiceClient<tonic::transport::Channel>,
    account: &str,
) -> anyhow::Result<(i64, u64, Duration)> {
    use pb::export_contacts_response::Event;
    let started = Instant::now();
    let mut stream = client
        .export_contacts(pb::ExportContactsRequest {
            account_id: account.into(),
            selection: None,
            columns: vec![],
        })
        .await?
        .into_inner();
    let (mut rows, mut bytes) = (0, 0u64);
    while let Some(msg) = stream.message().await? {
        match msg.event {
            Some(Event::Chunk(c)) => bytes += c.len() as u64,
            Some(Event::RowsWritten(n)) => rows = n,
            None => {}
        }
    }
    Ok((rows, bytes, started.elapsed()))
}

/// Runs `psql -c "\copy …"` with stdout discarded; returns its time.
fn psql_copy(url: &str, account: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new("psql")
        .args([url, "-X", "-q", "-c", &copy_sql(account)])
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "psql failed: {status}");
    Ok(started.elapsed())
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let url = with_db(&o.pg_url, DB_NAME);
    let mut admin = PgConnection::connect(&o.pg_url).await?;
    exec(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"),
    )
    .await?;
    exec(&mut admin, &format!("CREATE DATABASE {DB_NAME}")).await?;

    let app = Application::build(Settings::new("127.0.0.1:0".parse()?, url.clone())).await?;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut client = ContactServiceClient::connect(format!("http://{addr}")).await?;
    let account = client
        .create_account(pb::CreateAccountRequest {
            name: "bench".into(),
            plan: pb::Plan::Custom as i32,
            contact_limit: o.rows as i64,
            default_region: "US".into(),
        })
        .await?
        .into_inner()
        .account
        .expect("account")
        .id;

    let started = Instant::now();
    let mut conn = PgConnection::connect(&url).await?;
    exec(&mut conn, &seed_sql(&account, o.rows)).await?;
    conn.close().await?;
    println!(
        "generated {} contacts in {:.1} s",
        o.rows,
        started.elapsed().as_secs_f64()
    );

    let rss_before = peak_rss_mib();
    let (mut best_export, mut best_psql) = (Duration::MAX, Duration::MAX);
    for run in 1..=o.runs {
        let (rows, bytes, took) = grpc_export(&mut client, &account).await?;
        anyhow::ensure!(
            rows as u64 == o.rows,
            "exported {rows} rows, expected {}",
            o.rows
        );
        let psql = psql_copy(&url, &account)?;
        println!(
            "run {run}: gRPC export {:.2} s ({:.0} rows/s, {:.1} MiB) | psql \\copy {:.2} s ({:.0} rows/s)",
            took.as_secs_f64(),
            o.rows as f64 / took.as_secs_f64(),
            bytes as f64 / (1024.0 * 1024.0),
            psql.as_secs_f64(),
            o.rows as f64 / psql.as_secs_f64(),
        );
        best_export = best_export.min(took);
        best_psql = best_psql.min(psql);
    }
    println!(
        "best: gRPC export {:.0} rows/s, psql \\copy {:.0} rows/s, ratio {:.2}x (export time / psql time)",
        o.rows as f64 / best_export.as_secs_f64(),
        o.rows as f64 / best_psql.as_secs_f64(),
        best_export.as_secs_f64() / best_psql.as_secs_f64(),
    );
    println!(
        "peak RSS of this process (server + client): {:.0} MiB before exporting, {:.0} MiB after",
        rss_before,
        peak_rss_mib()
    );

    let _ = stop.send(());
    let _ = server.await;
    if !o.keep {
        exec(
            &mut admin,
            &format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"),
        )
        .await?;
    }
    Ok(())
}
