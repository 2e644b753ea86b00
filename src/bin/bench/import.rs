//! Import: a generated CSV of 1,000,000 rows (phones in several spellings) imported
//! through the CLI's gRPC path into a server (child process), against the database's own
//! bulk loader loading the same rows, already normalized, into a copy of the `contacts`
//! table with the same indexes, in the same run: `psql \copy` on PostgreSQL, `sqlite3
//! .import` on SQLite. Also the server's RSS growth during the import.

use crate::harness::{Backend, BenchDb, Report, Row, Server, Target};
use contactd::pb;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const NOW: i64 = 1_772_463_600_000;

/// Writes the file a user uploads and the same rows normalized (for the bulk loader).
fn generate(upload: &Path, normalized: &Path, account: &str, rows: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(upload)?);
    let mut g = std::io::BufWriter::new(std::fs::File::create(normalized)?);
    writeln!(f, "Phone Number,First Name,Last Name,Email,Company")?;
    for i in 0..rows {
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
        writeln!(
            g,
            "{account},+1{area}{n:07},{area}{n:07},First{i},Last{i},user{i}@example.com,Company {},first{i} last{i},last{i},{NOW},{NOW}",
            i % 977
        )?;
    }
    f.flush()?;
    g.flush()
}

const COLUMNS: &str = "account_id, phone, phone_national, first_name, last_name, email, company, name_key, last_key, created_at, updated_at";

fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let start = Instant::now();
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(start.elapsed().as_secs_f64())
}

/// The bulk loader's time for the normalized rows into a copy of `contacts`.
fn bulk_load(backend: Backend, db: &BenchDb, normalized: &Path) -> anyhow::Result<f64> {
    match backend {
        Backend::Postgres => {
            timed(Command::new("psql").args([
                &db.url,
                "-qc",
                "CREATE TABLE contacts_ref (LIKE contacts INCLUDING ALL)",
            ]))?;
            timed(Command::new("psql").args([
                &db.url,
                "-qc",
                &format!(
                    "\\copy contacts_ref ({COLUMNS}) FROM '{}' CSV",
                    normalized.display()
                ),
            ]))
        }
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite:");
            // The same schema: contacts' own CREATE statements, renamed.
            let out = Command::new("sqlite3")
                .args([path, "SELECT sql || ';' FROM sqlite_master WHERE tbl_name = 'contacts' AND sql IS NOT NULL"])
                .output()?;
            let schema = String::from_utf8(out.stdout)?
                .replace("\"contacts\"", "contacts_ref")
                .replace("TABLE contacts ", "TABLE contacts_ref ")
                .replace(" ON contacts ", " ON contacts_ref ")
                .replace("INDEX contacts_", "INDEX ref_contacts_");
            timed(Command::new("sqlite3").args([path, &schema]))?;
            let script = format!(
                ".import --csv {} staging\nINSERT INTO contacts_ref ({COLUMNS}) SELECT * FROM staging;\n",
                normalized.display()
            );
            let header = format!("{}\n", COLUMNS.replace(' ', ""));
            let with_header = normalized.with_extension("hdr.csv");
            let mut w = std::io::BufWriter::new(std::fs::File::create(&with_header)?);
            w.write_all(header.as_bytes())?;
            std::io::copy(&mut std::fs::File::open(normalized)?, &mut w)?;
            w.flush()?;
            drop(w);
            let script = script.replace(
                &normalized.display().to_string(),
                &with_header.display().to_string(),
            );
            let start = Instant::now();
            let mut child = Command::new("sqlite3")
                .arg(path)
                .stdin(std::process::Stdio::piped())
                .spawn()?;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            anyhow::ensure!(child.wait()?.success(), "sqlite3 .import failed");
            Ok(start.elapsed().as_secs_f64())
        }
    }
}

pub async fn run(
    report: &mut Report,
    backend: Backend,
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let rows = if quick { 20_000 } else { 1_000_000 };
    println!("import suite on {}: {rows} rows…", backend.name());
    let dir = tempfile::tempdir()?;
    let (upload, normalized) = (
        dir.path().join("upload.csv"),
        dir.path().join("normalized.csv"),
    );
    let account = "bench_import";
    generate(&upload, &normalized, account, rows)?;
    let db = BenchDb::create(backend, pg_url).await?;
    contactd::store::migrate(&db.url).await?;
    {
        let conn = contactd::store::connect(&db.url, 1).await?;
        sea_orm::ConnectionTrait::execute_unprepared(
            &conn,
            &format!(
                "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, created_at, updated_at) \
                 VALUES ('{account}', 'bench', 'CUSTOM', {}, 0, 'US', {NOW}, {NOW})",
                rows + 10
            ),
        )
        .await?;
        conn.close().await.ok();
    }
    let server = Server::start(&db.url)?;
    let server_args = contactd::config::ServerArgs {
        server: format!("http://127.0.0.1:{}", server.port),
        api_key: None,
    };
    let mut client = contactd::cli::connect(&server_args).await?;
    let (rss_before, _) = server.rss_kib();
    let options = pb::ImportOptions {
        account_id: account.into(),
        file_name: "upload.csv".into(),
        ..Default::default()
    };
    let start = Instant::now();
    let batch = contactd::cli::import::stream_import(&mut client, options, &upload, |_| {}).await?;
    let took = start.elapsed().as_secs_f64();
    let (_, peak) = server.rss_kib();
    let counts = batch.counts.unwrap_or_default();
    anyhow::ensure!(
        counts.imported as usize == rows,
        "imported {} of {rows} rows ({counts:?})",
        counts.imported
    );
    drop(server);
    let reference = bulk_load(backend, &db, &normalized)?;
    report.add(Row {
        figure: format!("import {rows} rows via gRPC ({})", backend.name()),
        value: took,
        unit: "s",
        reference: Some((
            match backend {
                Backend::Postgres => "psql \\copy into a copy of contacts".into(),
                Backend::Sqlite => "sqlite3 .import into a copy of contacts".into(),
            },
            reference,
        )),
        ratio_target: Target::AtMost(2.0),
        target: Target::None,
    });
    report.add(Row {
        figure: format!("import throughput ({})", backend.name()),
        value: rows as f64 / took,
        unit: "rows/s",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    report.add(Row {
        figure: format!("server RSS growth during the import ({})", backend.name()),
        value: peak.saturating_sub(rss_before) as f64 / 1024.0,
        unit: "MiB",
        reference: None,
        ratio_target: Target::None,
        target: Target::AtMost(64.0),
    });
    db.drop_db().await;
    Ok(())
}
