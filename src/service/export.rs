//! ExportContacts: a consistent snapshot of the selected contacts, streamed as CSV.
//!
//! One snapshot transaction ([`store::begin_snapshot`]) is opened per export and every
//! read happens inside it, so rows written while the export runs never appear half-way
//! and the order (id ascending) is stable. The work is a pipeline of two tasks joined by
//! bounded channels:
//!
//! ```text
//! reader (snapshot txn, keyset pages of PAGE_ROWS) --[2 pages]--> writer (CSV, ~64 KiB
//! chunks, progress every page) --[4 events]--> gRPC response stream
//! ```
//!
//! Memory is bounded by the channel capacities whatever the number of contacts. A client
//! that goes away drops the response stream: the writer's send fails and it stops, which
//! makes the reader's send fail, and the reader ends (rolling back) the snapshot.
//!
//! An export takes one of the server's export slots (`--max-concurrent-exports`, at most
//! `--max-account-exports` of them for one account) before it opens its snapshot, and
//! keeps it until its work ends; with no slot free it is refused with RESOURCE_EXHAUSTED.
//! A client that stops reading stalls the writer: after `--export-stall-secs` without
//! room for the next event the export gives up — its slot, connection and snapshot are
//! freed at once, and the client, if it ever reads on, gets what was buffered and then
//! DEADLINE_EXCEEDED saying why.
//!
//! The header of a full export has one column per custom key, so the keys are collected
//! first, inside the same snapshot, by one database-side pass (`store::export::custom_keys`);
//! a chosen column list skips that pass.

use super::Services;
use super::bulk::{BulkCounts, distinct_ids};
use crate::domain::filter::Selection;
use crate::error::{Error, Result};
use crate::export::{Column, ColumnChoice, CsvSink, ExportEvent, Page};
use crate::store;
use crate::store::Txn;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Contacts read per query inside the snapshot.
pub const PAGE_ROWS: u64 = 2_000;
/// Pages read ahead of the CSV writer.
const PAGES_AHEAD: usize = 2;
/// Events (chunks or progress) buffered ahead of the client.
const EVENTS_AHEAD: usize = 4;

impl Services {
    /// Starts an export and returns its events: CSV chunks (header first) and progress
    /// counts, then the total, then the counts: matched (contacts exported) and, for an
    /// id list, the ids that are no contact of the account as skipped `not_found`. Fails
    /// before streaming if the account does not exist.
    pub async fn export_contacts(
        &self,
        account_id: &str,
        selection: Selection,
        columns: ColumnChoice,
    ) -> Result<Running> {
        let slot = self.export_slots.take(account_id)?;
        let txn = self.store.begin_snapshot().await?;
        // The first read pins the snapshot (and answers NOT_FOUND for a wrong account).
        store::accounts::get(&txn, account_id).await?;
        let keys = if columns.needs_custom_keys() {
            store::export::custom_keys(&txn, account_id, &selection).await?
        } else {
            Vec::new()
        };
        let columns = columns.resolve(keys);
        let sink = CsvSink::new(columns)?;
        let with_campaigns = sink.columns().contains(&Column::Campaigns);
        let with_consents = sink.columns().iter().any(Column::is_consent);
        let asked = distinct_ids(&selection);
        let (page_tx, page_rx) = mpsc::channel(PAGES_AHEAD);
        let (event_tx, event_rx) = mpsc::channel(EVENTS_AHEAD);
        let reader = Reader {
            txn,
            account_id: account_id.to_string(),
            selection,
            with_campaigns,
            // Consents are live or not at the export's start, like the snapshot.
            consents_at: with_consents.then(|| self.now()),
        };
        let stalled = Arc::new(Mutex::new(None));
        let out = Events {
            tx: event_tx,
            stall: self.export_stall,
            stalled: stalled.clone(),
        };
        tokio::spawn(reader.run(page_tx));
        tokio::spawn(async move {
            write_csv(sink, asked, page_rx, out).await;
            // The slot is the writer's: a stalled export frees it although its client
            // still holds the response stream.
            drop(slot);
        });
        Ok(Running {
            events: event_rx,
            stalled,
        })
    }
}

/// Why an export stopped early while its client was not reading, for the client.
type Stalled = Arc<Mutex<Option<Error>>>;

/// The events of a running export: those sent, then the reason it gave up, if it did.
#[derive(Debug)]
pub struct Running {
    events: mpsc::Receiver<Result<ExportEvent>>,
    stalled: Stalled,
}

impl tokio_stream::Stream for Running {
    type Item = Result<ExportEvent>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        match self.events.poll_recv(cx) {
            Poll::Ready(None) => {
                let why = self
                    .stalled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                Poll::Ready(why.map(Err))
            }
            other => other,
        }
    }
}

/// Where the writer sends events: waits at most `stall` for the client to make room.
struct Events {
    tx: mpsc::Sender<Result<ExportEvent>>,
    stall: Duration,
    stalled: Stalled,
}

impl Events {
    /// Sends an event; false when the export must stop (the client went away, or read
    /// nothing for the stall time: then the reason is left for the client).
    async fn send(&self, event: Result<ExportEvent>) -> bool {
        match tokio::time::timeout(self.stall, self.tx.send(event)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                let secs = self.stall.as_secs_f64();
                tracing::info!(stall_secs = secs, "export stopped: its client read nothing");
                *self.stalled.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Error::DeadlineExceeded(format!(
                        "the export was stopped: its client read nothing for {secs} s \
                         (--export-stall-secs); the file is incomplete, export again"
                    )));
                false
            }
        }
    }
}

/// Reads the selection page by page inside the snapshot.
struct Reader {
    txn: Txn,
    account_id: String,
    selection: Selection,
    with_campaigns: bool,
    /// When consent columns are asked for: the time at which a consent must be live.
    consents_at: Option<i64>,
}

impl Reader {
    async fn run(self, pages: mpsc::Sender<Result<Page>>) {
        let mut after = 0;
        loop {
            let page = self.page(after).await;
            let last = match &page {
                Ok(p) => p.rows.last().map(|c| c.id),
                Err(_) => None,
            };
            let full = matches!(&page, Ok(p) if p.rows.len() as u64 == PAGE_ROWS);
            if pages.send(page).await.is_err() {
                break; // the writer stopped: the client went away
            }
            match last {
                Some(id) if full => after = id,
                _ => break,
            }
        }
        // Read-only: nothing to keep. Dropping would roll back too, but say it.
        if let Err(e) = self.txn.rollback().await {
            tracing::warn!(error = %e, "ending an export snapshot");
        }
    }

    async fn page(&self, after: i64) -> Result<Page> {
        let rows = store::export::page(
            &self.txn,
            &self.account_id,
            &self.selection,
            after,
            PAGE_ROWS,
        )
        .await?;
        let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
        let campaigns = if self.with_campaigns {
            store::export::campaigns(&self.txn, &self.account_id, &ids).await?
        } else {
            Default::default()
        };
        let consents = match self.consents_at {
            Some(now) => {
                store::export::latest_consents(&self.txn, &self.account_id, &ids, now).await?
            }
            None => Default::default(),
        };
        Ok(Page {
            rows,
            campaigns,
            consents,
        })
    }
}

/// Turns pages into CSV chunks and progress events until the pages end (then sends the
/// total and the counts; `asked` is the number of distinct ids of an id list), an error
/// occurs (sent to the client) or the client goes away.
async fn write_csv(
    mut sink: CsvSink,
    asked: Option<i64>,
    mut pages: mpsc::Receiver<Result<Page>>,
    events: Events,
) {
    let result: Result<bool> = async {
        while let Some(page) = pages.recv().await {
            let page = page?;
            for row in &page.rows {
                let campaigns = page.campaigns.get(&row.id).map(Vec::as_slice);
                sink.write(
                    row,
                    campaigns.unwrap_or_default(),
                    page.consents.get(&row.id),
                )?;
                if let Some(chunk) = sink.full_chunk()?
                    && !events.send(Ok(ExportEvent::Chunk(chunk))).await
                {
                    return Ok(false);
                }
            }
            if !page.rows.is_empty() && !events.send(Ok(ExportEvent::Progress(sink.rows()))).await {
                return Ok(false);
            }
        }
        let rest = sink.take()?;
        if !rest.is_empty() && !events.send(Ok(ExportEvent::Chunk(rest))).await {
            return Ok(false);
        }
        if !events.send(Ok(ExportEvent::Progress(sink.rows()))).await {
            return Ok(false);
        }
        let mut counts = BulkCounts {
            matched: sink.rows() as i64,
            ..Default::default()
        };
        if let Some(asked) = asked {
            counts.skip("not_found", asked - counts.matched);
        }
        Ok(events.send(Ok(ExportEvent::Done(counts))).await)
    }
    .await;
    match result {
        Ok(true) => {}
        Ok(false) => tracing::info!("export stopped: the client went away or stalled"),
        Err(e) => {
            events.send(Err(e)).await;
        }
    }
}
