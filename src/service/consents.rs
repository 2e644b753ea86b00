//! Consent records: record, list, and revoke. A revocation puts the contact's number on
//! the DNC list in the same transaction (locking the contact first, as every writer
//! does), so from its commit on no dialer reaches the person and the record says why.

use super::Services;
use crate::domain::consent::Consent;
pub use crate::domain::consent::NewConsent;
use crate::domain::dnc::DncSource;
use crate::error::{Error, Result};
use crate::store::{self, contacts::Lock, dnc::Change};

/// What a revocation did.
#[derive(Debug, Clone, Copy)]
pub struct Revoked {
    /// Consent records revoked.
    pub consents: u64,
    /// Whether the number was newly put on the DNC list (or its contact flipped to DNC).
    pub marked_dnc: bool,
}

impl Services {
    /// Stores a consent record of a contact.
    pub async fn record_consent(
        &self,
        account_id: &str,
        contact_id: i64,
        c: NewConsent,
    ) -> Result<Consent> {
        let now = self.now();
        let captured_at = c.captured_at.unwrap_or(now);
        if captured_at > now {
            return Err(Error::invalid(
                "consent.capture_time",
                "is in the future: a consent is recorded once it was given",
            ));
        }
        if let Some(e) = c.expires_at
            && e <= captured_at
        {
            return Err(Error::invalid(
                "consent.expire_time",
                "is not after capture_time",
            ));
        }
        let txn = self.store.begin_write().await?;
        store::contacts::get(&txn, account_id, contact_id).await?;
        let row = store::consents::insert(&txn, account_id, contact_id, c, now).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// A contact's consent records, newest first (revoked and expired ones too).
    pub async fn list_consents(&self, account_id: &str, contact_id: i64) -> Result<Vec<Consent>> {
        store::contacts::get(self.store.conn(), account_id, contact_id).await?;
        store::consents::of_contact(self.store.conn(), account_id, contact_id).await
    }

    /// The person withdrew consent: every record not yet revoked is revoked with `how`,
    /// and the number goes on the DNC list (source API, reason naming the revocation),
    /// in one transaction.
    pub async fn revoke_consent(
        &self,
        account_id: &str,
        contact_id: i64,
        how: &str,
        actor: &str,
    ) -> Result<Revoked> {
        let now = self.now();
        let txn = self.store.begin_write().await?;
        let ids = [contact_id];
        let targets = store::contacts::Targets::Ids(&ids);
        store::contacts::lock_in_number_order(&txn, account_id, targets, Lock::Update).await?;
        let c = store::contacts::get(&txn, account_id, contact_id).await?;
        let consents = store::consents::revoke(&txn, account_id, contact_id, now, how).await?;
        let reason = format!("consent revoked: {how}");
        let change = Change {
            source: DncSource::Api,
            reason: &reason,
            actor,
            at: now,
        };
        let changed = super::dnc::add_dnc(&txn, account_id, &[c.phone], &change).await?;
        txn.commit().await?;
        Ok(Revoked {
            consents,
            marked_dnc: changed > 0,
        })
    }
}
