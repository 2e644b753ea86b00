//! Counts of a bulk action, and the walk over a selection in bounded transactions.

use super::Services;
pub use crate::domain::bulk::BulkCounts;
use crate::domain::filter::Selection;
use crate::error::Result;
use crate::store::contacts::Lock;
use crate::store::{self, Store, Txn, campaigns::Selected};

/// Contacts per write transaction when a bulk action walks a selection.
pub const CHUNK: u64 = 1_000;

/// A walk over the selected contacts of an account, [`CHUNK`] at a time in id order. Each
/// chunk is read and handled in its own write transaction ([`Walk::next_in_txn`]), so a
/// filter over 50,000 contacts never holds one long lock.
pub(crate) struct Walk<'a> {
    account_id: &'a str,
    selection: &'a Selection,
    after: i64,
    /// Contacts with a higher id are left out (created after the action began).
    up_to: Option<i64>,
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
            up_to: None,
            done: false,
            found: 0,
        }
    }

    /// Leaves out contacts with an id above `max` (those created after the action began).
    pub fn up_to(mut self, max: i64) -> Self {
        self.up_to = Some(max);
        self
    }

    /// The next chunk, read inside `txn`; empty when the walk is over.
    pub async fn next(&mut self, txn: &Txn) -> Result<Vec<Selected>> {
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
        let mut chunk = chunk;
        self.done = (chunk.len() as u64) < CHUNK;
        if let Some(max) = self.up_to
            && chunk.last().is_some_and(|c| c.0 > max)
        {
            chunk.retain(|c| c.0 <= max);
            self.done = true;
        }
        self.found += chunk.len() as i64;
        if let Some(last) = chunk.last() {
            self.after = last.0;
        }
        Ok(chunk)
    }

    /// Begins a write transaction and reads the next chunk in it; `None`
    /// when the walk is over (that last transaction, which wrote nothing, is rolled
    /// back). The caller handles the chunk and commits the transaction.
    pub async fn next_in_txn(&mut self, store: &Store) -> Result<Option<(Txn, Vec<Selected>)>> {
        let txn = store.begin_write().await?;
        let chunk = self.next(&txn).await?;
        Ok((!chunk.is_empty()).then_some((txn, chunk)))
    }

    /// With an explicit id list, how many ids matched no contact (after the walk).
    pub fn not_found(&self) -> i64 {
        distinct_ids(self.selection).map_or(0, |asked| asked - self.found)
    }
}

/// Distinct ids of an explicit selection (for the not-found count), or None for a filter.
pub(crate) fn distinct_ids(selection: &Selection) -> Option<i64> {
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

impl Services {
    /// Deletes the selected contacts (personal data and memberships) and frees their plan
    /// slots, [`CHUNK`] per transaction. DNC entries stay on the list; call records stay
    /// with their contact link set to NULL. Skipped: `not_found` (unknown ids, or deleted
    /// by someone else meanwhile). A filter applies to the contacts that existed when the
    /// request began: contacts created meanwhile are kept.
    pub async fn bulk_delete_contacts(
        &self,
        account_id: &str,
        selection: &Selection,
    ) -> Result<BulkCounts> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let mut counts = BulkCounts::default();
        let Some(max) = store::contacts::max_id(self.store.conn(), account_id).await? else {
            counts.skip("not_found", distinct_ids(selection).unwrap_or(0));
            return Ok(counts);
        };
        let mut walk = Walk::new(account_id, selection).up_to(max);
        while let Some((txn, chunk)) = walk.next_in_txn(&self.store).await? {
            let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
            let targets = store::contacts::Targets::Ids(&ids);
            store::contacts::lock_in_number_order(&txn, account_id, targets, Lock::Delete).await?;
            let deleted = store::contacts::delete_many(&txn, account_id, &ids).await?;
            store::accounts::adjust_count(&txn, account_id, -(deleted as i64)).await?;
            counts.changed += deleted as i64;
            counts.skip("not_found", ids.len() as i64 - deleted as i64);
            txn.commit().await?;
        }
        counts.matched = walk.found;
        counts.skip("not_found", walk.not_found());
        Ok(counts)
    }
}
