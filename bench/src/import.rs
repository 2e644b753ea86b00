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

/// Where the bulk loader loads the normalized rows.
#[derive(Clone, Copy, PartialEq)]
enum Into {
    /// `contacts` itself in a fresh database like the one the import started from: the
    /// same table, its foreign key to `accounts` enforced (the reference the target is
    /// measured against).
    Contacts,
    /// `contacts_ref`, a copy of `contacts` with the same columns and indexes but no
    /// foreign key (the stricter reference earlier runs used; printed for comparison).
    CopyWithoutForeignKey,
}

/// The bulk loader's time for the normalized rows.
fn bulk_load(backend: Backend, db: &BenchDb, into: Into, normalized: &Path) -> anyhow::Result<f64> {
    let table = match into {
        Into::Contacts => "contacts",
        Into::CopyWithoutForeignKey => "contacts_ref",
    };
    match backend {
        Backend::Postgres => {
            if into == Into::CopyWithoutForeignKey {
                timed(Command::new("psql").args([
                    &db.url,
                    "-qc",
                    "CREATE TABLE contacts_ref (LIKE contacts INCLUDING ALL)",
                ]))?;
            }
            timed(Command::new("psql").args([
                &db.url,
                "-qc",
                &format!(
                    "\\copy {table} ({COLUMNS}) FROM '{}' CSV",
                    normalized.display()
                ),
            ]))
        }
        Backend::Sqlite => {
            let path = db.url.trim_start_matches("sqlite:");
            if into == Into::CopyWithoutForeignKey {
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
            }
            let header = format!("{}\n", COLUMNS.replace(' ', ""));
            let with_header = normalized.with_extension("hdr.csv");
            let mut w = std::io::BufWriter::new(std::fs::File::create(&with_header)?);
            w.write_all(header.as_bytes())?;
            std::io::copy(&mut std::fs::File::open(normalized)?, &mut w)?;
            w.flush()?;
            drop(w);
            // The service's connections enforce foreign keys; the CLI's do only when told.
            let fk = match into {
                Into::Contacts => "ON",
                Into::CopyWithoutForeignKey => "OFF",
            };
            let script = format!(
                "PRAGMA foreign_keys={fk};\n.import --csv {} staging\nINSERT INTO {table} ({COLUMNS}) SELECT * FROM staging;\nDROP TABLE staging;\n",
                with_header.display()
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
            let took = start.elapsed().as_secs_f64();
            std::fs::remove_file(&with_header)?;
            Ok(took)
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
    let db = BenchDb::with_account(backend, pg_url, account, rows + 10).await?;
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
    // The target's reference: the same file into the same table, starting from the same
    // state (a fresh database holding the account), foreign key enforced as it is for
    // the service.
    let ref_db = BenchDb::with_account(backend, pg_url, account, rows + 10).await?;
    let reference = bulk_load(backend, &ref_db, Into::Contacts, &normalized);
    ref_db.drop_db().await;
    let reference = reference?;
    let loader = match backend {
        Backend::Postgres => "psql \\copy",
        Backend::Sqlite => "sqlite3 .import",
    };
    report.add(Row {
        figure: format!("import {rows} rows via gRPC ({})", backend.name()),
        value: took,
        unit: "s",
        reference: Some((format!("{loader} into contacts"), reference)),
        ratio_target: Target::AtMost(2.0),
        target: Target::None,
    });
    let stricter = bulk_load(backend, &db, Into::CopyWithoutForeignKey, &normalized)?;
    report.add(Row {
        figure: format!(
            "import {rows} rows via gRPC ({}), against a copy of contacts without the foreign key",
            backend.name()
        ),
        value: took,
        unit: "s",
        reference: Some((format!("{loader} into the copy"), stricter)),
        ratio_target: Target::None,
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
        // What the growth is counted from: the started server, its shared phone parser
        // built at startup (the import's own parsers, one per checking thread, count in
        // the growth).
        figure: format!("server RSS before the import ({})", backend.name()),
        value: rss_before as f64 / 1024.0,
        unit: "MiB",
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
