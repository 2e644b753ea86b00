//! Imports: preview (a dry run), the streaming import with its batch record, and the
//! batch and rejected-row queries.
//!
//! An import runs as three cooperating parts joined by bounded channels: a forwarder
//! task passes the client's pieces to the parsing worker (`import::pipeline`, on a
//! blocking thread), and the writer (here) commits each chunk of checked rows in one
//! write transaction (two chunks at once on PostgreSQL) that also reserves plan slots
//! and adds the chunk's counts to the batch row — so the batch's counts are always
//! exactly what is committed, whatever happens next. A client that goes away leaves a
//! `cancelled` batch; a server that dies leaves a `running` batch whose heartbeat stops.
//! Every replica sweeps for such batches at start-up and then periodically
//! ([`Services::fail_interrupted_imports`]) and marks them `failed`; a live import
//! anywhere keeps its heartbeat fresh from a task of its own (every [`HEARTBEAT_EVERY`],
//! even while a chunk is committing), so the sweep never takes it for dead.

use super::{Services, contacts::new_row, page};
use crate::domain::batch::ImportStatus;
use crate::domain::filter::{ContactStatus, name_key};
use crate::domain::{NewContact, Region, Validation};
use crate::entity::{contact, dnc_entry, import_batch, import_error};
use crate::error::{Error, Result};
use crate::import::pipeline::{self, Input, ParseOptions, Parsed, Row, RowError};
use crate::import::{ColumnMap, Counts, Header, Outcome, Rejection};
use crate::metrics::Metrics;
use crate::store;
use crate::store::import::NewRows;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::{Stream, StreamExt};
use sea_orm::ActiveValue::{NotSet, Set};
use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where an import's writer spent its time, logged when the input ends (the figures the
/// import benchmark's profile is read from). Chunks committing side by side each add
/// their own time, so the phases can sum to more than the import took.
#[derive(Debug, Default)]
struct PhaseTimes {
    /// Waiting for the parsing worker's next chunk.
    waiting_for_rows: Duration,
    /// Opening the chunk's write transaction.
    begin: Duration,
    /// Looking up the chunk's numbers on the DNC list and the account's room (near the
    /// limit, also the stored contacts).
    lookup: Duration,
    /// Building the rows.
    prepare: Duration,
    /// The contact INSERTs.
    insert: Duration,
    /// Duplicates, the plan slots, memberships, rejected rows and the batch counts.
    rest: Duration,
    commit: Duration,
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

/// By default, a batch whose heartbeat is older than this, still `running`, was
/// interrupted (`--import-stale-secs`).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);
/// Most invalid rows listed by a preview.
pub const PREVIEW_ERRORS: usize = 100;
/// How often a running import refreshes its heartbeat. The stale timeout (at least
/// 5 s) leaves room for a few missed beats on a busy database.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How often a running import reports progress while it has nothing to commit.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How many chunks of one import commit at once on PostgreSQL, each in a transaction
/// and on a connection of its own (SQLite has one writer: one at a time). Two let the
/// database insert one chunk while the next one's rows travel and its lookups run.
const PG_CHUNKS_IN_FLIGHT: usize = 2;
/// An import that added at least this many contacts refreshes the planner's statistics.
const ANALYZE_AFTER_ROWS: i64 = 10_000;
/// Most rejected rows (invalid or over the limit) one batch keeps in its rejected-row
/// list. Every rejected row is still counted; the batch's `rejected_not_stored` says how
/// many the list lacks. Without a cap, one 20 MiB file of junk lines stored ten million
/// rejected rows (2.5 GB); at the 1 GiB file cap that would be about 100 GB.
pub const MAX_STORED_REJECTED_ROWS: i64 = 10_000;
/// An import gives up once it has read at least this many rows …
pub const GIVE_UP_AFTER_ROWS: i64 = 10_000;
/// … and at least this percentage of them were invalid: the file is not a contact list
/// (or its phone column or region is wrong), and reading on would only count junk. The
/// batch ends failed; the rows committed before stay, counted.
pub const GIVE_UP_INVALID_PERCENT: i64 = 90;

/// What an import does with a row whose number is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// Leave the stored contact unchanged.
    #[default]
    Skip,
    /// Fill only the stored contact's empty fields.
    UpdateEmpty,
    /// Overwrite the stored contact's fields with the row's non-empty values.
    UpdateAll,
}

/// A checked import (or preview) request.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub account_id: String,
    pub explicit: Vec<ColumnMap>,
    /// Region for local numbers; `None` = the account's.
    pub region: Option<Region>,
    pub mode: Validation,
    pub policy: DuplicatePolicy,
    pub campaign_id: Option<String>,
    pub file_name: String,
    pub client_request_id: Option<String>,
    pub unmapped_as_custom: bool,
    pub delimiter: Option<u8>,
    pub has_header: bool,
    /// When the client's deadline passes (`grpc-timeout`): the import stops after the
    /// chunk it is committing and its batch ends cancelled.
    pub deadline: Option<tokio::time::Instant>,
}

/// The client's pieces, after the options: CSV bytes or structured rows. An `Err`
/// item means the client went away or broke the protocol.
pub type InputStream = Pin<Box<dyn Stream<Item = Result<Input>> + Send + 'static>>;

/// What a running import reports.
#[derive(Debug, Clone)]
pub enum ImportEvent {
    /// The batch, once created (first).
    Started(import_batch::Model),
    /// Committed counts so far.
    Progress { counts: Counts, bytes_read: i64 },
    /// The batch as it ended (last).
    Finished(import_batch::Model),
}

/// What a preview found.
#[derive(Debug, Clone)]
pub struct Preview {
    pub header: Header,
    pub sample: Vec<NewContact>,
    pub counts: Counts,
    /// The first invalid or over-limit rows: (line, error).
    pub errors: Vec<(i64, RowError)>,
    /// Rows with a local number, by the region it was read in (the row's country, else
    /// the import's).
    pub regions: BTreeMap<String, i64>,
    /// Mapped columns that are empty in every row.
    pub empty_columns: Vec<String>,
}

/// A started parsing pipeline whose header is known.
struct Pipeline {
    header: Header,
    parsed: mpsc::Receiver<Result<Parsed>>,
    forwarder: tokio::task::JoinHandle<Result<()>>,
    bytes: Arc<AtomicI64>,
}

impl Pipeline {
    /// Starts parsing `input`; more than `max_bytes` of file fails it with a Cap error.
    async fn start(opts: ParseOptions, mut input: InputStream, max_bytes: u64) -> Result<Pipeline> {
        let (in_tx, in_rx) = mpsc::channel::<Input>(4);
        let (out_tx, mut parsed) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || pipeline::run(opts, in_rx, out_tx));
        let bytes = Arc::new(AtomicI64::new(0));
        let counter = bytes.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(item) = input.next().await {
                let item = item?;
                if let Input::Chunk(c) = &item {
                    let total =
                        counter.fetch_add(c.len() as i64, Ordering::Relaxed) + c.len() as i64;
                    if total as u64 > max_bytes {
                        return Err(Error::Cap {
                            what: format!("the import file ({total} bytes received so far)"),
                            cap: max_bytes,
                        });
                    }
                }
                if in_tx.send(item).await.is_err() {
                    return Ok(());
                }
            }
            let _ = in_tx.send(Input::End).await;
            Ok(())
        });
        let mut p = Pipeline {
            header: Header::default(),
            parsed: mpsc::channel(1).1,
            forwarder,
            bytes,
        };
        match parsed.recv().await {
            Some(Ok(Parsed::Header(h))) => {
                p.header = h;
                p.parsed = parsed;
                Ok(p)
            }
            Some(Err(e)) => Err(e),
            Some(Ok(_)) => Err(Error::Internal("the import worker sent rows first".into())),
            None => Err(p.input_error().await),
        }
    }

    /// Why the worker stopped before the end: what the forwarder saw.
    async fn input_error(&mut self) -> Error {
        match (&mut self.forwarder).await {
            Ok(Err(e)) => e,
            _ => Error::Cancelled("the client went away before the end of the file".into()),
        }
    }
}

/// The writer's fixed context.
struct Batch<'a> {
    account_id: &'a str,
    id: &'a str,
    policy: DuplicatePolicy,
    campaign_id: Option<&'a str>,
    deadline: Option<tokio::time::Instant>,
    /// Rejected rows kept (or being kept by chunks in flight) so far, against
    /// [`MAX_STORED_REJECTED_ROWS`].
    rejected_kept: AtomicI64,
}

impl Services {
    fn parse_options(&self, req: &ImportRequest, account_region: Option<Region>) -> ParseOptions {
        ParseOptions {
            explicit: req.explicit.clone(),
            region: req.region.or(account_region),
            mode: req.mode,
            unmapped_as_custom: req.unmapped_as_custom,
            delimiter: req.delimiter,
            has_header: req.has_header,
        }
    }

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
                store::import::find_by_request(&self.db, &req.account_id, rid).await?
        {
            return replay(existing, events).await;
        }
        // Held until the import has ended, whichever way.
        let _slot = self.import_slots.take(&req.account_id)?;
        let mut pipe = by_deadline(
            req.deadline,
            Pipeline::start(
                self.parse_options(&req, Some(region)),
                input,
                self.max_import_bytes,
            ),
        )
        .await?;
        let now = self.now();
        let model = new_batch(&req, &pipe.header, now);
        let batch = match store::import::insert_batch(&self.db, model).await {
            Ok(b) => b,
            Err(e) if store::is_unique_violation(&e) => {
                // The same request id raced us: the other attempt's batch is the answer.
                let rid = req.client_request_id.as_deref().unwrap_or_default();
                let existing = store::import::find_by_request(&self.db, &req.account_id, rid)
                    .await?
                    .ok_or(e)?;
                return replay(existing, events).await;
            }
            Err(e) => return Err(e),
        };
        let _heartbeat = self.keep_alive(&batch.id);
        let ctx = Batch {
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
                let so_far = store::import::get_batch(&self.db, ctx.account_id, ctx.id).await?;
                if so_far.imported >= ANALYZE_AFTER_ROWS
                    && let Err(e) = store::import::analyze_imported(&self.db).await
                {
                    tracing::warn!(batch = ctx.id, error = %e, "statistics not refreshed after the import");
                }
                store::import::finish(
                    &self.db,
                    ctx.id,
                    ImportStatus::Completed,
                    "",
                    Some(&encoding),
                    now,
                )
                .await?;
                let done = store::import::get_batch(&self.db, ctx.account_id, ctx.id).await?;
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
                    store::import::finish(&self.db, ctx.id, end, &why, None, now).await
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

    /// Commits every chunk until the end of the input; returns the final encoding. On
    /// PostgreSQL up to [`PG_CHUNKS_IN_FLIGHT`] chunks commit at once, each in its own
    /// transaction; whichever way the import ends, the chunks already committing are
    /// seen to the end first, so the batch's counts are final when this returns.
    async fn write_all(
        &self,
        ctx: &Batch<'_>,
        pipe: &mut Pipeline,
        events: &mpsc::Sender<Result<ImportEvent>>,
    ) -> Result<String> {
        let in_flight = match store::backend(&self.writer) {
            sea_orm::DbBackend::Postgres => PG_CHUNKS_IN_FLIGHT,
            _ => 1,
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
        ctx: &Batch<'_>,
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
        let account = store::accounts::get(&self.db, ctx.account_id).await?;
        let needed = (written.in_flight_rows + next) as i64;
        if account.contact_limit - account.contact_count < needed
            && let Some(e) = written.drain(&self.metrics, commits).await
        {
            return Err(e);
        }
        Ok(())
    }

    /// Writes one chunk of rows in one transaction; returns its counts and where the
    /// time went.
    ///
    /// Every writer takes its locks in one order — contact rows, then the account's
    /// counter row, then the batch row — so the chunks of one import (and concurrent
    /// imports) insert side by side and queue only for the short end of each other's
    /// transaction. New numbers are inserted first and plan slots reserved for what was
    /// inserted; rows that do not fit after all are removed again, last lines first,
    /// in the same transaction.
    ///
    /// Nothing here waits on anything but the database, whose deadlock detection then
    /// sees every wait. New rows are inserted, and stored duplicates updated, in number
    /// order, so two imports into one account lock the numbers they share in one order.
    async fn commit_chunk(&self, ctx: &Batch<'_>, rows: Vec<Row>) -> Result<(Counts, PhaseTimes)> {
        let started = Instant::now();
        let mut times = PhaseTimes::default();
        let mut d = Counts {
            rows: rows.len() as i64,
            ..Default::default()
        };
        let mut errors = Vec::new();
        let mut candidates = Vec::new();
        for row in rows {
            match row.outcome {
                Outcome::Invalid(e) => {
                    d.reject(e.kind);
                    errors.push((row.line, error_row(ctx.id, row.line, &e, &row.raw)));
                }
                Outcome::DuplicateInFile => d.duplicates_in_file += 1,
                Outcome::Valid(c) => candidates.push((row.line, c, row.raw)),
            }
        }
        let now = self.now();
        let txn = store::begin_write(&self.writer).await?;
        let mut mark = Instant::now();
        times.begin += mark - started;
        let mut lap = |phase: &mut Duration| {
            let t = Instant::now();
            *phase += t - mark;
            mark = t;
        };
        if !candidates.is_empty() {
            let phones: Vec<String> = candidates
                .iter()
                .map(|(_, c, _)| c.phone.e164().to_string())
                .collect();
            let dnc: HashMap<String, dnc_entry::Model> =
                store::dnc::entries(&txn, ctx.account_id, &phones)
                    .await?
                    .into_iter()
                    .map(|e| (e.phone.clone(), e))
                    .collect();
            // The room as last committed, read without a lock. With room for every row
            // (the common case) all of them are inserted at once, and the numbers the
            // account already has come back as conflicts, read only then. Near the limit
            // the stored numbers are read first, so that duplicates do not take slots
            // from new numbers, and rows that cannot fit are not inserted at all.
            let account = store::accounts::get(&txn, ctx.account_id).await?;
            let room = (account.contact_limit - account.contact_count).max(0) as usize;
            let mut existing: HashMap<String, contact::Model> = HashMap::new();
            let mut dups = Vec::new();
            let mut to_insert = candidates;
            if room < to_insert.len() {
                existing = store::contacts::by_phones(&txn, ctx.account_id, &phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
                let new;
                (new, dups) = to_insert
                    .into_iter()
                    .partition(|(_, c, _)| !existing.contains_key(c.phone.e164()));
                to_insert = new;
                for (line, _, raw) in to_insert.drain(room.min(to_insert.len())..) {
                    d.reject(Rejection::OverLimit);
                    let e = over_limit(account.contact_limit);
                    errors.push((line, error_row(ctx.id, line, &e, &raw)));
                }
            }
            lap(&mut times.lookup);
            let mut by_number: Vec<_> = to_insert.iter().collect();
            by_number.sort_unstable_by(|a, b| a.1.phone.e164().cmp(b.1.phone.e164()));
            let models: Vec<_> = by_number
                .into_iter()
                .map(|(_, c, _)| {
                    let entry = dnc.get(c.phone.e164());
                    new_row(ctx.account_id, c, entry, Some(ctx.id.to_string()), now)
                })
                .collect();
            lap(&mut times.prepare);
            // New contacts' ids are needed only as campaign members.
            let want_ids = ctx.campaign_id.is_some();
            let inserted = store::import::insert_contacts(&txn, models, want_ids).await?;
            lap(&mut times.insert);
            // Inserted rows (in line order), with their ids when read.
            let mut kept: Vec<(_, Option<i64>)> = Vec::new();
            match inserted {
                NewRows::All => kept.extend(to_insert.into_iter().map(|row| (row, None))),
                NewRows::Rows(rows) => {
                    let new_ids: HashMap<String, i64> =
                        rows.into_iter().map(|r| (r.phone, r.id)).collect();
                    for row in to_insert {
                        match new_ids.get(row.1.phone.e164()) {
                            Some(&id) => kept.push((row, Some(id))),
                            // Stored before, or by a concurrent transaction: a duplicate.
                            None => dups.push(row),
                        }
                    }
                }
            }
            dups.sort_unstable_by(|a, b| a.1.phone.e164().cmp(b.1.phone.e164()));
            if !dups.is_empty() {
                let dup_phones: Vec<String> = dups
                    .iter()
                    .map(|(_, c, _)| c.phone.e164().to_string())
                    .collect();
                // Stored numbers this chunk writes (updates, or memberships that must not
                // lose their contact) are locked in number order before the first write,
                // as every writer of several contacts does; then read as they are now.
                let lock = match (ctx.policy, ctx.campaign_id) {
                    (DuplicatePolicy::Skip, None) => None,
                    (DuplicatePolicy::Skip, Some(_)) => Some(store::contacts::Lock::Memberships),
                    _ => Some(store::contacts::Lock::Update),
                };
                if let Some(lock) = lock {
                    let targets = store::contacts::Targets::Phones(&dup_phones);
                    store::contacts::lock_in_number_order(&txn, ctx.account_id, targets, lock)
                        .await?;
                }
                existing = store::contacts::by_phones(&txn, ctx.account_id, &dup_phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
            }
            let is_dnc = |c: &contact::Model| {
                ContactStatus::from_stored(&c.status) == ContactStatus::Dnc
                    || dnc.contains_key(&c.phone)
            };
            // Members: (contact id, DNC).
            let mut members: Vec<(i64, bool)> = Vec::new();
            for (_, new_values, _) in &dups {
                let Some(current) = existing.get(new_values.phone.e164()) else {
                    // Conflicted, yet not readable: deleted again since. Nothing to add.
                    d.duplicates_existing += 1;
                    continue;
                };
                let listed = is_dnc(current);
                d.dnc += listed as i64;
                match merge(current, new_values, ctx.policy, now) {
                    Some(changed) => {
                        store::contacts::update(&txn, changed).await?;
                        d.updated += 1;
                    }
                    None => d.duplicates_existing += 1,
                }
                members.push((current.id, listed));
            }
            // The counter row, once every contact row this chunk touches is locked.
            let granted =
                store::accounts::reserve_slots(&txn, ctx.account_id, kept.len() as i64, now).await?
                    as usize;
            if granted < kept.len() {
                // Another writer took the room since it was read.
                let removed: Vec<_> = kept.drain(granted..).collect();
                let phones: Vec<String> = removed
                    .iter()
                    .map(|((_, c, _), _)| c.phone.e164().to_string())
                    .collect();
                store::contacts::delete_by_phones(&txn, ctx.account_id, &phones).await?;
                let e = over_limit(account.contact_limit);
                for ((line, _, raw), _) in removed {
                    d.reject(Rejection::OverLimit);
                    errors.push((line, error_row(ctx.id, line, &e, &raw)));
                }
            }
            for ((_, c, _), id) in &kept {
                let listed = dnc.contains_key(c.phone.e164());
                d.imported += 1;
                d.dnc += listed as i64;
                if let Some(id) = id {
                    members.push((*id, listed));
                }
            }
            if let Some(campaign) = ctx.campaign_id {
                let (excluded, ids): (Vec<_>, Vec<_>) =
                    members.iter().partition(|(_, listed)| *listed);
                d.dnc_excluded = excluded.len() as i64;
                let ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
                d.added_to_campaign =
                    store::campaigns::add_members(&txn, ctx.account_id, campaign, &ids, now).await?
                        as i64;
            }
        }
        // Invalid and over-limit rows interleave; stored in line order, as many as the
        // batch still has room for.
        errors.sort_by_key(|(line, _)| *line);
        let rejected = errors.len() as i64;
        let before = ctx.rejected_kept.fetch_add(rejected, Ordering::Relaxed);
        let keep = (MAX_STORED_REJECTED_ROWS - before).clamp(0, rejected);
        errors.truncate(keep as usize);
        d.rejected_not_stored = rejected - keep;
        store::import::insert_errors(&txn, errors.into_iter().map(|(_, e)| e).collect()).await?;
        if !store::import::add_counts(&txn, ctx.id, &d, now).await? {
            txn.rollback().await?;
            return Err(Error::FailedPrecondition(format!(
                "import batch {} is no longer running",
                ctx.id
            )));
        }
        lap(&mut times.rest);
        txn.commit().await?;
        lap(&mut times.commit);
        Ok((d, times))
    }

    /// A dry run: what importing the input would do. Stores nothing.
    pub async fn preview_import(
        &self,
        req: ImportRequest,
        sample_rows: usize,
        input: InputStream,
    ) -> Result<Preview> {
        let account = store::accounts::get(&self.db, &req.account_id).await?;
        let region = Region::parse(&account.default_region).ok();
        let _slot = self.import_slots.take(&req.account_id)?;
        let mut pipe = Pipeline::start(
            self.parse_options(&req, region),
            input,
            self.max_import_bytes,
        )
        .await?;
        let mut preview = Preview {
            header: pipe.header.clone(),
            sample: Vec::new(),
            counts: Counts::default(),
            errors: Vec::new(),
            regions: BTreeMap::new(),
            empty_columns: Vec::new(),
        };
        let mut room = (account.contact_limit - account.contact_count).max(0);
        let over = over_limit(account.contact_limit);
        loop {
            let rows = match pipe.parsed.recv().await {
                None => return Err(pipe.input_error().await),
                Some(Err(e)) => return Err(e),
                Some(Ok(Parsed::Rows(rows))) => rows,
                Some(Ok(Parsed::End {
                    encoding,
                    empty_columns,
                })) => {
                    preview.header.encoding = encoding;
                    preview.empty_columns = empty_columns;
                    return Ok(preview);
                }
                Some(Ok(Parsed::Header(_))) => continue,
            };
            let c = &mut preview.counts;
            c.rows += rows.len() as i64;
            let mut valid = Vec::new();
            for row in rows {
                if let Some(r) = row.region {
                    *preview.regions.entry(r.code().to_string()).or_default() += 1;
                }
                match row.outcome {
                    Outcome::Invalid(e) => {
                        c.reject(e.kind);
                        if preview.errors.len() < PREVIEW_ERRORS {
                            preview.errors.push((row.line, e));
                        }
                    }
                    Outcome::DuplicateInFile => c.duplicates_in_file += 1,
                    Outcome::Valid(contact) => {
                        if preview.sample.len() < sample_rows {
                            preview.sample.push(contact.clone());
                        }
                        valid.push((row.line, contact));
                    }
                }
            }
            let phones: Vec<String> = valid
                .iter()
                .map(|(_, c)| c.phone.e164().to_string())
                .collect();
            let existing: HashMap<String, contact::Model> =
                store::contacts::by_phones(&self.db, &req.account_id, &phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
            let dnc: Vec<String> = store::dnc::entries(&self.db, &req.account_id, &phones)
                .await?
                .into_iter()
                .map(|e| e.phone)
                .collect();
            for (line, new_values) in valid {
                let phone = new_values.phone.e164();
                let on_dnc = match existing.get(phone) {
                    Some(current) => {
                        if merge(current, &new_values, req.policy, 0).is_some() {
                            c.updated += 1;
                        } else {
                            c.duplicates_existing += 1;
                        }
                        ContactStatus::from_stored(&current.status) == ContactStatus::Dnc
                            || dnc.iter().any(|p| p == phone)
                    }
                    None if room > 0 => {
                        room -= 1;
                        c.imported += 1;
                        dnc.iter().any(|p| p == phone)
                    }
                    None => {
                        c.reject(Rejection::OverLimit);
                        if preview.errors.len() < PREVIEW_ERRORS {
                            preview.errors.push((line, over.clone()));
                        }
                        continue;
                    }
                };
                c.dnc += on_dnc as i64;
                if req.campaign_id.is_some() {
                    if on_dnc {
                        c.dnc_excluded += 1;
                    } else {
                        c.added_to_campaign += 1;
                    }
                }
            }
        }
    }

    /// One import batch of the account.
    pub async fn get_import_batch(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<import_batch::Model> {
        store::import::get_batch(&self.db, account_id, id).await
    }

    /// A page of the account's batches, newest first, and the next page's token.
    pub async fn list_import_batches(
        &self,
        account_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<import_batch::Model>, String)> {
        store::accounts::get(&self.db, account_id).await?;
        let size = page::page_size(page_size);
        let after = decode_cursor(page_token)?;
        let mut rows = store::import::list_batches(&self.db, account_id, after, size + 1).await?;
        let next = next_page(&mut rows, size, |b| encode_cursor(b.started_at, &b.id));
        Ok((rows, next))
    }

    /// A page of a batch's rejected rows in line order, the next page's token, and how
    /// many rejected rows the batch counted but did not keep.
    pub async fn list_import_errors(
        &self,
        account_id: &str,
        batch_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<import_error::Model>, String, i64)> {
        let batch = store::import::get_batch(&self.db, account_id, batch_id).await?;
        let size = if page_size <= 0 {
            100
        } else {
            page::page_size(page_size)
        };
        let after = match decode_cursor(page_token)? {
            Some((line, id)) => Some((line, id.parse().map_err(|_| bad_token())?)),
            None => None,
        };
        let mut rows = store::import::list_errors(&self.db, batch_id, after, size + 1).await?;
        let next = next_page(&mut rows, size, |e| {
            encode_cursor(e.line, &e.id.to_string())
        });
        Ok((rows, next, batch.rejected_not_stored))
    }

    /// The batch's rejected rows as CSV — the file's own columns plus `reason` — in
    /// pieces on the receiver, read page by page (bounded memory); and how many rejected
    /// rows the batch counted but did not keep (missing from the CSV).
    pub async fn export_import_errors(
        &self,
        account_id: &str,
        batch_id: &str,
    ) -> Result<(i64, mpsc::Receiver<Result<Vec<u8>>>)> {
        let batch = store::import::get_batch(&self.db, account_id, batch_id).await?;
        let not_stored = batch.rejected_not_stored;
        let columns: Vec<String> = serde_json::from_str(&batch.header).unwrap_or_default();
        let (tx, rx) = mpsc::channel(4);
        let db = self.db.clone();
        tokio::spawn(async move {
            let mut after = None;
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut head = columns.clone();
            head.push("reason".into());
            let _ = w.write_record(&head);
            loop {
                let page = match store::import::list_errors(&db, &batch.id, after, 1000).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for e in &page {
                    let mut record: Vec<String> =
                        serde_json::from_str(&e.raw_record).unwrap_or_default();
                    if record.len() < columns.len() {
                        record.resize(columns.len(), String::new());
                    }
                    record.insert(columns.len(), e.reason.clone());
                    let _ = w.write_record(&record);
                }
                let done = page.len() < 1000;
                after = page.last().map(|e| (e.line, e.id));
                let bytes = match w.into_inner() {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Internal(e.to_string()))).await;
                        return;
                    }
                };
                w = csv::Writer::from_writer(Vec::new());
                if (!bytes.is_empty() && tx.send(Ok(bytes)).await.is_err()) || done {
                    return;
                }
            }
        });
        Ok((not_stored, rx))
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
                if store::import::finish(&svc.db, &batch_id, end, &why, None, now)
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
                if let Err(e) = store::import::heartbeat(&svc.db, &id, svc.now()).await {
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
            &self.db,
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
async fn replay(
    batch: import_batch::Model,
    events: &mpsc::Sender<Result<ImportEvent>>,
) -> Result<()> {
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

fn gone() -> Error {
    Error::Cancelled("the client went away during the import".into())
}

fn new_batch(req: &ImportRequest, header: &Header, now: i64) -> import_batch::Model {
    import_batch::Model {
        id: format!("imp_{}", uuid::Uuid::new_v4().simple()),
        account_id: req.account_id.clone(),
        client_request_id: req.client_request_id.clone(),
        status: ImportStatus::Running,
        file_name: req.file_name.clone(),
        campaign_id: req.campaign_id.clone().unwrap_or_default(),
        mapping: ColumnMap::encode_list(&header.mapping),
        delimiter: header.delimiter.clone(),
        encoding: header.encoding.clone(),
        header: serde_json::to_string(&header.columns).expect("strings serialize"),
        rows_read: 0,
        imported: 0,
        updated: 0,
        duplicates_in_file: 0,
        duplicates_existing: 0,
        invalid: 0,
        over_limit: 0,
        dnc: 0,
        dnc_excluded: 0,
        added_to_campaign: 0,
        rejected_not_stored: 0,
        rejected_invalid_phone: 0,
        rejected_missing_phone: 0,
        rejected_invalid_email: 0,
        rejected_invalid_country: 0,
        rejected_invalid_field: 0,
        rejected_ragged_row: 0,
        rejected_field_too_long: 0,
        rejected_malformed_csv: 0,
        error_message: String::new(),
        started_at: now,
        heartbeat_at: now,
        finished_at: None,
    }
}

fn over_limit(limit: i64) -> RowError {
    RowError {
        column: String::new(),
        raw_value: String::new(),
        reason: format!("the account is at its plan limit of {limit} contacts"),
        kind: Rejection::OverLimit,
    }
}

fn error_row(batch_id: &str, line: i64, e: &RowError, raw: &[String]) -> import_error::ActiveModel {
    import_error::ActiveModel {
        id: NotSet,
        batch_id: Set(batch_id.to_string()),
        line: Set(line),
        column_name: Set(e.column.clone()),
        raw_value: Set(e.raw_value.clone()),
        reason: Set(e.reason.clone()),
        kind: Set(e.kind.to_string()),
        raw_record: Set(serde_json::to_string(raw).expect("strings serialize")),
    }
}

/// The stored contact changed by a duplicate row under `policy`, or `None` if nothing
/// changes. The phone never changes, so the DNC status stays right.
fn merge(
    current: &contact::Model,
    row: &NewContact,
    policy: DuplicatePolicy,
    now: i64,
) -> Option<contact::ActiveModel> {
    if policy == DuplicatePolicy::Skip {
        return None;
    }
    let all = policy == DuplicatePolicy::UpdateAll;
    let pick = |cur: &str, new: &str| -> Option<String> {
        let take = !new.is_empty() && new != cur && (all || cur.is_empty());
        take.then(|| new.to_string())
    };
    let email = row.email.as_ref().map(|e| e.as_str()).unwrap_or_default();
    let mut active: contact::ActiveModel = current.clone().into();
    let mut changed = false;
    let (mut first, mut last) = (current.first_name.clone(), current.last_name.clone());
    if let Some(v) = pick(&current.first_name, &row.first_name) {
        first = v;
        changed = true;
    }
    if let Some(v) = pick(&current.last_name, &row.last_name) {
        last = v;
        changed = true;
    }
    for (cur, new, slot) in [
        (&current.email, email, &mut active.email),
        (&current.company, &row.company, &mut active.company),
        (&current.title, &row.title, &mut active.title),
        (&current.time_zone, &row.time_zone, &mut active.time_zone),
        (
            &current.phone_extension,
            &row.phone_extension,
            &mut active.phone_extension,
        ),
    ] {
        if let Some(v) = pick(cur, new) {
            *slot = Set(v);
            changed = true;
        }
    }
    let mut custom: BTreeMap<String, String> = super::contacts::custom_fields(current);
    for (k, v) in &row.custom_fields {
        let cur = custom.get(k).cloned().unwrap_or_default();
        if let Some(v) = pick(&cur, v) {
            custom.insert(k.clone(), v);
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    active.name_key = Set(name_key(&first, &last));
    active.last_key = Set(name_key(&last, ""));
    active.first_name = Set(first);
    active.last_name = Set(last);
    active.custom_fields = Set(serde_json::to_string(&custom).expect("strings serialize"));
    active.updated_at = Set(now);
    Some(active)
}

/// Cuts a page fetched with one extra row to `size`; the next page's token is the last
/// kept row's cursor, or empty when there was no extra row (the last page).
fn next_page<T>(rows: &mut Vec<T>, size: u64, cursor: impl Fn(&T) -> String) -> String {
    if rows.len() as u64 <= size {
        return String::new();
    }
    rows.truncate(size as usize);
    rows.last().map(cursor).unwrap_or_default()
}

fn bad_token() -> Error {
    Error::invalid("page_token", "is not a token returned by this API")
}

/// A keyset cursor of a number and a text key.
fn encode_cursor(n: i64, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{n}:{key}"))
}

fn decode_cursor(token: &str) -> Result<Option<(i64, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_token())?;
    let rest = text.strip_prefix("v1:").ok_or_else(bad_token)?;
    let (n, key) = rest.split_once(':').ok_or_else(bad_token)?;
    Ok(Some((n.parse().map_err(|_| bad_token())?, key.to_string())))
}
