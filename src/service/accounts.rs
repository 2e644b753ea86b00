//! Accounts: create, read, change plan and region.

use super::Services;
use crate::domain::{Account, Plan, Region};
use crate::error::{Error, Result};
use crate::store;

pub use crate::domain::account::{AccountChanges, NewAccount};

impl Services {
    /// Creates an account with a fresh id.
    pub async fn create_account(&self, new: NewAccount) -> Result<Account> {
        let id = format!("acc_{}", uuid::Uuid::new_v4().simple());
        store::accounts::insert(self.store.conn(), id, new, self.now()).await
    }

    /// One account.
    pub async fn get_account(&self, id: &str) -> Result<Account> {
        store::accounts::get(self.store.conn(), id).await
    }

    /// The account's default region for local-format numbers.
    pub async fn account_region(&self, id: &str) -> Result<Region> {
        let acc = self.get_account(id).await?;
        Region::parse(&acc.default_region).map_err(Error::Internal)
    }

    /// Applies changes. Lowering a limit below the current count is allowed: nothing is
    /// deleted, but no contact can be added until the count is under the limit again.
    pub async fn update_account(&self, id: &str, changes: AccountChanges) -> Result<Account> {
        let txn = self.store.begin_write().await?;
        let current = store::accounts::get(&txn, id).await?;
        if changes.custom_limit.is_some()
            && changes.plan.is_none()
            && !matches!(current.plan, Some(Plan::Custom(_)))
        {
            return Err(Error::FailedPrecondition(
                "contact_limit: only an account on PLAN_CUSTOM has a limit of its own; \
                 change plan to PLAN_CUSTOM with the limit"
                    .into(),
            ));
        }
        let updated = store::accounts::update(&txn, id, changes, self.now()).await?;
        txn.commit().await?;
        Ok(updated)
    }
}
