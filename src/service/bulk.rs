//! Counts of a bulk action, and the walk over a selection in bounded transactions.

use super::Services;
use crate::domain::filter::Selection;
use crate::error::Result;
use crate::store::{self, campaigns::Selected};
use sea_orm::DatabaseTransaction;
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

impl Services {
    /// Runs `f` over the selected contacts of `account_id`, [`CHUNK`] at a time in id
    /// order, each chunk read and handled in its own write transaction (so a filter over
    /// 50,000 contacts never holds one long lock). Returns how many were found; with an
    /// explicit id list the caller counts the rest as not found.
    pub(crate) async fn for_each_selected(
        &self,
        account_id: &str,
        selection: &Selection,
        mut f: impl AsyncFnMut(&DatabaseTransaction, &[Selected]) -> Result<()>,
    ) -> Result<i64> {
        let mut after = 0;
        let mut found = 0;
        loop {
            let txn = store::begin_write(&self.db).await?;
            let chunk =
                store::campaigns::selected_contacts(&txn, account_id, selection, after, CHUNK)
                    .await?;
            if chunk.is_empty() {
                txn.commit().await?;
                return Ok(found);
            }
            f(&txn, &chunk).await?;
            txn.commit().await?;
            found += chunk.len() as i64;
            after = chunk.last().map(|c| c.0).unwrap_or(after);
            if (chunk.len() as u64) < CHUNK {
                return Ok(found);
            }
        }
    }
}

/// Distinct ids of an explicit selection (for the not-found count), or None for a filter.
pub fn distinct_ids(selection: &Selection) -> Option<i64> {
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
