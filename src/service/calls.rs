//! Call outcomes: RecordCall (idempotent by the call service's id) and the call history.
//!
//! Recording a call is one transaction: the call row, the contact's statistics, the
//! campaign attempt, the person's dial state (the call ends the lease it belongs to —
//! placed by the lease's holder after the lease began — and no other; an outbound call
//! of no lease counts as a dial), a DNC request, closing the contact's open "Call
//! Now" request, and the contact's callbacks (delivered or cancelled by this call, and
//! the one a `CALLBACK_REQUESTED` call schedules; see `service::callbacks`). A DNC
//! request also revokes the consent records of the number's contact (RevokeConsent's
//! effect, said to come from the call). An inbound call from an unknown number creates the contact when the
//! plan has room; otherwise the call is kept without a contact.
//!
//! Calls are bounded where they enter ([`check_bounds`]): a refused call that carries a
//! DNC request still puts the number on the list ([`Services::dnc_from_refused_call`]).

use super::{Services, page};
pub use crate::domain::call::CallInput;
use crate::domain::call::{Call, CallDirection, CallOutcome, CallRequestStatus};
use crate::domain::contact::{NewContact, check_phone};
use crate::domain::dnc::DncSource;
use crate::domain::{Contact, Phone, Region, Validation};
use crate::error::{Error, Result};
use crate::store::{self, Txn, dnc::Change};

/// A stored call, and whether this request stored it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub call: Call,
    pub created: bool,
}

/// Whether a repeat of an external id carries the same call as the stored one.
fn same_call(stored: &Call, input: &CallInput, phone: Option<&Phone>) -> bool {
    input
        .contact_id
        .is_none_or(|id| stored.contact_id == Some(id))
        && phone.is_none_or(|p| p.e164() == stored.phone)
        && stored.direction == input.direction
        && stored.campaign_id == input.campaign_id
        && stored.started_at == input.started_at
        && stored.duration_seconds == input.duration_seconds
        && stored.outcome == input.outcome
        && stored.sentiment == input.sentiment
        && stored.recording_url == input.recording_url
        && stored.transcript == input.transcript
        && stored.transcript_url == input.transcript_url
        && stored.dnc_requested == input.dnc_requested
        && stored.dialer_id == input.dialer_id
}

fn repeat(stored: Call, input: &CallInput, phone: Option<&Phone>) -> Result<Recorded> {
    if same_call(&stored, input, phone) {
        Ok(Recorded {
            call: stored,
            created: false,
        })
    } else {
        Err(Error::AlreadyExists(format!(
            "call {} was already recorded (id {}) with different content",
            input.external_id, stored.id
        )))
    }
}

/// Longest call accepted, seconds (a day).
pub const MAX_DURATION_SECONDS: i64 = 86_400;
/// How far in the future a call may say it started (clock skew between services), ms.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// The call's times against the clock and the account: it may not start more than the
/// clock skew in the future, nor before the account existed (less the skew), and may
/// last at most a day.
pub fn check_bounds(input: &CallInput, account_created_at: i64, now: i64) -> Result<()> {
    if !(0..=MAX_DURATION_SECONDS).contains(&input.duration_seconds) {
        return Err(Error::invalid(
            "call.duration_seconds",
            format!(
                "must be between 0 and {MAX_DURATION_SECONDS} (a day); got {}",
                input.duration_seconds
            ),
        ));
    }
    if input.started_at > now + MAX_CLOCK_SKEW_MS {
        return Err(Error::invalid(
            "call.start_time",
            format!(
                "is in the future ({}; now is {})",
                crate::domain::timezone::utc_text(input.started_at),
                crate::domain::timezone::utc_text(now)
            ),
        ));
    }
    if input.started_at < account_created_at - MAX_CLOCK_SKEW_MS {
        return Err(Error::invalid(
            "call.start_time",
            format!(
                "is before the account existed ({} < {})",
                crate::domain::timezone::utc_text(input.started_at),
                crate::domain::timezone::utc_text(account_created_at)
            ),
        ));
    }
    Ok(())
}

/// The callee asked not to be called: every consent record of the number's contact not
/// yet revoked is revoked, in the transaction that puts the number on the DNC list.
async fn revoke_consents(
    txn: &Txn,
    account_id: &str,
    phone: &str,
    external_id: &str,
    at: i64,
) -> Result<u64> {
    let how = format!("call {external_id}: callee asked not to be called");
    store::consents::revoke_of_number(txn, account_id, phone, at, &how).await
}

impl Services {
    /// A call that was refused (bad input) but carried a DNC request: the request is
    /// honoured anyway, for the contact or number the call names, when that can be told.
    pub async fn dnc_from_refused_call(
        &self,
        account_id: &str,
        contact_id: Option<i64>,
        phone: &str,
        region: Option<Region>,
        external_id: &str,
    ) -> Result<()> {
        let account_region = self.account_region(account_id).await?;
        let number = match contact_id {
            Some(id) => store::contacts::get(self.store.conn(), account_id, id)
                .await
                .ok()
                .map(|c| c.phone),
            None => None,
        };
        let number = match number {
            Some(n) => n,
            None => match Phone::parse(phone, region.or(Some(account_region)), Validation::Lenient)
            {
                Ok(p) => p.e164().to_string(),
                Err(_) => return Ok(()),
            },
        };
        let reason = format!("requested during call {external_id} (the call itself was refused)");
        let change = Change {
            source: DncSource::CallRequest,
            reason: &reason,
            actor: "call-service",
            at: self.now(),
        };
        let txn = self.store.begin_write().await?;
        super::dnc::mark_numbers(&txn, account_id, std::slice::from_ref(&number), &change).await?;
        revoke_consents(&txn, account_id, &number, external_id, change.at).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records a call's outcome; see the module docs.
    pub async fn record_call(&self, account_id: &str, input: CallInput) -> Result<Recorded> {
        let account = self.get_account(account_id).await?;
        let region = Region::parse(&account.default_region).map_err(Error::Internal)?;
        if let Err(e) = check_bounds(&input, account.created_at, self.now()) {
            if input.dnc_requested || input.outcome == CallOutcome::DncRequested {
                self.dnc_from_refused_call(
                    account_id,
                    input.contact_id,
                    &input.phone,
                    input.region,
                    &input.external_id,
                )
                .await?;
            }
            return Err(e);
        }
        let phone = if input.phone.trim().is_empty() {
            None
        } else {
            Some(
                check_phone(
                    &input.phone,
                    input.region.or(Some(region)),
                    Validation::Lenient,
                    "call.phone",
                )
                .map_err(|v| Error::Invalid(vec![v]))?,
            )
        };
        let txn = self.store.begin_write().await?;
        if let Some(stored) =
            store::calls::by_external_id(&txn, account_id, &input.external_id).await?
        {
            return repeat(stored, &input, phone.as_ref());
        }
        match self
            .record_new(&txn, account_id, &input, phone.as_ref())
            .await
        {
            Ok(call) => {
                txn.commit().await?;
                Ok(Recorded {
                    call,
                    created: true,
                })
            }
            // Another replica recorded the same id in between (PostgreSQL): compare.
            Err(e) if store::is_unique_violation(&e) => {
                txn.rollback().await?;
                let stored =
                    store::calls::by_external_id(self.store.conn(), account_id, &input.external_id)
                        .await?
                        .ok_or(e)?;
                repeat(stored, &input, phone.as_ref())
            }
            Err(e) => Err(e),
        }
    }

    async fn record_new(
        &self,
        txn: &Txn,
        account_id: &str,
        input: &CallInput,
        phone: Option<&Phone>,
    ) -> Result<Call> {
        let now = self.now();
        let contact = match (input.contact_id, phone) {
            (Some(id), _) => {
                let c = store::contacts::find(txn, account_id, id).await?;
                if let Some(p) = phone
                    && p.e164() != c.phone
                {
                    return Err(Error::invalid(
                        "call.phone",
                        format!("{} is not the phone of contact {id}", p.e164()),
                    ));
                }
                Some(c)
            }
            (None, Some(p)) => {
                match store::contacts::find_by_phone(txn, account_id, p.e164()).await? {
                    Some(c) => Some(Contact::from(c)),
                    None if input.direction == CallDirection::Inbound => {
                        self.create_caller(txn, account_id, p, now).await?
                    }
                    None => None,
                }
            }
            (None, None) => {
                return Err(Error::invalid(
                    "call",
                    "give contact_id or phone to say who was called",
                ));
            }
        };
        let phone_e164 = contact
            .as_ref()
            .map(|c| c.phone.clone())
            .or_else(|| phone.map(|p| p.e164().to_string()))
            .unwrap_or_default();
        let contact_id = contact.as_ref().map(|c| c.id);
        let stored =
            store::calls::insert(txn, account_id, input, contact_id, &phone_e164, now).await?;
        if let Some(c) = &contact {
            store::calls::add_to_stats(
                txn,
                c.id,
                input.started_at,
                input.duration_seconds,
                input.outcome,
                now,
            )
            .await?;
            if !input.campaign_id.is_empty() && input.direction == CallDirection::Outbound {
                store::campaigns::record_attempt(
                    txn,
                    account_id,
                    &input.campaign_id,
                    c.id,
                    input.started_at,
                )
                .await?;
            }
            store::calls::close_requests(txn, account_id, &[c.id], CallRequestStatus::Done, now)
                .await?;
            store::leases::record_call(
                txn,
                account_id,
                c.id,
                &input.dialer_id,
                input.started_at,
                input.direction == CallDirection::Outbound,
                now,
            )
            .await?;
            self.settle_and_schedule(txn, account_id, c, input, stored.id, now)
                .await?;
        } else if input.callback.is_some() && !input.dnc_requested {
            return Err(Error::invalid(
                "call.contact_id",
                "a callback needs a known contact (give contact_id, or the phone of a contact)",
            ));
        }
        if input.dnc_requested || input.outcome == CallOutcome::DncRequested {
            let reason = format!("requested during call {}", input.external_id);
            let actor = if input.dialer_id.is_empty() {
                "call-service"
            } else {
                &input.dialer_id
            };
            let change = Change {
                source: DncSource::CallRequest,
                reason: &reason,
                actor,
                at: now,
            };
            super::dnc::add_dnc(txn, account_id, std::slice::from_ref(&phone_e164), &change)
                .await?;
            revoke_consents(txn, account_id, &phone_e164, &input.external_id, now).await?;
        }
        Ok(stored)
    }

    /// Creates the contact for an unknown inbound number when the plan has room. The
    /// contact row goes in before the counter row is taken (the order every writer
    /// keeps), and out again when there is no room.
    async fn create_caller(
        &self,
        txn: &Txn,
        account_id: &str,
        phone: &Phone,
        now: i64,
    ) -> Result<Option<Contact>> {
        let new = NewContact {
            phone: phone.clone(),
            phone_extension: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            company: String::new(),
            title: String::new(),
            custom_fields: Default::default(),
            time_zone: String::new(),
        };
        let dnc = store::dnc::entry(txn, account_id, phone.e164()).await?;
        let stored = store::contacts::create(txn, account_id, &new, dnc.as_ref(), now).await?;
        if store::accounts::reserve_slots(txn, account_id, 1, now).await? == 0 {
            store::contacts::delete(txn, account_id, stored.id).await?;
            return Ok(None);
        }
        Ok(Some(stored))
    }

    /// A page of calls (one contact's, or the account's), newest first.
    pub async fn list_calls(
        &self,
        account_id: &str,
        contact_id: Option<i64>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Call>, String)> {
        store::accounts::get(self.store.conn(), account_id).await?;
        if let Some(id) = contact_id {
            store::contacts::get(self.store.conn(), account_id, id).await?;
        }
        let size = page::page_size(page_size);
        let before = page::decode(page_token)?;
        let rows =
            store::calls::list(self.store.conn(), account_id, contact_id, before, size + 1).await?;
        Ok(page::split(rows, size, |c| c.id))
    }
}
