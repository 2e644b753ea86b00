//! Waiting for the database within the request's deadline.
//!
//! A request waits for a database connection (and, for a write transaction, for
//! SQLite's write lock) no longer than its own deadline allows, nor longer than the
//! pool's cap (`--db-acquire-timeout-ms`, PostgreSQL): then it is answered UNAVAILABLE,
//! early enough to reach the client before its deadline, instead of the client seeing
//! DEADLINE_EXCEEDED with no word of why. The gRPC layer puts each request's deadline
//! (its `grpc-timeout`, less a margin for the answer's way back) in a task-local
//! ([`with_deadline`]); here the waits read it:
//!
//! - [`begin`]: opening a transaction — the connection, then `BEGIN` (on SQLite
//!   `BEGIN IMMEDIATE`, which waits for the write lock) — is bounded as a whole;
//! - [`Db`], the pool the services hold: each statement outside a transaction is bounded
//!   until it has its connection, never while the database works on it (a slow query
//!   is not a database that cannot be reached: its client sees its own deadline pass).
//!   The pools tell when a connection was handed over through their `before_acquire`
//!   and `after_connect` hooks ([`acquired`]), which run in the acquiring task.
//!
//! Work without a deadline (no `grpc-timeout`, background tasks) waits as before.

use crate::error::{Error, Result};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use std::cell::Cell;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    /// When the current request stops waiting for the database.
    static DEADLINE: Instant;
    /// Whether the statement being bounded has its connection.
    static ACQUIRED: Cell<bool>;
}

/// The most a deadline is shortened so that an UNAVAILABLE answer reaches the client
/// before the deadline passes there: a tenth of the time the request was given, at most
/// this.
const MAX_MARGIN: Duration = Duration::from_millis(250);

/// The instant a request that arrived now with `timeout` stops waiting for the database.
pub fn wait_limit(timeout: Duration) -> Instant {
    Instant::now() + timeout - (timeout / 10).min(MAX_MARGIN)
}

/// Runs `work` with the database waits in it bounded by `deadline` (none: unbounded).
pub async fn with_deadline<F: Future>(deadline: Option<Instant>, work: F) -> F::Output {
    match deadline {
        Some(at) => DEADLINE.scope(at, work).await,
        None => work.await,
    }
}

fn deadline() -> Option<Instant> {
    DEADLINE.try_with(|at| *at).ok()
}

/// Called by the pools' hooks when they hand a connection to the current task.
pub(crate) fn acquired() {
    let _ = ACQUIRED.try_with(|a| a.set(true));
}

/// A pooled connection idle at least this long is pinged before it is handed out, and
/// replaced if the database no longer answers on it; one used more recently is handed
/// out as it is.
///
/// sqlx pings on every acquire by default (`test_before_acquire`): a round trip to the
/// database before each statement run outside a transaction — on top of the one sqlx
/// makes when the connection goes back to the pool. A dialer's claim runs two such
/// statements (its first read and its lease; more when it serves callbacks or pages on).
/// A connection that died within the last second (the database restarted) fails its
/// next statement instead, answered UNAVAILABLE like any lost connection, and is then
/// dropped by the pool (its check on release fails).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// `pool` telling [`acquired`] when it hands over an idle connection (a new one tells it
/// from the pool's `after_connect`); with `ping`, pinging those idle for
/// [`PING_IF_IDLE_FOR`] or longer first (a connection over the network), never the others.
pub(crate) fn on_acquire<DB: sea_orm::sqlx::Database>(
    pool: sea_orm::sqlx::pool::PoolOptions<DB>,
    ping: bool,
) -> sea_orm::sqlx::pool::PoolOptions<DB> {
    use sea_orm::sqlx::Connection;
    pool.test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if ping && meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                acquired();
                Ok(true)
            })
        })
}

/// The error of a wait for the database that ran out: UNAVAILABLE, retryable.
fn timed_out() -> DbErr {
    DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)
}

/// Opens a transaction within the request's deadline (see the module's comment).
pub(crate) async fn begin<T>(open: impl Future<Output = Result<T, DbErr>>) -> Result<T> {
    match deadline() {
        None => Ok(open.await?),
        Some(at) => match tokio::time::timeout_at(at, open).await {
            Ok(opened) => Ok(opened?),
            Err(_) => Err(Error::from(timed_out())),
        },
    }
}

/// Runs one statement; without a connection by the request's deadline it gives up.
async fn statement<T>(run: impl Future<Output = Result<T, DbErr>>) -> Result<T, DbErr> {
    let Some(at) = deadline() else {
        return run.await;
    };
    ACQUIRED
        .scope(Cell::new(false), async move {
            let mut run = std::pin::pin!(run);
            tokio::select! {
                done = &mut run => return done,
                () = tokio::time::sleep_until(at) => {}
            }
            if ACQUIRED.with(Cell::get) {
                run.await
            } else {
                Err(timed_out())
            }
        })
        .await
}

/// A pool whose statements outside transactions wait for a connection only within the
/// request's deadline. Everything else is the pool's ([`DatabaseConnection`]).
#[derive(Debug, Clone)]
pub struct Db(DatabaseConnection);

impl Db {
    pub fn new(pool: DatabaseConnection) -> Self {
        Db(pool)
    }
}

impl std::ops::Deref for Db {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.0
    }
}

#[tonic::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        statement(self.0.execute_raw(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        statement(self.0.execute_unprepared(sql)).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        statement(self.0.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        statement(self.0.query_all_raw(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_statement_waiting_for_its_connection_stops_at_the_deadline() {
        let at = Instant::now() + Duration::from_millis(20);
        let waited = with_deadline(
            Some(at),
            statement(std::future::pending::<Result<(), DbErr>>()),
        );
        let err = waited.await.unwrap_err();
        assert!(matches!(err, DbErr::ConnectionAcquire(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_statement_that_has_its_connection_runs_past_the_deadline() {
        let at = Instant::now() + Duration::from_millis(10);
        let work = async {
            acquired();
            tokio::time::sleep(Duration::from_millis(40)).await;
            Ok::<_, DbErr>(7)
        };
        assert_eq!(with_deadline(Some(at), statement(work)).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn without_a_deadline_nothing_is_bounded() {
        let work = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, DbErr>(1)
        };
        assert_eq!(statement(work).await.unwrap(), 1);
    }
}
