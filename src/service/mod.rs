//! Use cases and their transactions. No tonic types and no SQL here: handlers call these
//! with domain values, these call `store` within the transaction they choose.

pub mod accounts;
pub mod bulk;
pub mod calls;
pub mod campaigns;
pub mod contacts;
pub mod dialer;
pub mod dnc;
pub mod export;
pub mod import;
pub mod keys;
pub mod page;
pub mod renormalize;

use crate::domain::Clock;
use crate::domain::apikey::Principal;
use crate::metrics::Metrics;
use crate::store;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Verdicts on recently seen tokens: hash → (principal, when checked).
type AuthCache = Arc<Mutex<HashMap<String, (Principal, i64)>>>;

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

/// Slots for one kind of long-running work on this server (imports, exports): whoever
/// holds a permit runs; with none left, the work is refused with RESOURCE_EXHAUSTED.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    permits: Arc<tokio::sync::Semaphore>,
    cap: usize,
    /// What runs, plural ("exports").
    what: &'static str,
    /// The flag that sets the cap.
    flag: &'static str,
}

impl Slots {
    fn new(cap: usize, what: &'static str, flag: &'static str) -> Self {
        let cap = cap.max(1);
        Slots {
            permits: Arc::new(tokio::sync::Semaphore::new(cap)),
            cap,
            what,
            flag,
        }
    }

    /// A slot, held until the permit is dropped.
    pub(crate) fn take(&self) -> crate::error::Result<tokio::sync::OwnedSemaphorePermit> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| crate::error::Error::Cap {
                what: format!(
                    "the number of {} running at once on this server ({}; retry when one \
                     has finished)",
                    self.what, self.flag
                ),
                cap: self.cap as u64,
            })
    }
}

fn export_slots(cap: usize) -> Slots {
    Slots::new(cap, "exports", "--max-concurrent-exports")
}

fn import_slots(cap: usize) -> Slots {
    Slots::new(cap, "imports and previews", "--max-concurrent-imports")
}

/// Everything a use case needs: the database pool and the clock.
#[derive(Clone, Debug)]
pub struct Services {
    pub(crate) db: DatabaseConnection,
    /// Where write transactions begin ([`store::writer`]): on SQLite one connection, so
    /// this process's writers queue in order instead of polling the database lock.
    pub(crate) writer: DatabaseConnection,
    /// Where the dialer's candidate reads run ([`store::generic_plans`]): on PostgreSQL
    /// a small pool that reuses their generic plan instead of planning every claim.
    pub(crate) claim_reads: DatabaseConnection,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) auth_cache: AuthCache,
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
}

impl Services {
    /// Services over a connected, migrated database.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            writer: store::writer(&db),
            claim_reads: store::generic_plans(&db),
            db,
            clock,
            auth_cache: AuthCache::default(),
            metrics: Arc::new(Metrics::new()),
            scan_hints: Default::default(),
            import_stale: import::DEFAULT_STALE_AFTER,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            export_slots: export_slots(DEFAULT_MAX_CONCURRENT_EXPORTS),
            import_slots: import_slots(DEFAULT_MAX_CONCURRENT_IMPORTS),
        }
    }

    /// Sets how many exports may run at once on this server (at least one).
    pub fn with_max_concurrent_exports(mut self, max: usize) -> Self {
        self.export_slots = export_slots(max);
        self
    }

    /// Sets how many imports and previews may run at once on this server (at least one).
    pub fn with_max_concurrent_imports(mut self, max: usize) -> Self {
        self.import_slots = import_slots(max);
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
        match crate::store::stats::live_leases(&self.db, self.now()).await {
            Ok(n) => self.metrics.active_leases.set(n as i64),
            Err(e) => tracing::warn!(error = %e, "cannot count live leases for metrics"),
        }
    }

    /// The database pool (for health checks).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}
