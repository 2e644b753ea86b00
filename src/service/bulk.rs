//! Bulk actions over a selection (explicit ids or "everything matching a filter"), run
//! in bounded transactions of [`BATCH`] contacts so a large selection never holds one
//! huge transaction (or the SQLite write lock) for long.

use super::Services;
use crate::domain::filter::Selection;
use crate::error::Result;
use crate::store;
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

/// Contacts handled per transaction.
pub const BATCH: usize = 1_000;

/// The counts of a bulk action: `matched = changed + sum(skipped)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkResult {
    /// Contacts the selection named or matched.
    pub matched: u64,
    /// Contacts changed.
    pub changed: u64,
    /// Skipped, by reason (e.g. `not_found`).
    pub skipped: BTreeMap<&'static str, u64>,
}

impl BulkResult {
    /// Counts `n` skipped items for `reason` (nothing when `n` is 0).
    pub fn skip(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.skipped.entry(reason).or_default() += n;
        }
    }
}

impl Services {
    /// Deletes the selected contacts (personal data and memberships) and frees their plan
    /// slots, [`BATCH`] per transaction. DNC entries stay on the list; call records stay
    /// with their contact link set to NULL.
    ///
    /// Ids that do not exist (or belong to another account) are skipped as `not_found`.
    /// A filter applies to the contacts that existed when the request started (ids up to
    /// the account's highest at that moment): contacts created meanwhile are kept.
    pub async fn bulk_delete_contacts(
        &self,
        account_id: &str,
        selection: Selection,
    ) -> Result<BulkResult> {
        store::accounts::get(&self.db, account_id).await?;
        let mut result = BulkResult::default();
        match &selection {
            Selection::Ids(ids) => {
                let mut ids = ids.clone();
                ids.sort_unstable();
                ids.dedup();
                for chunk in ids.chunks(BATCH) {
                    let txn = store::begin_write(&self.db).await?;
                    let deleted = delete_and_release(&txn, account_id, chunk).await?;
                    txn.commit().await?;
                    result.matched += chunk.len() as u64;
                    result.changed += deleted;
                    result.skip("not_found", chunk.len() as u64 - deleted);
                }
            }
            Selection::Filter(_) => {
                let Some(up_to) = store::contacts::max_id(&self.db, account_id).await? else {
                    return Ok(result);
                };
                let mut after = 0;
                loop {
                    let txn = store::begin_write(&self.db).await?;
                    let ids = store::contacts::selected_ids(
                        &txn,
                        account_id,
                        &selection,
                        after,
                        up_to,
                        BATCH as u64,
                    )
                    .await?;
                    let Some(&last) = ids.last() else { break };
                    let deleted = delete_and_release(&txn, account_id, &ids).await?;
                    txn.commit().await?;
                    result.matched += ids.len() as u64;
                    result.changed += deleted;
                    // Matched a moment ago, deleted by someone else since.
                    result.skip("not_found", ids.len() as u64 - deleted);
                    after = last;
                }
            }
        }
        Ok(result)
    }
}

/// Deletes the account's contacts among `ids` and frees their plan slots, inside the
/// caller's transaction; returns how many existed.
async fn delete_and_release<C: ConnectionTrait>(
    txn: &C,
    account_id: &str,
    ids: &[i64],
) -> Result<u64> {
    let deleted = store::contacts::delete_many(txn, account_id, ids).await?;
    store::accounts::adjust_count(txn, account_id, -(deleted as i64)).await?;
    Ok(deleted)
}
