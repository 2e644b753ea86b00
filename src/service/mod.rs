//! Use cases and their transactions. No tonic types and no SQL here: handlers call these
//! with domain values, these call `store` within the transaction they choose.
//!
//! Services take and return domain types (`crate::domain`: `Account`, `Contact`,
//! `Call`, `CallRequest`, `Consent`, `DncEntry`, `DncList`, `ImportBatch`, …); the
//! store builds the rows and decodes them. A transaction is held as `store::Txn`, and
//! a row the store builds for later (`store::contacts::NewRow`, `store::import::NewError`)
//! is opaque here.
//!
//! There are no exceptions: no service names a table's row or a SeaORM type (the
//! dialer's leased contacts are domain `Contact`s, callbacks are
//! `domain::callback::Callback`s).
//!
//! The database is one [`Store`] handle: a use case reads through `store.conn()` and
//! writes in `store.begin_write()`'s transaction; the store picks the pool for each.

pub mod accounts;
pub mod bulk;
pub mod call_requests;
pub mod callbacks;
pub mod calls;
pub mod campaigns;
pub mod consents;
pub mod contacts;
pub mod dialable;
pub mod dialer;
pub mod dnc;
pub mod dnc_lists;
pub mod export;
pub mod import;
pub mod keys;
pub mod page;
pub mod renormalize;
pub mod templates;

use crate::domain::Clock;
use crate::metrics::Metrics;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default cap on one import file: 1 GiB (about 12 million typical rows).
pub const DEFAULT_MAX_IMPORT_BYTES: u64 = 1 << 30;

/// The default cap on exports running at once on one server. Each holds a snapshot
/// transaction, so a connection of the read pool (16 by default), for as long as its
/// client takes to download: without a cap, a burst of slow exports would take every
/// connection and stall searches and dialer claims.
pub const DEFAULT_MAX_CONCURRENT_EXPORTS: usize = 4;

/// The default cap on imports and previews running at once on one server. Each holds a
/// parsing thread and about 40 MiB of buffers while it runs.
pub const DEFAULT_MAX_CONCURRENT_IMPORTS: usize = 4;

/// The default cap on one account's exports running at once on one server: half the
/// server's, so that one tenant's exports (stalled ones included) never take every slot.
pub const DEFAULT_MAX_ACCOUNT_EXPORTS: usize = 2;

/// The default cap on one account's imports and previews running at once on one server.
pub const DEFAULT_MAX_ACCOUNT_IMPORTS: usize = 2;

/// The default time an export waits for its client to read before it gives up: the
/// export ends with DEADLINE_EXCEEDED and frees its slot, connection and snapshot.
pub const DEFAULT_EXPORT_STALL: Duration = Duration::from_secs(60);

/// Slots for one kind of long-running work on this server (imports, exports): whoever
/// holds a permit runs; with none left, the work is refused with RESOURCE_EXHAUSTED.
/// Each account also has a cap of its own, below the server's, so that one tenant can
/// never hold every slot and refuse the others.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    permits: Arc<tokio::sync::Semaphore>,
    cap: usize,
    /// Slots each account holds now (accounts holding none are not listed).
    held: Arc<Mutex<HashMap<String, usize>>>,
    per_account: usize,
    /// What runs, plural ("exports").
    what: &'static str,
    /// The flags that set the caps (server, account).
    flags: (&'static str, &'static str),
}

/// A slot of [`Slots`], given back (to the server and to its account) when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    held: Arc<Mutex<HashMap<String, usize>>>,
    account: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.account) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.account);
            }
        }
    }
}

impl Slots {
    fn new(
        cap: usize,
        per_account: usize,
        what: &'static str,
        flags: (&'static str, &'static str),
    ) -> Self {
        let cap = cap.max(1);
        Slots {
            permits: Arc::new(tokio::sync::Semaphore::new(cap)),
            cap,
            held: Default::default(),
            per_account: per_account.max(1),
            what,
            flags,
        }
    }

    /// A slot for `account`, held until dropped. Refused when the account holds its
    /// cap already, or the server has none left.
    pub(crate) fn take(&self, account: &str) -> crate::error::Result<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.get(account).copied().unwrap_or(0);
        if mine >= self.per_account {
            return Err(crate::error::Error::Cap {
                what: format!(
                    "the number of {} of account {account} running at once on this server \
                     ({}; retry when one has finished)",
                    self.what, self.flags.1
                ),
                cap: self.per_account as u64,
            });
        }
        let permit =
            self.permits
                .clone()
                .try_acquire_owned()
                .map_err(|_| crate::error::Error::Cap {
                    what: format!(
                        "the number of {} running at once on this server ({}; retry when one \
                     has finished)",
                        self.what, self.flags.0
                    ),
                    cap: self.cap as u64,
                })?;
        held.insert(account.to_string(), mine + 1);
        Ok(Slot {
            _permit: permit,
            held: self.held.clone(),
            account: account.to_string(),
        })
    }
}

fn export_slots(cap: usize, per_account: usize) -> Slots {
    Slots::new(
        cap,
        per_account,
        "exports",
        ("--max-concurrent-exports", "--max-account-exports"),
    )
}

fn import_slots(cap: usize, per_account: usize) -> Slots {
    Slots::new(
        cap,
        per_account,
        "imports and previews",
        ("--max-concurrent-imports", "--max-account-imports"),
    )
}

/// Everything a use case needs: the database ([`Store`], which picks the connection
/// for each kind of work) and the clock.
#[derive(Clone, Debug)]
pub struct Services {
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auth_cache: keys::AuthCache,
    pub(crate) metrics: Arc<Metrics>,
    /// Where this replica's next dialer claim starts scanning each campaign.
    pub(crate) scan_hints: Arc<dialer::ScanHints>,
    /// A running import whose heartbeat is older than this was interrupted.
    pub(crate) import_stale: Duration,
    /// The largest import file accepted, in bytes.
    pub(crate) max_import_bytes: u64,
    /// Exports that may run at once on this server.
    pub(crate) export_slots: Slots,
    /// Imports and previews that may run at once on this server.
    pub(crate) import_slots: Slots,
    /// How long an export waits for its client to read before it gives up.
    pub(crate) export_stall: Duration,
}

impl Services {
    /// Services over a connected, migrated database (a pool, or a [`Store`] over one).
    pub fn new(db: impl Into<Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: db.into(),
            clock,
            auth_cache: keys::AuthCache::default(),
            metrics: Arc::new(Metrics::new()),
            scan_hints: Default::default(),
            import_stale: import::DEFAULT_STALE_AFTER,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            export_slots: export_slots(DEFAULT_MAX_CONCURRENT_EXPORTS, DEFAULT_MAX_ACCOUNT_EXPORTS),
            import_slots: import_slots(DEFAULT_MAX_CONCURRENT_IMPORTS, DEFAULT_MAX_ACCOUNT_IMPORTS),
            export_stall: DEFAULT_EXPORT_STALL,
        }
    }

    /// Sets how many exports may run at once on this server, and of one account (each
    /// at least one).
    pub fn with_max_concurrent_exports(mut self, max: usize, per_account: usize) -> Self {
        self.export_slots = export_slots(max, per_account);
        self
    }

    /// Sets how many imports and previews may run at once on this server, and of one
    /// account (each at least one).
    pub fn with_max_concurrent_imports(mut self, max: usize, per_account: usize) -> Self {
        self.import_slots = import_slots(max, per_account);
        self
    }

    /// Sets how long an export waits for its client to read before it gives up.
    pub fn with_export_stall(mut self, stall: Duration) -> Self {
        self.export_stall = stall;
        self
    }

    /// Sets the largest import file accepted.
    pub fn with_max_import_bytes(mut self, max: u64) -> Self {
        self.max_import_bytes = max;
        self
    }

    /// The same services, counting a running import as interrupted once its heartbeat
    /// is older than `stale`.
    pub fn with_import_stale(mut self, stale: Duration) -> Self {
        self.import_stale = stale;
        self
    }

    /// Now, in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The metrics this replica records.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Refreshes gauges that are read from the database (before a scrape).
    pub async fn refresh_gauges(&self) {
        match crate::store::stats::live_leases(self.store.conn(), self.now()).await {
            Ok(n) => self.metrics.active_leases.set(n as i64),
            Err(e) => tracing::warn!(error = %e, "cannot count live leases for metrics"),
        }
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
