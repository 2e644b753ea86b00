//! `TCP_NODELAY` on the PostgreSQL connections.
//!
//! sqlx 0.9.0 opens its TCP sockets without `TCP_NODELAY` (it used to set it; see
//! transact-rs/sqlx#4335), and offers no hook onto the socket. With Nagle's algorithm on,
//! every statement whose message spans more than one segment (an import chunk's rows, a
//! long id list) waits for the server's delayed ACK before its last segment goes out: a
//! flat 40 ms on top of the statement. Measured: an import chunk's INSERT took 85 ms over
//! TCP and 41 ms over a Unix socket to the same server.
//!
//! So, right after sqlx opens a connection, this finds the process's TCP sockets whose
//! peer is the database's port and sets the option on them (on Linux, through
//! `/proc/self/fd`; elsewhere it does nothing). Setting it on a socket that already has
//! it, or on another socket to the same port, is harmless.

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to `port`; returns
/// how many it changed.
#[cfg(target_os = "linux")]
pub fn on_sockets_to(port: u16) -> usize {
    let mut changed = 0;
    for_each_socket(|socket| {
        let to_db = socket
            .peer_addr()
            .ok()
            .and_then(|peer| peer.as_socket())
            .is_some_and(|peer| peer.port() == port);
        if to_db && socket.tcp_nodelay().is_ok_and(|on| !on) && socket.set_tcp_nodelay(true).is_ok()
        {
            changed += 1;
        }
    });
    changed
}

/// Calls `f` with each socket this process has open.
#[cfg(target_os = "linux")]
fn for_each_socket(mut f: impl FnMut(socket2::SockRef<'_>)) {
    use std::os::fd::{BorrowedFd, RawFd};
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let fd = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok());
        let (true, Some(fd)) = (is_socket, fd) else {
            continue;
        };
        // SAFETY: the descriptor was open a moment ago and is only used for a few socket
        // calls. Should another thread close it in between, they fail with EBADF, or
        // reach a socket that replaced it, where TCP_NODELAY is harmless.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        f(socket2::SockRef::from(&fd));
    }
}

/// Not Linux: nothing to do here.
#[cfg(not(target_os = "linux"))]
pub fn on_sockets_to(_port: u16) -> usize {
    0
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use sea_orm::sqlx::{Connection, PgConnection, query_scalar};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    /// Whether the socket bound to local `port` has TCP_NODELAY.
    fn nodelay_at_local_port(port: u16) -> Option<bool> {
        let mut found = None;
        for_each_socket(|socket| {
            let here = socket.local_addr().ok().and_then(|a| a.as_socket());
            if here.is_some_and(|a| a.port() == port) {
                found = socket.tcp_nodelay().ok();
            }
        });
        found
    }

    #[tokio::test]
    #[cfg_attr(
        not(pg_tests),
        ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
    )]
    async fn pool_connections_get_nodelay_that_sqlx_leaves_off() {
        let url = std::env::var("CONTACTD_TEST_PG_URL").expect("CONTACTD_TEST_PG_URL");
        let client_port = "SELECT inet_client_port()";

        // sqlx alone: Nagle on (the reason for this module; if this starts failing, sqlx
        // sets the option again and the module can go).
        let mut plain = PgConnection::connect(&url).await.expect("connect");
        let port: i32 = query_scalar(client_port)
            .fetch_one(&mut plain)
            .await
            .expect("port");
        assert_eq!(nodelay_at_local_port(port as u16), Some(false));

        let pool = crate::store::connect(&url, 1).await.expect("pool");
        let row = pool
            .query_one_raw(Statement::from_string(DbBackend::Postgres, client_port))
            .await
            .expect("query")
            .expect("row");
        let port: i32 = row.try_get_by_index(0).expect("port");
        assert_eq!(nodelay_at_local_port(port as u16), Some(true));
    }
}
