//! The data layer: SeaORM queries over a [`DatabaseConnection`]. The only module that
//! knows tables and columns. Functions take any [`ConnectionTrait`] so the service layer
//! decides the transaction boundaries.
//!
//! Both backends run the same code. Where a backend needs its own SQL (an import's rows
//! sent as `unnest` arrays on PostgreSQL, `SKIP LOCKED` row claiming) it is one function
//! here with its SQLite twin beside it, and both are tested.

pub mod accounts;
pub mod acquire;
pub mod callbacks;
pub mod calls;
pub mod campaigns;
pub mod consents;
pub mod contacts;
pub mod dialer;
pub mod dnc;
pub mod dnc_lists;
pub mod export;
pub mod filter;
pub mod handle;
pub mod import;
pub mod keys;
pub mod leases;
pub mod nodelay;
pub mod renormalize;
pub mod stats;

pub use handle::Store;

use crate::error::{Error, Result};
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, SqlxSqliteConnector, Statement,
    TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use std::{str::FromStr, time::Duration};

/// SQLite: WAL pages (4 KiB each) after which a commit checkpoints.
const WAL_CHECKPOINT_PAGES: u32 = 16_384;

/// PostgreSQL connections a pool keeps open (at most its maximum).
const MIN_PG_CONNECTIONS: u32 = 4;

/// By default, the longest a request waits for a PostgreSQL connection before it is
/// answered UNAVAILABLE (`--db-acquire-timeout-ms`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a pool for `url` with the default acquire timeout ([`connect_with`]).
pub async fn connect(
    url: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_with(url, max_connections, DEFAULT_ACQUIRE_TIMEOUT).await
}

/// Opens a pool for `url`: `sqlite:PATH` (created if missing, WAL mode) or `postgres://…`.
///
/// On PostgreSQL a request waits at most `acquire_timeout` for a connection: when the
/// database is down every connection attempt fails, and a client is better told
/// UNAVAILABLE quickly (and retries) than left waiting past its own deadline. (SQLite
/// is a file: its waits are for the write lock, bounded by the busy timeout.)
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| sea_orm::DbErr::Custom(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Checkpoint the WAL every 64 MiB instead of SQLite's 4 MiB: each checkpoint
            // fsyncs the database file, and with the default a bulk import spent about
            // half its commit time in them (4.3 s of commits at 1,000,000 rows, 1.9 s
            // with this).
            .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string())
            // Statement journals in memory: every multi-row INSERT inside a transaction
            // that already wrote keeps one (to undo just that statement), and in a
            // temporary file they were a quarter of a bulk import's insert time (17.6 s
            // -> 13.3 s at 1,000,000 rows). Queries here sort through indexes, so no
            // large temporary sort moves into memory with it.
            .pragma("temp_store", "MEMORY")
            // Writers queue behind the one SQLite write lock instead of failing.
            .busy_timeout(Duration::from_secs(30));
        let pool = sqlite_pool()
            .max_connections(max_connections.max(2))
            .connect_with(options)
            .await
            .map_err(|e| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else {
        let mut options = ConnectOptions::new(url.to_owned());
        // A Unix-socket URL has no TCP to tune.
        let tcp_port = sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)
            .ok()
            .filter(|o| !o.get_host().starts_with('/'))
            .map(|o| o.get_port());
        options.map_sqlx_postgres_pool_opts(move |pool| {
            acquire::on_acquire(pool, true).after_connect(move |_, _| {
                acquire::acquired();
                Box::pin(async move {
                    if let Some(port) = tcp_port {
                        nodelay::on_sockets_to(port);
                    }
                    Ok(())
                })
            })
        });
        options
            .max_connections(max_connections)
            // Kept open from the start: a request that has to open a connection waits for
            // a new backend and its first planning (~95 ms here), which was the dialer
            // claims' p99 under four concurrent dialers.
            .min_connections(max_connections.min(MIN_PG_CONNECTIONS))
            .connect_timeout(acquire_timeout)
            .acquire_timeout(acquire_timeout)
            .sqlx_logging(false);
        Database::connect(options).await
    }
}

/// The connection write transactions begin on. SQLite: a pool of one connection over
/// the same database, so that this process's writers wait their turn in the pool's queue
/// (woken the moment the previous writer commits) instead of in SQLite's busy handler,
/// which sleeps in steps of up to 100 ms between tries: with four dialers claiming at
/// once those sleeps were the claims' p99. Other processes on the same file still meet
/// the busy timeout. PostgreSQL: the pool itself (row locks, no single writer).
pub fn writer(db: &DatabaseConnection) -> DatabaseConnection {
    if db.get_database_backend() != DbBackend::Sqlite {
        return db.clone();
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let pool = sqlite_pool()
        .max_connections(1)
        .connect_lazy_with((*options).clone());
    SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// The options every SQLite pool starts from.
fn sqlite_pool() -> SqlitePoolOptions {
    // An in-process connection cannot go stale: no ping before use.
    acquire::on_acquire(SqlitePoolOptions::new(), false).after_connect(|_, _| {
        acquire::acquired();
        Box::pin(async { Ok(()) })
    })
}

/// PostgreSQL connections of the [`generic_plans`] pool.
const GENERIC_PLAN_CONNECTIONS: u32 = 4;

/// A small second pool on the same database whose connections always reuse a prepared
/// statement's generic plan (PostgreSQL's `plan_cache_mode = force_generic_plan`), for
/// statements run very often whose best plan does not depend on their parameters.
///
/// PostgreSQL plans a prepared statement anew for each execution while its generic
/// plan's estimated cost stays above the plans made for the actual values. The dialer's
/// candidate read is such a statement: a `LIMIT $n` and a cursor bound leave the generic
/// estimate at ~465 against ~26 for a custom plan, so every claim paid ~0.7 ms of
/// planning for the same index walk (both plans in `EXPLAIN`: an index scan of the
/// campaign's members from the cursor, merge-joined to contacts by id). With this pool,
/// in back-to-back runs of the claims benchmark, PostgreSQL's CPU time per claim was
/// 2.8–2.9 ms against 3.0–3.5 ms without. Other queries (searches, filters) keep
/// per-value plans in the main pool. SQLite: the pool itself.
///
/// Its connections also plan without sequential scans (`enable_seqscan = off`): a
/// generic plan made while `dial_state` looked empty (analyzed before the first lease,
/// as on a fresh database or right after a bulk load) joined it by a sequential scan
/// per candidate member, the whole table each time, and kept that plan until autovacuum
/// next analyzed it: the candidate read grew from 0.5 ms to 100 ms after 15,000 leases
/// and 220 ms after 35,000 (measured in psql, `EXPLAIN ANALYZE` of the generic plan).
/// Every table the statements of this pool read has the index they look up by.
pub fn generic_plans(db: &DatabaseConnection) -> DatabaseConnection {
    use sea_orm::{SqlxPostgresConnector, sqlx::postgres::PgPoolOptions};
    if db.get_database_backend() != DbBackend::Postgres {
        return db.clone();
    }
    let options = (*db.get_postgres_connection_pool().connect_options())
        .clone()
        .options([
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
        ]);
    let tcp_port = (!options.get_host().starts_with('/')).then(|| options.get_port());
    let acquire_timeout = db
        .get_postgres_connection_pool()
        .options()
        .get_acquire_timeout();
    let pool = acquire::on_acquire(PgPoolOptions::new(), true)
        .max_connections(GENERIC_PLAN_CONNECTIONS)
        // Kept open from the start, as in the main pool: a claim that had to open one
        // waited ~95 ms for it (the p99 of four dialers when they were opened on demand).
        .min_connections(GENERIC_PLAN_CONNECTIONS)
        .acquire_timeout(acquire_timeout)
        .after_connect(move |_, _| {
            acquire::acquired();
            Box::pin(async move {
                if let Some(port) = tcp_port {
                    nodelay::on_sockets_to(port);
                }
                Ok(())
            })
        })
        .connect_lazy_with(options);
    // sqlx opens a lazy pool's minimum only when it first reaps idle connections (after
    // ten minutes): open them now, in the background.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let pool = pool.clone();
        runtime.spawn(async move {
            let mut opened = Vec::new();
            for _ in 0..GENERIC_PLAN_CONNECTIONS {
                match pool.acquire().await {
                    Ok(conn) => opened.push(conn),
                    Err(e) => tracing::warn!(error = %e, "opening the generic-plan pool"),
                }
            }
        });
    }
    SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
}

/// A transaction a service holds across several store calls, begun by [`begin_write`]
/// or [`begin_snapshot`] (and ended by its `commit` or `rollback`). Services name it by
/// this name only: what it is made of is the store's business.
pub type Txn = DatabaseTransaction;

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is
/// taken up front and concurrent writers queue (with the busy timeout) instead of
/// failing on a read-to-write upgrade. On PostgreSQL, a plain `BEGIN`. Waiting for the
/// connection and the lock is bounded by the request's deadline ([`acquire`]).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    acquire::begin(db.begin_with_options(options)).await
}

/// Begins a read-only transaction that sees one consistent snapshot of the database for
/// its whole life (exports read many pages inside it). On PostgreSQL it is
/// `REPEATABLE READ READ ONLY`, whose snapshot is taken at the first query; on SQLite a
/// deferred transaction, whose snapshot (WAL mode) is taken at the first read and which
/// does not block writers. Callers should read inside it at once to pin the snapshot.
/// Waiting for the connection is bounded by the request's deadline ([`acquire`]).
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    acquire::begin(async {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(sea_orm::IsolationLevel::RepeatableRead),
                    Some(sea_orm::AccessMode::ReadOnly),
                )
                .await
            }
            _ => db.begin().await,
        }
    })
    .await
}

/// True if `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &Error) -> bool {
    match err {
        Error::Database(e) => matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ),
        _ => false,
    }
}

/// Whether write transactions on `db` can commit side by side (PostgreSQL: row locks)
/// rather than one after the other (SQLite: one write lock for the whole database).
pub fn parallel_writes<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// The backend of a connection (for the few backend-specific functions).
pub fn backend<C: ConnectionTrait>(db: &C) -> DbBackend {
    db.get_database_backend()
}

/// Applies pending migrations. On PostgreSQL a session advisory lock makes replicas that
/// start together migrate one at a time.
pub async fn migrate(url: &str) -> Result<(), sea_orm::DbErr> {
    use migration::MigratorTrait;
    let db = connect(url, 1).await?;
    let pg = db.get_database_backend() == DbBackend::Postgres;
    if pg {
        db.execute_unprepared("SELECT pg_advisory_lock(7036142)")
            .await?;
    }
    let result = migration::Migrator::up(&db, None).await;
    if pg {
        db.execute_unprepared("SELECT pg_advisory_unlock(7036142)")
            .await?;
    }
    db.close().await?;
    result
}

/// How many of this build's migrations the database has not applied. Read-only (it does
/// not create the migrations table, as sea-orm-migration's own check would); a database
/// that cannot be read counts as having them all pending.
pub async fn pending_migrations(db: &DatabaseConnection) -> usize {
    use migration::MigratorTrait;
    let known = migration::Migrator::migrations();
    let applied: Vec<String> = match db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await
    {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.try_get::<String>("", "version").ok())
            .collect(),
        Err(_) => return known.len(),
    };
    known
        .iter()
        .filter(|m| !applied.iter().any(|a| a == m.name()))
        .count()
}

/// Keys (numbers, ids) per statement where a set-based write or lookup takes a list:
/// rows of up to six columns stay under SQLite's parameter cap.
pub(crate) const KEYS_PER_STATEMENT: usize = 1_000;

/// Rows of `table` in the account whose `phone` is one of `phones`.
///
/// PostgreSQL: one text parameter split server-side (E.164 has no commas), and one
/// probe of the `(account_id, phone)` unique index per number (a `LATERAL … LIMIT 1`
/// the planner cannot turn into a join). A plain `phone = ANY(…)` depends on
/// statistics: while an import grows the table before autovacuum has analyzed it, the
/// planner read the whole account for every chunk (110 ms per 2,000 numbers at 200,000
/// contacts, growing with the table), which made large imports quadratic. SQLite: an
/// `IN` list of parameters (its planner uses the unique index without statistics).
pub(crate) async fn rows_by_phone<C, E>(
    db: &C,
    table: &str,
    phone: E::Column,
    account_id: &str,
    phones: &[String],
) -> Result<Vec<E::Model>>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Column: ColumnTrait,
{
    // Here only: its min/max would shadow the integers' elsewhere in this module.
    use sea_orm::sea_query::ExprTrait;
    let mut out = Vec::new();
    for part in phones.chunks(KEYS_PER_STATEMENT) {
        let rows = if db.get_database_backend() == DbBackend::Postgres {
            let sql = format!(
                "SELECT t.* FROM unnest(string_to_array($2, ',')) AS p(phone) \
                 CROSS JOIN LATERAL (SELECT * FROM {table} \
                 WHERE account_id = $1 AND phone = p.phone LIMIT 1) AS t"
            );
            E::find()
                .from_raw_sql(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    [account_id.into(), part.join(",").into()],
                ))
                .all(db)
                .await?
        } else {
            E::find()
                .filter(Expr::col(Alias::new("account_id")).eq(account_id))
                .filter(phone.is_in(part.iter().cloned()))
                .all(db)
                .await?
        };
        out.extend(rows);
    }
    Ok(out)
}
