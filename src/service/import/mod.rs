//! Imports: the streaming import with its batch record, a preview (a dry run), and the
//! batch and rejected-row queries.
//!
//! An import runs as three cooperating parts joined by bounded channels: a forwarder
//! task passes the client's pieces to the parsing worker (`crate::import::pipeline`, on
//! a blocking thread; [`parsing`]), and the writer ([`writer`]) commits each chunk of
//! checked rows in one write transaction ([`chunk`]; two chunks at once on PostgreSQL)
//! that also reserves plan slots and adds the chunk's counts to the batch row — so the
//! batch's counts are always exactly what is committed, whatever happens next. A client
//! that goes away leaves a `cancelled` batch; a server that dies leaves a `running`
//! batch whose heartbeat stops. Every replica sweeps for such batches at start-up and
//! then periodically ([`Services::fail_interrupted_imports`]) and marks them `failed`; a
//! live import anywhere keeps its heartbeat fresh from a task of its own (every
//! [`HEARTBEAT_EVERY`], even while a chunk is committing), so the sweep never takes it
//! for dead ([`lifecycle`]).
//!
//! - [`lifecycle`]: start, replay of a retried request, the end recorded, heartbeat, sweep.
//! - [`parsing`]: the client's input handed to the parsing worker, its header read.
//! - [`writer`]: chunks committed side by side, progress, the give-up rule.
//! - [`chunk`]: one chunk's write transaction (and how a duplicate row merges).
//! - [`preview`]: the dry run.
//! - [`batches`]: batch and rejected-row queries, the rejected rows as CSV.

mod batches;
mod chunk;
mod lifecycle;
mod parsing;
mod preview;
mod writer;

pub use preview::ImportPreview;

use crate::domain::batch::ImportBatch;
use crate::domain::{Region, Validation};
use crate::error::Result;
use crate::import::pipeline::Input;
use crate::import::{ColumnMap, Counts};
use futures::Stream;
use std::pin::Pin;
use std::time::Duration;

/// By default, a batch whose heartbeat is older than this, still `running`, was
/// interrupted (`--import-stale-secs`).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);
/// Most invalid rows listed by a preview.
pub const PREVIEW_ERRORS: usize = 100;
/// How often a running import refreshes its heartbeat. The stale timeout (at least
/// 5 s) leaves room for a few missed beats on a busy database.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
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
    Started(ImportBatch),
    /// Committed counts so far.
    Progress { counts: Counts, bytes_read: i64 },
    /// The batch as it ended (last).
    Finished(ImportBatch),
}
