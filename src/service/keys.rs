//! API keys: create (secret shown once), list, revoke, and authenticate a token.
//!
//! Authentication results are cached per token for [`CACHE_TTL_MS`], so a revoked key
//! stops working within that time on every replica; the cache holds at most
//! [`CACHE_CAPACITY`] tokens (least recently used go first).

use super::Services;
use crate::domain::apikey::{self, ApiKey, Principal};
use crate::error::{Error, Result};
use crate::store;

/// How long a token's verdict is reused before the database is asked again.
pub const CACHE_TTL_MS: i64 = 30_000;

/// How many tokens' verdicts are kept at most.
pub const CACHE_CAPACITY: u64 = 10_000;

/// Verdicts on recently seen tokens: hash → (principal, when checked). The entry's age is
/// judged by the service's clock (tests move it), and the cache drops entries on its own
/// after [`CACHE_TTL_MS`] of real time and beyond [`CACHE_CAPACITY`].
#[derive(Clone, Debug)]
pub(crate) struct AuthCache(moka::sync::Cache<String, (Principal, i64)>);

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache(
            moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(std::time::Duration::from_millis(CACHE_TTL_MS as u64))
                .build(),
        )
    }
}

impl Services {
    /// Creates a key for `account_id` (or an internal key when `None`); returns the stored
    /// row and the secret token, which is not kept anywhere.
    pub async fn create_key(
        &self,
        account_id: Option<&str>,
        name: &str,
    ) -> Result<(ApiKey, String)> {
        if let Some(a) = account_id {
            store::accounts::get(self.store.conn(), a).await?;
        }
        let key = apikey::generate();
        let token = key.token.clone();
        let stored =
            store::keys::insert(self.store.conn(), key, account_id, name, self.now()).await?;
        Ok((stored, token))
    }

    /// Every key (or one account's).
    pub async fn list_keys(&self, account_id: Option<&str>) -> Result<Vec<ApiKey>> {
        store::keys::list(self.store.conn(), account_id).await
    }

    /// Revokes a key.
    pub async fn revoke_key(&self, id: &str) -> Result<()> {
        store::keys::revoke(self.store.conn(), id, self.now()).await?;
        self.auth_cache.0.invalidate_all();
        Ok(())
    }

    /// How many keys are live (the server refuses to require keys when there are none).
    pub async fn live_key_count(&self) -> Result<u64> {
        store::keys::count_live(self.store.conn()).await
    }

    /// [`Services::authenticate`] without the cache: the database's word now (open
    /// streams re-check their key this way, so a revocation reaches them on every replica).
    pub async fn authenticate_fresh(&self, token: &str) -> Result<Principal> {
        let key = store::keys::find_live(self.store.conn(), &apikey::hash(token))
            .await?
            .ok_or_else(|| Error::Unauthenticated("unknown or revoked API key".into()))?;
        Ok(match key.account_id {
            Some(a) => Principal::Account(a),
            None => Principal::Internal,
        })
    }

    /// The principal a bearer token stands for; UNAUTHENTICATED if it is unknown or revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Principal> {
        let hash = apikey::hash(token);
        let now = self.now();
        if let Some((p, at)) = self.auth_cache.0.get(&hash)
            && now - at < CACHE_TTL_MS
        {
            return Ok(p);
        }
        let key = store::keys::find_live(self.store.conn(), &hash)
            .await?
            .ok_or_else(|| Error::Unauthenticated("unknown or revoked API key".into()))?;
        let principal = match key.account_id {
            Some(a) => Principal::Account(a),
            None => Principal::Internal,
        };
        self.auth_cache.0.insert(hash, (principal.clone(), now));
        Ok(principal)
    }
}
