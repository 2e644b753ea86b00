//! Import benchmark: generates a CSV of ROWS rows, imports it through the CLI's gRPC path
//! into a server on SQLite and (when `CONTACTD_BENCH_PG_URL` is set) PostgreSQL, and
//! compares with the database's own bulk load of the same file measured in the same run
//! (`sqlite3 .import`, `psql \copy`, into a table of the file's shape). Prints rows/s,
//! the ratio, and how much the process's peak RSS (server and client run in this
//! process) grew during the import.
//!
//! Run: `cargo run --release --bin bench_import -- [ROWS]` (default 1,000,000).

use contactd::cli::import::stream_import;
use contactd::config::Settings;
use contactd::pb;
use contactd::startup::Application;
use sea_orm::sqlx::{self, Connection, PgConnection};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn generate(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "Phone Number,First Name,Last Name,Email,Company")?;
    for i in 0..rows {
        // Distinct valid US numbers in three area codes, in various spellings.
        let area = [415, 212, 646][i % 3];
        let n = 2_000_000 + i / 3;
        let phone = match i % 2 {
            0 => format!("+1{area}{n:07}"),
            _ => format!("({area}) {}-{:04}", n / 10_000, n % 10_000),
        };
        writeln!(
            f,
            "{phone},First{i},Last{i},user{i}@example.com,Company {}",
            i % 977
        )?;
    }
    f.flush()
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Imports `csv` through gRPC into a fresh server on `url`; returns seconds.
async fn import_via_grpc(url: &str, csv: &Path, rows: usize) -> anyhow::Result<f64> {
    let app = Application::build(Settings::new("127.0.0.1:0".parse()?, url)).await?;
    let server = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let mut c = contactd::cli::connect(&contactd::config::ServerArgs {
        server,
        api_key: None,
    })
    .await?;
    let account = c
        .create_account(pb::CreateAccountRequest {
            name: "bench".into(),
            plan: pb::Plan::Custom as i32,
            contact_limit: rows as i64 + 10,
            default_region: "US".into(),
        })
        .await?
        .into_inner()
        .account
        .expect("account")
        .id;
    let opts = pb::ImportOptions {
        account_id: account,
        file_name: "bench.csv".into(),
        ..Default::default()
    };
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let batch = stream_import(&mut c, opts, csv, |_| {}).await?;
    let secs = start.elapsed().as_secs_f64();
    let counts = batch.counts.unwrap_or_default();
    println!(
        "  gRPC import: {} rows imported, {} invalid, status {:?}; peak RSS +{} MiB",
        counts.imported,
        counts.invalid,
        batch.status(),
        peak_rss_kib().saturating_sub(rss_before) / 1024
    );
    let _ = stop.send(());
    let _ = handle.await;
    Ok(secs)
}

fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let start = Instant::now();
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(start.elapsed().as_secs_f64())
}

const BULK_TABLE: &str =
    "CREATE TABLE bulk (phone TEXT, first_name TEXT, last_name TEXT, email TEXT, company TEXT)";

fn report(backend: &str, rows: usize, grpc: f64, native: f64, tool: &str) {
    println!(
        "{backend}: gRPC import {:.1} s ({:.0} rows/s); {tool} {:.1} s ({:.0} rows/s); ratio {:.2}x",
        grpc,
        rows as f64 / grpc,
        native,
        rows as f64 / native,
        grpc / native
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("CONTACTD_LOG").is_some() {
        contactd::telemetry::init(contactd::config::LogFormat::Text);
    }
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir =
        std::env::temp_dir().join(format!("contactd_bench_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir, rows).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(dir: &Path, rows: usize) -> anyhow::Result<()> {
    let csv = dir.join("bench.csv");
    generate(&csv, rows)?;
    println!(
        "{rows} rows, {} MiB of CSV",
        std::fs::metadata(&csv)?.len() / (1024 * 1024)
    );

    let db = dir.join("bench.db");
    let grpc = import_via_grpc(&format!("sqlite:{}", db.display()), &csv, rows).await?;
    let bulk_db = dir.join("bulk.db");
    let native = timed(
        Command::new("sqlite3")
            .arg(&bulk_db)
            .arg(BULK_TABLE)
            .arg(format!(".import --csv --skip 1 {} bulk", csv.display())),
    )?;
    report("SQLite", rows, grpc, native, "sqlite3 .import");

    if let Ok(base) = std::env::var("CONTACTD_BENCH_PG_URL") {
        let name = format!("contactd_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&base).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let url = match base.rsplit_once('/') {
            Some((head, _)) => format!("{head}/{name}"),
            None => anyhow::bail!("CONTACTD_BENCH_PG_URL must end with /DATABASE"),
        };
        let result = async {
            let grpc = import_via_grpc(&url, &csv, rows).await?;
            timed(Command::new("psql").arg(&url).arg("-qc").arg(BULK_TABLE))?;
            let native = timed(
                Command::new("psql")
                    .arg(&url)
                    .arg("-qc")
                    .arg(format!("\\copy bulk FROM '{}' CSV HEADER", csv.display())),
            )?;
            report("PostgreSQL", rows, grpc, native, "psql \\copy");
            anyhow::Ok(())
        }
        .await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        result?;
    }
    Ok(())
}
