//! `contactd import` and `contactd preview`: stream a CSV file or workbook to a running
//! server in chunks (never reading it whole), show progress (rows/s, ETA from bytes) and
//! print the result, then what to do about the rows it rejected: one line per kind of
//! reason, with its count and the flag or fix that helps. An import that did not complete,
//! or that stored nothing from a non-empty file, exits non-zero.

use super::advice::{self, Advice};
use super::table::print_table;
use crate::config::{ImportArgs, OnDuplicate, SourceArgs};
use crate::import::Rejection;
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
        "country" => (pb::ContactField::Country, ""),
        "middle_name" => (pb::ContactField::MiddleName, ""),
        "phone_extension" | "extension" => (pb::ContactField::PhoneExtension, ""),
        "ignore" => (pb::ContactField::Ignore, ""),
        "consent_kind" => (pb::ContactField::ConsentKind, ""),
        "consent_channel" => (pb::ContactField::ConsentChannel, ""),
        "consent_source" => (pb::ContactField::ConsentSource, ""),
        "consent_captured_at" => (pb::ContactField::ConsentCapturedAt, ""),
        "consent_expires_at" => (pb::ContactField::ConsentExpiresAt, ""),
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

fn options(args: &SourceArgs, import: Option<&ImportArgs>) -> Result<pb::ImportOptions> {
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
        duplicate_policy: match import.map(|i| i.on_duplicate) {
            None | Some(OnDuplicate::Skip) => pb::DuplicatePolicy::Skip,
            Some(OnDuplicate::UpdateEmpty) => pb::DuplicatePolicy::UpdateEmpty,
            Some(OnDuplicate::UpdateAll) => pb::DuplicatePolicy::UpdateAll,
        } as i32,
        campaign_id: import.and_then(|i| i.campaign.clone()).unwrap_or_default(),
        file_name: args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        client_request_id: import
            .and_then(|i| i.request_id.clone())
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
    let source = &args.source;
    let total = tokio::fs::metadata(&source.file)
        .await
        .with_context(|| format!("cannot read {}", source.file.display()))?
        .len();
    let opts = options(source, Some(&args))?;
    let mut client = super::connect(&source.server).await?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} (ETA {eta})")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let batch = stream_import(&mut client, opts, &source.file, |p| {
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
    let c = batch.counts.unwrap_or_default();
    let rejected = c.invalid + c.over_limit;
    if rejected > 0 {
        // The import is done whatever happens here: the advice is best effort.
        match stored_errors(&mut client, &batch).await {
            Ok(errors) => {
                let region = import_region(&mut client, source).await;
                let has_country = batch
                    .mapping
                    .iter()
                    .any(|m| m.field() == pb::ContactField::Country);
                let columns: Vec<String> = batch.mapping.iter().map(|m| m.column.clone()).collect();
                let advice = advice::group(&errors, region.as_deref(), has_country, &columns);
                print_advice(&advice, errors.len(), rejected);
            }
            Err(e) => println!(
                "(the rejected rows could not be listed: {})",
                super::readable(e)
            ),
        }
        match &args.rejected {
            Some(path) => {
                let (n, encoding) = write_rejected(&mut client, &batch, path).await?;
                println!(
                    "rejected rows written to {} ({n} bytes, {encoding})",
                    path.display()
                );
                let missing = c.rejected_not_stored;
                if missing > 0 {
                    println!(
                        "the file is incomplete: {missing} more rejected rows were counted but \
                         not kept (a batch keeps the first {})",
                        crate::service::import::MAX_STORED_REJECTED_ROWS
                    );
                }
            }
            None => {
                println!("(use --rejected FILE to download the rejected rows with their reasons)")
            }
        }
    } else if let Some(path) = &args.rejected {
        println!("no row was rejected: {} not written", path.display());
    }
    if batch.status() != pb::ImportStatus::Completed {
        bail!(
            "import {} ended {:?}: {}",
            batch.id,
            batch.status(),
            batch.error_message
        );
    }
    if c.rows > 0 && c.imported + c.updated + c.duplicates_existing == 0 {
        bail!(
            "no row of {} was imported ({} rows read); see the reasons above",
            source.file.display(),
            c.rows
        );
    }
    Ok(())
}

fn print_summary(b: &pb::ImportBatch, seconds: f64) {
    let c = b.counts.unwrap_or_default();
    println!("batch         {} ({:?})", b.id, b.status());
    let format = if b.delimiter.is_empty() {
        b.encoding.clone()
    } else {
        format!("{}, {:?}", b.encoding, b.delimiter)
    };
    println!("file          {} ({format})", b.file_name);
    println!(
        "rows          {} in {seconds:.1} s ({:.0} rows/s)",
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
            println!("{label:<13} {n}");
        }
    }
    print_rejected_by_kind(&b.rejected_by_kind);
}

/// The batch's rejected rows by kind (exact, whether or not their records were kept).
fn print_rejected_by_kind(by_kind: &[pb::RejectedRows]) {
    if by_kind.is_empty() {
        return;
    }
    println!("rejected rows by kind:");
    for r in by_kind {
        let kind = Rejection::ALL
            .into_iter()
            .find(|&k| pb::RejectionKind::from(k) as i32 == r.kind)
            .map_or("not attributed", Rejection::as_str);
        println!("  {:<18} {}", kind.replace('_', " "), r.rows);
    }
}

/// Most rejected rows read back for the advice (the counts cover them all).
const ADVICE_ROWS: usize = 10_000;

/// The batch's rejected rows, up to [`ADVICE_ROWS`].
async fn stored_errors(
    client: &mut super::Client,
    b: &pb::ImportBatch,
) -> Result<Vec<pb::ImportError>> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_import_errors(pb::ListImportErrorsRequest {
                account_id: b.account_id.clone(),
                batch_id: b.id.clone(),
                page_size: 1000,
                page_token,
            })
            .await?
            .into_inner();
        out.extend(page.errors);
        if page.next_page_token.is_empty() || out.len() >= ADVICE_ROWS {
            return Ok(out);
        }
        page_token = page.next_page_token;
    }
}

/// The region local numbers were read in: `--region`, else the account's (`None` if
/// the account cannot be read).
async fn import_region(client: &mut super::Client, args: &SourceArgs) -> Option<String> {
    if let Some(r) = &args.region {
        return Some(r.clone());
    }
    client
        .get_account(pb::GetAccountRequest {
            account_id: args.account.clone(),
        })
        .await
        .ok()?
        .into_inner()
        .account
        .map(|a| a.default_region)
        .filter(|r| !r.is_empty())
}

/// One line per kind of reason among the `listed` rejected rows (of `rejected`): the
/// count, what is wrong, what helps, and an example.
fn print_advice(advice: &[Advice], listed: usize, rejected: i64) {
    if advice.is_empty() {
        return;
    }
    let of = if (listed as i64) < rejected {
        format!(" (the first {listed} of {rejected})")
    } else {
        String::new()
    };
    println!();
    println!("rejected rows, by reason{of}:");
    let rows: Vec<Vec<String>> = advice
        .iter()
        .map(|a| {
            vec![
                a.rows.to_string(),
                format!("{} — {}", a.what, a.fix),
                format!("line {}: {}", a.example_line, a.example),
            ]
        })
        .collect();
    print_table(&["rows", "reason and what helps", "example"], &rows);
}

/// Downloads the batch's rejected rows into `path`, in the source file's encoding and
/// delimiter; returns the bytes written and the encoding used.
async fn write_rejected(
    client: &mut super::Client,
    b: &pb::ImportBatch,
    path: &std::path::Path,
) -> Result<(u64, &'static str)> {
    use std::io::Write;
    let mut stream = client
        .export_import_errors(pb::ExportImportErrorsRequest {
            account_id: b.account_id.clone(),
            batch_id: b.id.clone(),
        })
        .await?
        .into_inner();
    // The server's CSV (UTF-8, commas) goes to a temporary file, then is rewritten.
    let mut utf8 = tempfile::tempfile().context("a temporary file for the rejected rows")?;
    while let Some(m) = stream.message().await? {
        utf8.write_all(&m.chunk)?;
    }
    let (encoding, delimiter) = (b.encoding.clone(), b.delimiter.clone());
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        super::rejected::rewrite(utf8, &path, &encoding, &delimiter)
            .with_context(|| format!("cannot write {}", path.display()))
    })
    .await?
}

/// `contactd preview`.
pub async fn preview(args: SourceArgs) -> Result<()> {
    let opts = options(&args, None)?;
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
    if p.delimiter.is_empty() {
        println!("workbook {}", p.encoding);
    } else {
        println!("encoding {}, delimiter {:?}", p.encoding, p.delimiter);
    }
    let field_name = |m: &pb::ColumnMapping| {
        if m.custom_field_name.is_empty() {
            m.field()
                .as_str_name()
                .trim_start_matches("CONTACT_FIELD_")
                .to_lowercase()
        } else {
            format!("custom.{}", m.custom_field_name)
        }
    };
    let mapping: Vec<Vec<String>> = p
        .mapping
        .iter()
        .map(|m| vec![m.column.clone(), field_name(m)])
        .chain(
            p.unmapped_columns
                .iter()
                .map(|c| vec![c.clone(), "(ignored)".into()]),
        )
        .collect();
    print_table(&["column", "field"], &mapping);
    for column in &p.empty_columns {
        let field = p
            .mapping
            .iter()
            .find(|m| &m.column == column)
            .map(field_name)
            .unwrap_or_default();
        println!(
            "warning: column {column:?} is mapped to {field} but empty in every row; \
             if the values are in another column, --map {field}=COLUMN"
        );
    }
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
    if !p.regions.is_empty() {
        println!();
        let regions: Vec<Vec<String>> = p
            .regions
            .iter()
            .map(|r| vec![r.region.clone(), r.rows.to_string()])
            .collect();
        print_table(&["local numbers read in", "rows"], &regions);
    }
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
    print_rejected_by_kind(&p.rejected_by_kind);
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
        let region = import_region(&mut client, &args).await;
        let has_country = p
            .mapping
            .iter()
            .any(|m| m.field() == pb::ContactField::Country);
        let columns: Vec<String> = p
            .mapping
            .iter()
            .map(|m| m.column.clone())
            .chain(p.unmapped_columns.iter().cloned())
            .collect();
        let advice = advice::group(&p.errors, region.as_deref(), has_country, &columns);
        print_advice(&advice, p.errors.len(), c.invalid + c.over_limit);
    }
    Ok(())
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
