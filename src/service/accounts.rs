//! Accounts: create, read, change plan and region.

use super::Services;
use crate::domain::dialing::Frequency;
use crate::domain::{Plan, Region};
use crate::entity::account;
use crate::error::{Error, Result};
use crate::store;
use sea_orm::ActiveValue::Set;

/// Checked input of CreateAccount.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub plan: Plan,
    pub default_region: Region,
}

/// Checked changes of UpdateAccount (None = unchanged).
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub plan: Option<Plan>,
    /// A new limit for an account already on a custom plan (its plan unchanged).
    pub custom_limit: Option<Plan>,
    pub default_region: Option<Region>,
    pub frequency: Option<Frequency>,
}

impl Services {
    /// Creates an account with a fresh id.
    pub async fn create_account(&self, new: NewAccount) -> Result<account::Model> {
        let now = self.now();
        let model = account::Model {
            id: format!("acc_{}", uuid::Uuid::new_v4().simple()),
            name: new.name,
            plan: new.plan.name().to_string(),
            contact_limit: new.plan.limit(),
            contact_count: 0,
            default_region: new.default_region.code().to_string(),
            created_at: now,
            updated_at: now,
            max_calls_per_day: Frequency::default().per_day,
            max_calls_per_week: Frequency::default().per_week,
            min_call_spacing_seconds: Frequency::default().min_spacing_ms / 1000,
        };
        store::accounts::insert(&self.db, model).await
    }

    /// One account.
    pub async fn get_account(&self, id: &str) -> Result<account::Model> {
        store::accounts::get(&self.db, id).await
    }

    /// The account's default region for local-format numbers.
    pub async fn account_region(&self, id: &str) -> Result<Region> {
        let acc = self.get_account(id).await?;
        Region::parse(&acc.default_region).map_err(Error::Internal)
    }

    /// Applies changes. Lowering a limit below the current count is allowed: nothing is
    /// deleted, but no contact can be added until the count is under the limit again.
    pub async fn update_account(
        &self,
        id: &str,
        changes: AccountChanges,
    ) -> Result<account::Model> {
        let txn = store::begin_write(&self.writer).await?;
        let current = store::accounts::get(&txn, id).await?;
        if changes.custom_limit.is_some()
            && changes.plan.is_none()
            && !matches!(
                Plan::from_stored(&current.plan, current.contact_limit),
                Some(Plan::Custom(_))
            )
        {
            return Err(Error::FailedPrecondition(
                "contact_limit: only an account on PLAN_CUSTOM has a limit of its own; \
                 change plan to PLAN_CUSTOM with the limit"
                    .into(),
            ));
        }
        let mut active: account::ActiveModel = current.into();
        if let Some(name) = changes.name {
            active.name = Set(name);
        }
        if let Some(plan) = changes.plan.or(changes.custom_limit) {
            active.plan = Set(plan.name().to_string());
            active.contact_limit = Set(plan.limit());
        }
        if let Some(region) = changes.default_region {
            active.default_region = Set(region.code().to_string());
        }
        if let Some(f) = changes.frequency {
            active.max_calls_per_day = Set(f.per_day);
            active.max_calls_per_week = Set(f.per_week);
            active.min_call_spacing_seconds = Set(f.min_spacing_ms / 1000);
        }
        active.updated_at = Set(self.now());
        let updated = store::accounts::update(&txn, active).await?;
        txn.commit().await?;
        Ok(updated)
    }
}
