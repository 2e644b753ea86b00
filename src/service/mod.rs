//! Use cases and their transactions. No tonic types and no SQL here: handlers call these
//! with domain values, these call `store` within the transaction they choose.

pub mod accounts;
pub mod contacts;
pub mod import;
pub mod page;

use crate::domain::Clock;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Everything a use case needs: the database pool and the clock.
#[derive(Clone, Debug)]
pub struct Services {
    pub(crate) db: DatabaseConnection,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Services {
    /// Services over a connected, migrated database.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Now, in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The database pool (for health checks).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}
