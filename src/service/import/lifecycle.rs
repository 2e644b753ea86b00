//! An import's life: started (or replayed for a retried request id), its batch created,
//! its heartbeat kept, its end recorded (later, if the database is away), and the sweep
//! that fails batches a dead server left running.

use super::parsing::Parsing;
use super::writer::Writing;
use super::{HEARTBEAT_EVERY, ImportEvent, ImportRequest, InputStream};
use crate::domain::batch::{ImportBatch, ImportStatus, NewBatch};
use crate::error::{Error, Result};
use crate::import::Header;
use crate::service::Services;
use crate::store;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// An import that added at least this many contacts refreshes the planner's statistics.
const ANALYZE_AFTER_ROWS: i64 = 10_000;

impl Services {
    /// Starts an import; its events (then the end of the channel) come on the receiver.
    /// An error before the batch exists (unknown account, no phone column …) is the only
    /// item; nothing is stored then.
    pub fn import_contacts(
        &self,
        req: ImportRequest,
        input: InputStream,
    ) -> mpsc::Receiver<Result<ImportEvent>> {
        let (tx, rx) = mpsc::channel(16);
        let svc = self.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.run_import(req, input, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }

    async fn run_import(
        &self,
        req: ImportRequest,
        input: InputStream,
        events: &mpsc::Sender<Result<ImportEvent>>,
    ) -> Result<()> {
        let region = self.account_region(&req.account_id).await?;
        if let Some(rid) = &req.client_request_id
            && let Some(existing) =
                store::import::find_by_request(self.store.conn(), &req.account_id, rid).await?
        {
            return replay(existing, events).await;
        }
        // Held until the import has ended, whichever way.
        let _slot = self.import_slots.take(&req.account_id)?;
        let mut pipe = by_deadline(
            req.deadline,
            Parsing::start(
                self.parse_options(&req, Some(region)),
                input,
                self.max_import_bytes,
            ),
        )
        .await?;
        let now = self.now();
        let new = new_batch(&req, &pipe.header);
        let batch = match store::import::insert_batch(self.store.conn(), new, now).await {
            Ok(b) => b,
            Err(e) if store::is_unique_violation(&e) => {
                // The same request id raced us: the other attempt's batch is the answer.
                let rid = req.client_request_id.as_deref().unwrap_or_default();
                let existing =
                    store::import::find_by_request(self.store.conn(), &req.account_id, rid)
                        .await?
                        .ok_or(e)?;
                return replay(existing, events).await;
            }
            Err(e) => return Err(e),
        };
        let _heartbeat = self.keep_alive(&batch.id);
        let ctx = Writing {
            account_id: &req.account_id,
            id: &batch.id,
            policy: req.policy,
            campaign_id: req.campaign_id.as_deref(),
            deadline: req.deadline,
            rejected_kept: AtomicI64::new(0),
        };
        let outcome = if events
            .send(Ok(ImportEvent::Started(batch.clone())))
            .await
            .is_err()
        {
            Err(gone())
        } else {
            self.write_all(&ctx, &mut pipe, events).await
        };
        let now = self.now();
        match outcome {
            Ok(encoding) => {
                // Plans chosen before the table had statistics stay bad until autovacuum
                // gets round to it: refresh them before the batch says finished.
                let so_far =
                    store::import::get_batch(self.store.conn(), ctx.account_id, ctx.id).await?;
                if so_far.counts.imported >= ANALYZE_AFTER_ROWS
                    && let Err(e) = store::import::analyze_imported(self.store.conn()).await
                {
                    tracing::warn!(batch = ctx.id, error = %e, "statistics not refreshed after the import");
                }
                store::import::finish(
                    self.store.conn(),
                    ctx.id,
                    ImportStatus::Completed,
                    "",
                    Some(&encoding),
                    now,
                )
                .await?;
                let done =
                    store::import::get_batch(self.store.conn(), ctx.account_id, ctx.id).await?;
                let _ = events.send(Ok(ImportEvent::Finished(done))).await;
                Ok(())
            }
            Err(e) => {
                let end = if matches!(e, Error::Cancelled(_) | Error::DeadlineExceeded(_)) {
                    ImportStatus::Cancelled
                } else {
                    ImportStatus::Failed
                };
                tracing::info!(batch = ctx.id, error = %e, "import ended early: {end}");
                let why = match &e {
                    Error::Unavailable(_) => {
                        "the database became unavailable during the import; the counts say \
                         what was committed"
                            .to_string()
                    }
                    other => other.to_string(),
                };
                if let Err(not_recorded) =
                    store::import::finish(self.store.conn(), ctx.id, end, &why, None, now).await
                {
                    // Most likely the database is still away: record the real cause once it
                    // is back, before a sweep takes the batch for an interrupted one.
                    tracing::warn!(batch = ctx.id, error = %not_recorded, "recording the end of an import later");
                    self.finish_later(ctx.id.to_string(), end, why);
                }
                Err(e)
            }
        }
    }

    /// Retries recording how a batch ended, every second, for as long as the sweep would
    /// still take it for a live one (`--import-stale-secs`).
    fn finish_later(&self, batch_id: String, end: ImportStatus, why: String) {
        let svc = self.clone();
        tokio::spawn(async move {
            let give_up = Instant::now() + svc.import_stale;
            while Instant::now() < give_up {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = svc.now();
                if store::import::finish(svc.store.conn(), &batch_id, end, &why, None, now)
                    .await
                    .is_ok()
                {
                    tracing::info!(batch = batch_id, "import end recorded: {end}");
                    return;
                }
            }
            tracing::warn!(
                batch = batch_id,
                "the end of an import could not be recorded"
            );
        });
    }

    /// Refreshes the batch's heartbeat every [`HEARTBEAT_EVERY`] until the returned
    /// guard is dropped (the import ended, however it ended).
    fn keep_alive(&self, batch_id: &str) -> AbortOnDrop {
        let (svc, id) = (self.clone(), batch_id.to_string());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                if let Err(e) = store::import::heartbeat(svc.store.conn(), &id, svc.now()).await {
                    tracing::warn!(batch = id, error = %e, "import heartbeat failed");
                }
            }
        }))
    }

    /// Marks imports left `running` by a server that died (heartbeat older than the
    /// stale timeout) as failed, so no batch stays running forever. Run at start-up and
    /// periodically on every replica; a live import's heartbeat is always fresher.
    /// Returns how many.
    pub async fn fail_interrupted_imports(&self) -> Result<u64> {
        let now = self.now();
        let n = store::import::fail_stale(
            self.store.conn(),
            now - self.import_stale.as_millis() as i64,
            now,
            "interrupted: the server stopped (or lost its database for longer than \
             --import-stale-secs) during the import; the counts say what was committed",
        )
        .await?;
        if n > 0 {
            tracing::warn!(batches = n, "marked interrupted imports as failed");
        }
        Ok(n)
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers a retried request with its existing batch.
async fn replay(batch: ImportBatch, events: &mpsc::Sender<Result<ImportEvent>>) -> Result<()> {
    let _ = events.send(Ok(ImportEvent::Started(batch.clone()))).await;
    let _ = events.send(Ok(ImportEvent::Finished(batch))).await;
    Ok(())
}

/// `work`, or the deadline error if `deadline` passes first.
async fn by_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, work)
            .await
            .unwrap_or_else(|_| Err(Error::deadline_exceeded("import"))),
        None => work.await,
    }
}

pub(super) fn gone() -> Error {
    Error::Cancelled("the client went away during the import".into())
}

fn new_batch(req: &ImportRequest, header: &Header) -> NewBatch {
    NewBatch {
        id: format!("imp_{}", uuid::Uuid::new_v4().simple()),
        account_id: req.account_id.clone(),
        client_request_id: req.client_request_id.clone(),
        file_name: req.file_name.clone(),
        campaign_id: req.campaign_id.clone().unwrap_or_default(),
        mapping: header.mapping.clone(),
        delimiter: header.delimiter.clone(),
        encoding: header.encoding.clone(),
        columns: header.columns.clone(),
    }
}
