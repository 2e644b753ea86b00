//! `contactd export`: streams an ExportContacts answer into a file (or stdout) with a
//! progress line on stderr. A file is written beside its destination as `<file>.partial`
//! and renamed into place only when the export completed, so a failed or interrupted
//! export never leaves a truncated CSV under the requested name.

use crate::config::{ExportArgs, StatusArg};
use crate::pb::{self, contact_selection::Selection, export_contacts_response::Event};
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Runs an export against the server in `args`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let mut client = super::connect(&args.server).await?;
    let request = request(&args);
    let mut stream = client
        .export_contacts(request)
        .await
        .context("export refused")?
        .into_inner();
    let mut out = Output::open(&args.output)?;
    let mut progress = Progress::new();
    while let Some(msg) = stream.message().await.context("export failed")? {
        match msg.event {
            Some(Event::Chunk(bytes)) => {
                out.write_all(&bytes)?;
                progress.bytes += bytes.len() as u64;
            }
            Some(Event::RowsWritten(rows)) => progress.update(rows),
            // A filter skips nothing: the counts say no more than the total did.
            Some(Event::Result(_)) | None => {}
        }
    }
    let destination = out.finish()?;
    progress.done(&destination);
    Ok(())
}

/// The ExportContacts request for the command line's filter and columns.
fn request(args: &ExportArgs) -> pb::ExportContactsRequest {
    let status = match args.status {
        None => pb::ContactStatus::Unspecified,
        Some(StatusArg::Active) => pb::ContactStatus::Active,
        Some(StatusArg::Dnc) => pb::ContactStatus::Dnc,
    };
    let ts = |t: &chrono::DateTime<chrono::Utc>| crate::grpc::convert::ts(t.timestamp_millis());
    let filter = pb::ContactFilter {
        query: args.query.clone().unwrap_or_default(),
        status: status as i32,
        campaign_id: args.campaign.clone().unwrap_or_default(),
        last_called_after: args.called_after.as_ref().map(ts),
        last_called_before: args.called_before.as_ref().map(ts),
        never_called: args.never_called,
    };
    pb::ExportContactsRequest {
        account_id: args.account.clone(),
        selection: Some(pb::ContactSelection {
            selection: Some(Selection::Filter(filter)),
        }),
        columns: args.columns.clone(),
    }
}

/// Where the CSV goes: stdout, or a `.partial` file renamed into place at the end (and
/// removed if the export fails).
struct Output {
    writer: Box<dyn Write + Send>,
    /// (partial file, destination) when writing a file.
    file: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn open(target: &str) -> anyhow::Result<Output> {
        if target == "-" {
            return Ok(Output {
                writer: Box::new(std::io::stdout()),
                file: None,
            });
        }
        // Only a regular file (or a new one) gets the rename-into-place treatment: renaming
        // over /dev/null or a FIFO would replace the device with a plain file.
        let special = std::fs::metadata(target).is_ok_and(|m| !m.file_type().is_file());
        if special {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .with_context(|| format!("cannot open {target}"))?;
            return Ok(Output {
                writer: Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
                file: None,
            });
        }
        let partial = PathBuf::from(format!("{target}.partial"));
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(Output {
            writer: Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
            file: Some((partial, PathBuf::from(target))),
        })
    }

    fn write_all(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.writer.write_all(bytes).context("writing the export")
    }

    /// Flushes and moves the file into place; returns where the CSV went.
    fn finish(mut self) -> anyhow::Result<String> {
        self.writer.flush().context("writing the export")?;
        match self.file.take() {
            None => Ok("the output".into()),
            Some((partial, path)) => {
                std::fs::rename(&partial, &path)
                    .with_context(|| format!("cannot move the export to {}", path.display()))?;
                Ok(path.display().to_string())
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Only an unfinished export still has its file here.
        if let Some((partial, _)) = &self.file {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// The progress line on stderr (redrawn in place on a terminal, one summary otherwise).
struct Progress {
    started: Instant,
    rows: i64,
    bytes: u64,
    live: bool,
}

impl Progress {
    fn new() -> Self {
        Progress {
            started: Instant::now(),
            rows: 0,
            bytes: 0,
            live: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, rows: i64) {
        self.rows = rows;
        if self.live {
            eprint!("\r{}", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "exported {} rows, {:.1} MiB, {:.0} rows/s",
            self.rows,
            self.bytes as f64 / (1024.0 * 1024.0),
            self.rows as f64 / secs
        )
    }

    fn done(&self, destination: &str) {
        if self.live {
            eprint!("\r");
        }
        eprintln!("{} to {destination}", self.line());
    }
}
