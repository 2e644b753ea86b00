//! [`Store`]: the database as the services hold it. It owns the three connections and
//! picks the right one for each kind of work, so a use case says what it does (read,
//! write in a transaction, read a snapshot) and never which pool to use:
//!
//! - reads and statements run on their own: the main pool ([`Store::conn`]);
//! - write transactions: the writer ([`super::writer`]), on SQLite one connection, so
//!   this process's writers queue in order instead of polling the database lock
//!   ([`Store::begin_write`]);
//! - snapshots (exports): the main pool ([`Store::begin_snapshot`]);
//! - the dialer's candidate reads: a small pool that reuses their generic plan on
//!   PostgreSQL ([`super::generic_plans`], [`Store::claim_reads`]).

use super::Txn;
use super::acquire::Db;
use crate::error::Result;
use sea_orm::DatabaseConnection;

/// The database's pools, each used for the work it was made for (see the module).
#[derive(Clone, Debug)]
pub struct Store {
    /// The main pool: reads, snapshots and statements run on their own.
    pub(crate) db: Db,
    /// Where write transactions begin ([`super::writer`]).
    pub(crate) writer: Db,
    /// Where the dialer's candidate reads run ([`super::generic_plans`]).
    pub(crate) claim_reads: Db,
}

impl From<DatabaseConnection> for Store {
    fn from(db: DatabaseConnection) -> Self {
        Store::new(db)
    }
}

impl Store {
    /// The store over a connected pool (the writer and the claim-reads pool are made
    /// from it).
    pub fn new(db: DatabaseConnection) -> Self {
        Store {
            writer: Db::new(super::writer(&db)),
            claim_reads: Db::new(super::generic_plans(&db)),
            db: Db::new(db),
        }
    }

    /// Where reads, and statements run on their own outside a transaction, go: the main
    /// pool, each wait for a connection bounded by the request's deadline.
    pub fn conn(&self) -> &Db {
        &self.db
    }

    /// Begins a write transaction on the writer ([`super::begin_write`]).
    pub async fn begin_write(&self) -> Result<Txn> {
        super::begin_write(&self.writer).await
    }

    /// Begins a read-only transaction over one snapshot, on the main pool
    /// ([`super::begin_snapshot`]).
    pub async fn begin_snapshot(&self) -> Result<Txn> {
        super::begin_snapshot(&self.db).await
    }

    /// Where the dialer's candidate reads run.
    pub fn claim_reads(&self) -> &Db {
        &self.claim_reads
    }

    /// Re-checks and leases a claim's chosen members (ids, and the row versions the read
    /// saw) in a write transaction of its own on the writer, at the instant `clock` reads
    /// when the grant is made ([`super::dialer::lease_eligible`]).
    pub async fn lease_eligible(
        &self,
        lease: &super::dialer::Lease<'_>,
        e: &super::dialer::Eligibility,
        picked: (&[i64], &[i64]),
        clock: &dyn crate::domain::clock::Clock,
    ) -> Result<super::dialer::Granted> {
        super::dialer::lease_eligible(&self.writer, lease, e, picked, clock).await
    }

    /// Marks callbacks as out on a lease ending at `until`, one statement on the writer
    /// ([`super::callbacks::hold`]).
    pub async fn hold_callbacks(&self, ids: &[i64], until: i64) -> Result<()> {
        super::callbacks::hold(&self.writer, ids, until).await
    }

    /// Whether write transactions commit side by side ([`super::parallel_writes`]).
    pub fn parallel_writes(&self) -> bool {
        super::parallel_writes(&*self.writer)
    }

    /// The main pool itself (health checks, closing at shutdown).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.db
    }
}
