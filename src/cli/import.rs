//! `contactd import` and `contactd preview`: stream a CSV file to a running server in
//! chunks (never reading it whole), show progress (rows/s, ETA from bytes) and print the
//! result. Any outcome other than a completed import exits non-zero.

use crate::config::{ImportArgs, OnDuplicate};
use crate::pb;
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;
use tokio::io::AsyncReadExt;
use tokio_stream::wrappers::ReceiverStream;

/// Bytes per chunk sent to the server.
const CHUNK_BYTES: usize = 256 * 1024;
/// One `--map FIELD=COLUMN` argument.
fn column_mapping(arg: &str) -> Result<pb::ColumnMapping> {
    let (field, column) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("--map {arg:?}: expected FIELD=COLUMN, e.g. phone=Mobile"))?;
    let (field, custom) = match field.trim() {
        "phone" => (pb::ContactField::Phone, ""),
        "first_name" => (pb::ContactField::FirstName, ""),
        "last_name" => (pb::ContactField::LastName, ""),
        "full_name" | "name" => (pb::ContactField::FullName, ""),
        "email" => (pb::ContactField::Email, ""),
        "company" => (pb::ContactField::Company, ""),
        "title" => (pb::ContactField::Title, ""),
        "time_zone" => (pb::ContactField::TimeZone, ""),
        "ignore" => (pb::ContactField::Ignore, ""),
        other => match other.strip_prefix("custom.") {
            Some(key) if !key.is_empty() => (pb::ContactField::Custom, key),
            _ => bail!("--map {arg:?}: unknown field {other:?}"),
        },
    };
    Ok(pb::ColumnMapping {
        column: column.to_string(),
        field: field as i32,
        custom_field_name: custom.to_string(),
    })
}

fn options(args: &ImportArgs) -> Result<pb::ImportOptions> {
    Ok(pb::ImportOptions {
        account_id: args.account.clone(),
        mapping: args
            .map
            .iter()
            .map(|m| column_mapping(m))
            .collect::<Result<_>>()?,
        default_region: args.region.clone().unwrap_or_default(),
        validation_mode: if args.lenient {
            pb::ValidationMode::Lenient
        } else {
            pb::ValidationMode::Strict
        } as i32,
        duplicate_policy: match args.on_duplicate {
            OnDuplicate::Skip => pb::DuplicatePolicy::Skip,
            OnDuplicate::UpdateEmpty => pb::DuplicatePolicy::UpdateEmpty,
            OnDuplicate::UpdateAll => pb::DuplicatePolicy::UpdateAll,
        } as i32,
        campaign_id: args.campaign.clone().unwrap_or_default(),
        file_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        client_request_id: args
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        unmapped_as_custom_fields: args.custom_fields,
        delimiter: match args.delimiter.as_deref() {
            Some("tab") => "\t".into(),
            other => other.unwrap_or_default().to_string(),
        },
        has_header: None,
    })
}

/// Reads the file in chunks into `tx`, each wrapped by `wrap`, after `first`.
fn spawn_reader<T: Send + 'static>(
    path: std::path::PathBuf,
    first: T,
    wrap: fn(Vec<u8>) -> T,
) -> (
    tokio::sync::mpsc::Receiver<T>,
    tokio::task::JoinHandle<Result<()>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let handle = tokio::spawn(async move {
        let mut file = tokio::fs::File::open(&path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        if tx.send(first).await.is_err() {
            return Ok(());
        }
        loop {
            let mut buf = vec![0u8; CHUNK_BYTES];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(wrap(buf)).await.is_err() {
                return Ok(());
            }
        }
    });
    (rx, handle)
}

/// Streams the file at `path` as an import with `opts`; `on_progress` sees each progress
/// message. Returns the finished batch (whatever its status).
pub async fn stream_import(
    client: &mut super::Client,
    opts: pb::ImportOptions,
    path: &std::path::Path,
    mut on_progress: impl FnMut(&pb::ImportProgress),
) -> Result<pb::ImportBatch> {
    use pb::import_contacts_request::Payload;
    let (rx, reader) = spawn_reader(
        path.to_path_buf(),
        pb::ImportContactsRequest {
            payload: Some(Payload::Options(opts)),
        },
        |c| pb::ImportContactsRequest {
            payload: Some(Payload::Chunk(c)),
        },
    );
    let mut events = client
        .import_contacts(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut finished = None;
    while let Some(m) = events.message().await? {
        use pb::import_contacts_response::Event;
        match m.event {
            Some(Event::Progress(p)) => on_progress(&p),
            Some(Event::Finished(b)) => finished = Some(b),
            Some(Event::Started(_)) | None => {}
        }
    }
    reader.await??;
    finished.ok_or_else(|| anyhow!("the server ended the import without a result"))
}

/// `contactd import`.
pub async fn import(args: ImportArgs) -> Result<()> {
    let total = tokio::fs::metadata(&args.file)
        .await
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let opts = options(&args)?;
    let mut client = super::connect(&args.server).await?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} (ETA {eta})")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let batch = stream_import(&mut client, opts, &args.file, |p| {
        let c = p.counts.unwrap_or_default();
        let rate = c.rows as f64 / started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(p.bytes_read as u64);
        bar.set_message(format!(
            "{} rows, {} imported, {rate:.0} rows/s",
            c.rows, c.imported
        ));
    })
    .await;
    bar.finish_and_clear();
    let batch = batch?;
    print_summary(&batch, started.elapsed().as_secs_f64());
    if let Some(path) = &args.rejected {
        let n = write_rejected(&mut client, &batch, path).await?;
        println!("rejected rows written to {} ({n} bytes)", path.display());
        let missing = batch.counts.unwrap_or_default().rejected_not_stored;
        if missing > 0 {
            println!(
                "the file is incomplete: {missing} more rejected rows were counted but not \
                 kept (a batch keeps the first {})",
                crate::service::import::MAX_STORED_REJECTED_ROWS
            );
        }
    }
    if batch.status() != pb::ImportStatus::Completed {
        bail!(
            "import {} ended {:?}: {}",
            batch.id,
            batch.status(),
            batch.error_message
        );
    }
    Ok(())
}

fn print_summary(b: &pb::ImportBatch, seconds: f64) {
    let c = b.counts.unwrap_or_default();
    println!("batch       {} ({:?})", b.id, b.status());
    println!(
        "file        {} ({}, {:?})",
        b.file_name, b.encoding, b.delimiter
    );
    println!(
        "rows        {} in {seconds:.1} s ({:.0} rows/s)",
        c.rows,
        c.rows as f64 / seconds.max(0.001)
    );
    for (label, n) in [
        ("imported", c.imported),
        ("updated", c.updated),
        ("dup in file", c.duplicates_in_file),
        ("dup stored", c.duplicates_existing),
        ("invalid", c.invalid),
        ("over limit", c.over_limit),
        ("on DNC", c.dnc),
        ("DNC excluded", c.dnc_excluded),
        ("to campaign", c.added_to_campaign),
    ] {
        if n > 0 || label == "imported" {
            println!("{label:<12}{n}");
        }
    }
    if c.invalid + c.over_limit > 0 {
        println!("(use --rejected FILE to download the rejected rows with their reasons)");
    }
}

async fn write_rejected(
    client: &mut super::Client,
    b: &pb::ImportBatch,
    path: &std::path::Path,
) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let mut stream = client
        .export_import_errors(pb::ExportImportErrorsRequest {
            account_id: b.account_id.clone(),
            batch_id: b.id.clone(),
        })
        .await?
        .into_inner();
    let mut out = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut n = 0;
    while let Some(m) = stream.message().await? {
        n += m.chunk.len() as u64;
        out.write_all(&m.chunk).await?;
    }
    out.flush().await?;
    Ok(n)
}

/// `contactd preview`.
pub async fn preview(args: ImportArgs) -> Result<()> {
    let opts = options(&args)?;
    let mut client = super::connect(&args.server).await?;
    use pb::preview_import_request::Payload;
    let (rx, reader) = spawn_reader(
        args.file.clone(),
        pb::PreviewImportRequest {
            payload: Some(Payload::Options(opts)),
            sample_rows: 10,
        },
        |c| pb::PreviewImportRequest {
            payload: Some(Payload::Chunk(c)),
            sample_rows: 0,
        },
    );
    let p = client
        .preview_import(ReceiverStream::new(rx))
        .await?
        .into_inner();
    reader.await??;
    println!("encoding {}, delimiter {:?}", p.encoding, p.delimiter);
    let mapping: Vec<Vec<String>> = p
        .mapping
        .iter()
        .map(|m| {
            let field = m
                .field()
                .as_str_name()
                .trim_start_matches("CONTACT_FIELD_")
                .to_lowercase();
            let field = if m.custom_field_name.is_empty() {
                field
            } else {
                format!("custom.{}", m.custom_field_name)
            };
            vec![m.column.clone(), field]
        })
        .chain(
            p.unmapped_columns
                .iter()
                .map(|c| vec![c.clone(), "(ignored)".into()]),
        )
        .collect();
    print_table(&["column", "field"], &mapping);
    let sample: Vec<Vec<String>> = p
        .sample
        .iter()
        .map(|c| {
            vec![
                c.phone.clone(),
                c.first_name.clone(),
                c.last_name.clone(),
                c.email.clone(),
                c.company.clone(),
                c.title.clone(),
            ]
        })
        .collect();
    println!();
    print_table(
        &[
            "phone",
            "first_name",
            "last_name",
            "email",
            "company",
            "title",
        ],
        &sample,
    );
    let c = p.counts.unwrap_or_default();
    println!();
    print_table(
        &[
            "rows",
            "importable",
            "update",
            "dup in file",
            "dup stored",
            "invalid",
            "over limit",
            "on DNC",
        ],
        &[[
            c.rows,
            c.imported,
            c.updated,
            c.duplicates_in_file,
            c.duplicates_existing,
            c.invalid,
            c.over_limit,
            c.dnc,
        ]
        .iter()
        .map(|n| n.to_string())
        .collect()],
    );
    if !p.errors.is_empty() {
        println!();
        let errors: Vec<Vec<String>> = p
            .errors
            .iter()
            .map(|e| {
                vec![
                    e.line.to_string(),
                    e.column.clone(),
                    e.raw_value.clone(),
                    e.reason.clone(),
                ]
            })
            .collect();
        print_table(&["line", "column", "value", "reason"], &errors);
    }
    Ok(())
}

/// Prints rows under a header, columns padded to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let clean = |s: &str| s.replace(['\n', '\r', '\t'], " ");
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(clean(cell).chars().count().min(60));
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let c: String = c.chars().take(60).collect();
                format!("{c:<w$}")
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.iter().map(|c| clean(c)).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_arguments_name_fields_and_custom_keys() {
        let m = column_mapping("phone=Mobile Phone").unwrap();
        assert_eq!(
            (m.column.as_str(), m.field()),
            ("Mobile Phone", pb::ContactField::Phone)
        );
        let m = column_mapping("custom.Notes=Remarks").unwrap();
        assert_eq!(m.custom_field_name, "Notes");
        assert!(column_mapping("phone").is_err());
        assert!(column_mapping("shoe=Size").is_err());
    }
}
