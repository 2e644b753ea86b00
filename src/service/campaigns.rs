//! Campaign membership. DNC contacts are refused — by status and by the list itself —
//! and counted; large filter selections are walked in bounded transactions.

use super::Services;
use super::bulk::{BulkCounts, Walk};
use crate::domain::filter::{ContactStatus, Selection};
use crate::error::Result;
use crate::store;
use crate::store::contacts::Lock;

impl Services {
    /// Adds the selected contacts to a campaign. Skipped: `dnc_refused`,
    /// `already_member`, `not_found`.
    pub async fn add_to_campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
        selection: &Selection,
    ) -> Result<BulkCounts> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let now = self.now();
        let mut counts = BulkCounts::default();
        let mut walk = Walk::new(account_id, selection);
        while let Some((txn, chunk)) = walk.next_in_txn(&self.store).await? {
            let phones: Vec<String> = chunk.iter().map(|c| c.1.clone()).collect();
            let listed = store::dnc::entries(&txn, account_id, &phones).await?;
            let (dnc, ok): (Vec<_>, Vec<_>) = chunk.iter().partition(|(_, phone, status)| {
                ContactStatus::from_stored(status) == ContactStatus::Dnc
                    || listed.iter().any(|e| &e.phone == phone)
            });
            counts.skip("dnc_refused", dnc.len() as i64);
            let ids: Vec<i64> = ok.iter().map(|c| c.0).collect();
            let targets = store::contacts::Targets::Ids(&ids);
            store::contacts::lock_in_number_order(&txn, account_id, targets, Lock::Memberships)
                .await?;
            let added =
                store::campaigns::add_members(&txn, account_id, campaign_id, &ids, now).await?;
            counts.changed += added as i64;
            counts.skip("already_member", ids.len() as i64 - added as i64);
            txn.commit().await?;
        }
        counts.matched = walk.found;
        counts.skip("not_found", walk.not_found());
        Ok(counts)
    }

    /// Removes the selected contacts from a campaign. Skipped: `not_member`, `not_found`.
    pub async fn remove_from_campaign(
        &self,
        account_id: &str,
        campaign_id: &str,
        selection: &Selection,
    ) -> Result<BulkCounts> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let now = self.now();
        let mut counts = BulkCounts::default();
        let mut walk = Walk::new(account_id, selection);
        while let Some((txn, chunk)) = walk.next_in_txn(&self.store).await? {
            let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
            let targets = store::contacts::Targets::Ids(&ids);
            store::contacts::lock_in_number_order(&txn, account_id, targets, Lock::Memberships)
                .await?;
            let removed =
                store::campaigns::remove_members(&txn, account_id, campaign_id, &ids).await?;
            let reason = crate::domain::callback::CancelReason::RemovedFromCampaign;
            let campaign = Some(campaign_id);
            store::callbacks::cancel_for_contacts(&txn, account_id, campaign, &ids, reason, now)
                .await?;
            counts.changed += removed as i64;
            counts.skip("not_member", ids.len() as i64 - removed as i64);
            txn.commit().await?;
        }
        counts.matched = walk.found;
        counts.skip("not_found", walk.not_found());
        Ok(counts)
    }
}
