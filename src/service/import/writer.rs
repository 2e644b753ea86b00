//! The writer: commits the parsed chunks as they come (up to [`PG_CHUNKS_IN_FLIGHT`] at
//! once on PostgreSQL), reports progress, waits near the plan limit so the file's first
//! rows are the ones kept, and gives up on a file that is mostly invalid.

use super::lifecycle::gone;
use super::parsing::Parsing;
use super::{DuplicatePolicy, GIVE_UP_AFTER_ROWS, GIVE_UP_INVALID_PERCENT, ImportEvent};
use crate::error::{Error, Result};
use crate::import::Counts;
use crate::import::pipeline::Parsed;
use crate::metrics::Metrics;
use crate::service::Services;
use crate::store;
use futures::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a running import reports progress while it has nothing to commit.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How many chunks of one import commit at once on PostgreSQL, each in a transaction
/// and on a connection of its own (SQLite has one writer: one at a time). Two let the
/// database insert one chunk while the next one's rows travel and its lookups run.
const PG_CHUNKS_IN_FLIGHT: usize = 2;

/// Where an import's writer spent its time, logged when the input ends (the figures the
/// import benchmark's profile is read from). Chunks committing side by side each add
/// their own time, so the phases can sum to more than the import took.
#[derive(Debug, Default)]
pub(super) struct PhaseTimes {
    /// Waiting for the parsing worker's next chunk.
    waiting_for_rows: Duration,
    /// Opening the chunk's write transaction.
    pub(super) begin: Duration,
    /// Looking up the chunk's numbers on the DNC list and the account's room (near the
    /// limit, also the stored contacts).
    pub(super) lookup: Duration,
    /// Building the rows.
    pub(super) prepare: Duration,
    /// The contact INSERTs.
    pub(super) insert: Duration,
    /// Duplicates, the plan slots, memberships, rejected rows and the batch counts.
    pub(super) rest: Duration,
    pub(super) commit: Duration,
}

impl PhaseTimes {
    fn add(&mut self, o: &PhaseTimes) {
        self.waiting_for_rows += o.waiting_for_rows;
        self.begin += o.begin;
        self.lookup += o.lookup;
        self.prepare += o.prepare;
        self.insert += o.insert;
        self.rest += o.rest;
        self.commit += o.commit;
    }

    fn log(&self, batch: &str) {
        let ms = |d: Duration| d.as_millis() as u64;
        tracing::info!(
            batch,
            waiting_for_rows_ms = ms(self.waiting_for_rows),
            begin_ms = ms(self.begin),
            lookup_ms = ms(self.lookup),
            prepare_ms = ms(self.prepare),
            insert_ms = ms(self.insert),
            rest_ms = ms(self.rest),
            commit_ms = ms(self.commit),
            "import input written"
        );
    }
}

/// What an import's writer has committed so far, and the rows it is committing.
#[derive(Debug, Default)]
struct Written {
    counts: Counts,
    times: PhaseTimes,
    in_flight_rows: usize,
}

impl Written {
    /// Takes in a chunk that committed.
    fn settle(&mut self, metrics: &Metrics, (committed, spent): (Counts, PhaseTimes)) {
        self.in_flight_rows -= committed.rows as usize;
        metrics.count_import_rows(&committed);
        self.counts.add(&committed);
        self.times.add(&spent);
    }

    /// Waits for every chunk still committing and takes each in; returns the first
    /// error among them, if any.
    async fn drain<F>(
        &mut self,
        metrics: &Metrics,
        commits: &mut futures::stream::FuturesUnordered<F>,
    ) -> Option<Error>
    where
        F: Future<Output = Result<(Counts, PhaseTimes)>>,
    {
        let mut failed = None;
        while let Some(done) = commits.next().await {
            match done {
                Ok(done) => self.settle(metrics, done),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        failed
    }
}

/// The writer's fixed context.
pub(super) struct Writing<'a> {
    pub(super) account_id: &'a str,
    /// The batch's id.
    pub(super) id: &'a str,
    pub(super) policy: DuplicatePolicy,
    pub(super) campaign_id: Option<&'a str>,
    pub(super) deadline: Option<tokio::time::Instant>,
    /// Rejected rows kept (or being kept by chunks in flight) so far, against
    /// [`super::MAX_STORED_REJECTED_ROWS`].
    pub(super) rejected_kept: AtomicI64,
}

impl Services {
    /// Commits every chunk until the end of the input; returns the final encoding. On
    /// PostgreSQL up to [`PG_CHUNKS_IN_FLIGHT`] chunks commit at once, each in its own
    /// transaction; whichever way the import ends, the chunks already committing are
    /// seen to the end first, so the batch's counts are final when this returns.
    pub(super) async fn write_all(
        &self,
        ctx: &Writing<'_>,
        pipe: &mut Parsing,
        events: &mpsc::Sender<Result<ImportEvent>>,
    ) -> Result<String> {
        let in_flight = if self.store.parallel_writes() {
            PG_CHUNKS_IN_FLIGHT
        } else {
            1
        };
        let mut written = Written::default();
        let mut commits = futures::stream::FuturesUnordered::new();
        // The final encoding, once the input has ended.
        let mut ended = None;
        let outcome = loop {
            if commits.is_empty()
                && let Some(encoding) = ended.take()
            {
                break Ok(encoding);
            }
            // Report at least every second; stop once the deadline has passed.
            let mut wait = PROGRESS_EVERY;
            if let Some(deadline) = ctx.deadline {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break Err(Error::deadline_exceeded("import"));
                }
                wait = wait.min(left);
            }
            let waiting = Instant::now();
            tokio::select! {
                Some(done) = commits.next() => match done {
                    Ok(done) => {
                        written.settle(&self.metrics, done);
                        if let Some(e) = mostly_invalid(&written.counts) {
                            break Err(e);
                        }
                    }
                    Err(e) => break Err(e),
                },
                next = tokio::time::timeout(wait, pipe.parsed.recv()),
                    if ended.is_none() && commits.len() < in_flight => {
                    if commits.is_empty() {
                        written.times.waiting_for_rows += waiting.elapsed();
                    }
                    match next {
                        // Nothing to commit for a while (a slow upload): still report.
                        Err(_) => {}
                        Ok(None) => break Err(pipe.input_error().await),
                        Ok(Some(Err(e))) => break Err(e),
                        Ok(Some(Ok(Parsed::Rows(rows)))) => {
                            let waited =
                                self.near_limit_wait(ctx, &mut written, &mut commits, rows.len());
                            if let Err(e) = waited.await {
                                break Err(e);
                            }
                            written.in_flight_rows += rows.len();
                            commits.push(self.commit_chunk(ctx, rows));
                            continue;
                        }
                        Ok(Some(Ok(Parsed::End { encoding, .. }))) => {
                            ended = Some(encoding);
                            continue;
                        }
                        Ok(Some(Ok(Parsed::Header(_)))) => {
                            break Err(Error::Internal(
                                "the import worker sent a second header".into(),
                            ));
                        }
                    }
                }
            }
            let progress = ImportEvent::Progress {
                counts: written.counts,
                bytes_read: pipe.bytes.load(Ordering::Relaxed),
            };
            // Progress never blocks the import: a client too slow to read it misses some.
            if let Err(mpsc::error::TrySendError::Closed(_)) = events.try_send(Ok(progress)) {
                break Err(gone());
            }
        };
        let failed = written.drain(&self.metrics, &mut commits).await;
        written.times.log(ctx.id);
        match (outcome, failed) {
            (Ok(_), Some(e)) => Err(e),
            (outcome, _) => outcome,
        }
    }

    /// Before a chunk of `next` rows starts committing beside the chunks already in
    /// flight: near the limit those end first, so that this one reads the room they left
    /// and the rows kept are the file's first. (Far from it, every chunk fits whatever
    /// the order.)
    async fn near_limit_wait<F>(
        &self,
        ctx: &Writing<'_>,
        written: &mut Written,
        commits: &mut futures::stream::FuturesUnordered<F>,
        next: usize,
    ) -> Result<()>
    where
        F: Future<Output = Result<(Counts, PhaseTimes)>>,
    {
        if commits.is_empty() {
            return Ok(());
        }
        let account = store::accounts::get(self.store.conn(), ctx.account_id).await?;
        let needed = (written.in_flight_rows + next) as i64;
        if account.contact_limit - account.contact_count < needed
            && let Some(e) = written.drain(&self.metrics, commits).await
        {
            return Err(e);
        }
        Ok(())
    }
}

/// The error that ends an import whose rows are overwhelmingly invalid
/// ([`GIVE_UP_AFTER_ROWS`], [`GIVE_UP_INVALID_PERCENT`]), once its counts say so.
fn mostly_invalid(c: &Counts) -> Option<Error> {
    (c.rows >= GIVE_UP_AFTER_ROWS && c.invalid * 100 >= c.rows * GIVE_UP_INVALID_PERCENT).then(
        || {
            Error::FailedPrecondition(format!(
                "stopped after {} rows: {} of them were invalid (at least \
                 {GIVE_UP_INVALID_PERCENT} % after {GIVE_UP_AFTER_ROWS} rows); is this a \
                 contact list, with the right phone column and region? The rows before \
                 were committed and are counted",
                c.rows, c.invalid
            ))
        },
    )
}
