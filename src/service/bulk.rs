//! Counts of a bulk action, and the walk over a selection in bounded transactions.

use crate::domain::filter::Selection;
use crate::error::Result;
use crate::store::{self, campaigns::Selected};
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

/// Contacts per write transaction when a bulk action walks a selection.
pub const CHUNK: u64 = 1_000;

/// What a bulk action did: matched, changed, and skipped by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkCounts {
    pub matched: i64,
    pub changed: i64,
    pub skipped: BTreeMap<&'static str, i64>,
}

impl BulkCounts {
    /// Counts `n` items skipped for `reason`.
    pub fn skip(&mut self, reason: &'static str, n: i64) {
        if n > 0 {
            *self.skipped.entry(reason).or_default() += n;
        }
    }
}

/// A walk over the selected contacts of an account, [`CHUNK`] at a time in id order. The
/// caller reads and handles each chunk in its own write transaction, so a filter over
/// 50,000 contacts never holds one long lock.
pub(crate) struct Walk<'a> {
    account_id: &'a str,
    selection: &'a Selection,
    after: i64,
    done: bool,
    /// Contacts handed out so far.
    pub found: i64,
}

impl<'a> Walk<'a> {
    /// A walk from the start.
    pub fn new(account_id: &'a str, selection: &'a Selection) -> Self {
        Walk {
            account_id,
            selection,
            after: 0,
            done: false,
            found: 0,
        }
    }

    /// The next chunk, read inside `txn`; empty when the walk is over.
    pub async fn next<C: ConnectionTrait>(&mut self, txn: &C) -> Result<Vec<Selected>> {
        if self.done {
            return Ok(vec![]);
        }
        let chunk = store::campaigns::selected_contacts(
            txn,
            self.account_id,
            self.selection,
            self.after,
            CHUNK,
        )
        .await?;
        self.done = (chunk.len() as u64) < CHUNK;
        self.found += chunk.len() as i64;
        if let Some(last) = chunk.last() {
            self.after = last.0;
        }
        Ok(chunk)
    }

    /// With an explicit id list, how many ids matched no contact (after the walk).
    pub fn not_found(&self) -> i64 {
        distinct_ids(self.selection).map_or(0, |asked| asked - self.found)
    }
}

/// Distinct ids of an explicit selection (for the not-found count), or None for a filter.
fn distinct_ids(selection: &Selection) -> Option<i64> {
    match selection {
        Selection::Ids(ids) => {
            let mut v = ids.clone();
            v.sort_unstable();
            v.dedup();
            Some(v.len() as i64)
        }
        Selection::Filter(_) => None,
    }
}
