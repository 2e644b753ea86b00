//! An account as the services and the API see it: its plan, its contact count and
//! limit, its default region and its frequency rules.

use super::Plan;
use super::dialing::Frequency;

/// A stored account (how it is stored is `store::accounts`' business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// `None`: a stored plan name this build does not know.
    pub plan: Option<Plan>,
    pub contact_limit: i64,
    pub contact_count: i64,
    /// The region code local-format numbers are read in.
    pub default_region: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub max_calls_per_day: i32,
    pub max_calls_per_week: i32,
    pub min_call_spacing_seconds: i64,
}

/// A new account's fields, checked.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub plan: Plan,
    pub default_region: super::Region,
}

/// Checked changes of an account (None = unchanged).
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub plan: Option<Plan>,
    /// A new limit for an account already on a custom plan (its plan unchanged).
    pub custom_limit: Option<Plan>,
    pub default_region: Option<super::Region>,
    pub frequency: Option<Frequency>,
}
