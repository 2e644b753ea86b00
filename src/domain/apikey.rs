//! API keys and who a request acts for.
//!
//! A key is 256 random bits shown to its owner once (`cdk_…`); only its SHA-256 is
//! stored. Random secrets of that size need no slow hash: there is nothing to brute-force.

use sha2::{Digest, Sha256};

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A platform service (campaign dialer, call service) or a trusted local caller:
    /// may act on any account.
    Internal,
    /// A key scoped to one account.
    Account(String),
}

impl Principal {
    /// Whether this principal may act on `account_id`.
    pub fn may_access(&self, account_id: &str) -> bool {
        match self {
            Principal::Internal => true,
            Principal::Account(own) => own == account_id,
        }
    }

    /// Whether this principal may do account-less operations (create accounts, claim
    /// call requests of every account).
    pub fn is_internal(&self) -> bool {
        matches!(self, Principal::Internal)
    }
}

/// A stored key, without its secret (only its hash is stored, and stays in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    /// `None`: an internal key (any account).
    pub account_id: Option<String>,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A freshly generated key: its id, the secret token (shown once) and the stored hash.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub id: String,
    pub token: String,
    pub hash: String,
}

/// Generates a new key.
pub fn generate() -> GeneratedKey {
    let id = format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let token = format!(
        "cdk_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let hash = hash(&token);
    GeneratedKey { id, token, hash }
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_only_their_hash_matches() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert_eq!(hash(&a.token), a.hash);
        assert_ne!(hash(&b.token), a.hash);
        assert!(a.token.starts_with("cdk_") && a.token.len() == 68);
    }

    #[test]
    fn scoped_keys_reach_only_their_account() {
        let p = Principal::Account("acc_1".into());
        assert!(p.may_access("acc_1"));
        assert!(!p.may_access("acc_2"));
        assert!(!p.is_internal());
        assert!(Principal::Internal.may_access("anything"));
    }
}
