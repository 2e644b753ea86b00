//! DNC lists (PostgreSQL): 1,000,000 numbers through ImportDncList into a new list, as a
//! national-registry file (`2015550123` lines) and as plain text (`+1…` lines through
//! the full phone parser), each against `psql \copy` of the same numbers, normalized,
//! into the same table (`dnc_list_entries`, the same indexes) in a fresh database of the
//! same state, in the same run; a last row against `\copy` into `dnc_entries` (the
//! manual list's table, the literal reference). Also the server's RSS growth
//! during each import.

use crate::harness::{Backend, BenchDb, Report, Row, Server, Target};
use contactd::pb;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const NOW: i64 = 1_772_463_600_000;
const ACCOUNT: &str = "bench_dnc";

/// The i-th number: ten NANP digits (area codes 201–999 skipping N11, exchange ≥ 200).
fn digits(i: usize) -> String {
    let area = 201 + (i / 8_000_000) % 700;
    format!("{area}{:07}", 2_000_000 + i % 8_000_000)
}

/// Writes the registry file, the plain file and the normalized rows for `\copy`.
fn generate(dir: &Path, n: usize) -> std::io::Result<()> {
    let file = |name: &str| -> std::io::Result<_> {
        Ok(std::io::BufWriter::new(std::fs::File::create(
            dir.join(name),
        )?))
    };
    let (mut registry, mut plain) = (file("registry.txt")?, file("plain.txt")?);
    let (mut entries, mut manual) = (file("entries.csv")?, file("manual.csv")?);
    for i in 0..n {
        let d = digits(i);
        writeln!(registry, "{d}")?;
        writeln!(plain, "+1 {} {} {}", &d[..3], &d[3..6], &d[6..])?;
        writeln!(entries, "{ACCOUNT},+1{d},1,1,{NOW}")?;
        writeln!(manual, "{ACCOUNT},+1{d},IMPORT,{NOW}")?;
    }
    for mut w in [registry, plain, entries, manual] {
        w.flush()?;
    }
    Ok(())
}

fn psql(url: &str, command: &str) -> anyhow::Result<f64> {
    let start = Instant::now();
    let out = Command::new("psql").args([url, "-qc", command]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(start.elapsed().as_secs_f64())
}

/// `\copy` of the normalized rows into a fresh database holding the account (and, for
/// `dnc_list_entries`, list 1).
async fn copy_time(pg_url: &str, table: &str, file: &Path) -> anyhow::Result<f64> {
    let db = BenchDb::with_account(Backend::Postgres, pg_url, ACCOUNT, 10).await?;
    let columns = match table {
        "dnc_list_entries" => {
            psql(
                &db.url,
                &format!(
                    "INSERT INTO dnc_lists (id, account_id, name, created_at, updated_at) \
                     VALUES (1, '{ACCOUNT}', 'ref', {NOW}, {NOW})"
                ),
            )?;
            "account_id, phone, list_id, import_id, created_at"
        }
        _ => "account_id, phone, source, created_at",
    };
    let took = psql(
        &db.url,
        &format!("\\copy {table} ({columns}) FROM '{}' CSV", file.display()),
    );
    db.drop_db().await;
    took
}

/// ImportDncList of `file` in 256 KiB chunks, read from disk as it is sent.
async fn import(
    server: &Server,
    format: pb::DncFileFormat,
    file: &Path,
) -> anyhow::Result<pb::DncListImport> {
    use pb::import_dnc_list_request::Payload;
    let mut client = server.client().await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::ImportDncListRequest {
        payload: Some(Payload::Options(pb::ImportDncListOptions {
            account_id: ACCOUNT.into(),
            list_name: format!("{format:?}"),
            format: format as i32,
            ..Default::default()
        })),
    })
    .await?;
    let mut f = std::fs::File::open(file)?;
    let sender = tokio::spawn(async move {
        loop {
            let mut buf = vec![0; 256 * 1024];
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok::<_, anyhow::Error>(());
            }
            buf.truncate(n);
            let message = pb::ImportDncListRequest {
                payload: Some(Payload::Chunk(buf)),
            };
            if tx.send(message).await.is_err() {
                return Ok(());
            }
        }
    });
    let result = client
        .import_dnc_list(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner()
        .result
        .unwrap_or_default();
    sender.await??;
    Ok(result)
}

pub async fn run(report: &mut Report, pg_url: &str, quick: bool) -> anyhow::Result<()> {
    let n = if quick { 20_000 } else { 1_000_000 };
    println!("dnc suite on PostgreSQL: {n} numbers…");
    let dir = tempfile::tempdir()?;
    generate(dir.path(), n)?;
    let entries = dir.path().join("entries.csv");
    for (format, file, what) in [
        (pb::DncFileFormat::Registry, "registry.txt", "registry file"),
        (
            pb::DncFileFormat::Plain,
            "plain.txt",
            "plain text, +1 numbers",
        ),
    ] {
        let db = BenchDb::with_account(Backend::Postgres, pg_url, ACCOUNT, 10).await?;
        let server = Server::start(&db.url)?;
        let (rss_before, _) = server.rss_kib();
        let start = Instant::now();
        let r = import(&server, format, &dir.path().join(file)).await?;
        let took = start.elapsed().as_secs_f64();
        let (_, peak) = server.rss_kib();
        anyhow::ensure!(
            r.added as usize == n && r.status == "completed",
            "ImportDncList added {} of {n} ({r:?})",
            r.added
        );
        drop(server);
        db.drop_db().await;
        let reference = copy_time(pg_url, "dnc_list_entries", &entries).await?;
        report.add(Row {
            figure: format!("ImportDncList {n} numbers, {what} (PostgreSQL)"),
            value: took,
            unit: "s",
            reference: Some(("psql \\copy into dnc_list_entries".into(), reference)),
            ratio_target: Target::AtMost(1.5),
            target: Target::None,
        });
        report.add(Row {
            figure: format!("server RSS growth during ImportDncList, {what} (PostgreSQL)"),
            value: peak.saturating_sub(rss_before) as f64 / 1024.0,
            unit: "MiB",
            reference: None,
            ratio_target: Target::None,
            target: Target::AtMost(64.0),
        });
        if format == pb::DncFileFormat::Registry {
            let manual = copy_time(pg_url, "dnc_entries", &dir.path().join("manual.csv")).await?;
            report.add(Row {
                figure: format!(
                    "ImportDncList {n} numbers, {what}, against the manual list's table"
                ),
                value: took,
                unit: "s",
                reference: Some(("psql \\copy into dnc_entries".into(), manual)),
                ratio_target: Target::None,
                target: Target::None,
            });
        }
    }
    Ok(())
}
