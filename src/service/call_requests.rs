//! "Call Now" requests: a person asks for one contact to be called now (refused for a
//! DNC contact, and outside the calling window unless a person overrides it), and
//! telephony workers lease the pending requests, each with the person's lease.

use super::Services;
use super::dialer::{WindowPolicy, zones_name};
use crate::domain::call::{CallRequest, CallRequestStatus, NewCallRequest};
use crate::domain::calling_hours::{CallingRules, Closed};
use crate::domain::filter::ContactStatus;
use crate::domain::timezone;
use crate::error::{Error, Result};
use crate::store;
use std::time::Duration;

/// How often a waiting ClaimCallRequests looks for new requests.
const CALL_REQUEST_POLL: Duration = Duration::from_millis(100);

impl Services {
    /// The "Call Now" button: refuses a DNC contact, and one outside the calling window
    /// in its local time (FAILED_PRECONDITION naming when the window opens) unless a
    /// person overrides the window; otherwise stores a pending call request. A contact
    /// with an open request gets that one back (a double click does not place two calls).
    pub async fn call_now(
        &self,
        account_id: &str,
        contact_id: i64,
        requested_by: &str,
        window: WindowPolicy,
    ) -> Result<CallRequest> {
        let now = self.now();
        let txn = self.store.begin_write().await?;
        let c = store::contacts::get(&txn, account_id, contact_id).await?;
        let listed = store::dnc::entry(&txn, account_id, &c.phone).await?;
        let on_list = super::dnc_lists::on_a_list(&txn, account_id, &c.phone, now).await?;
        if listed.is_some() || on_list || c.status != ContactStatus::Active {
            return Err(Error::FailedPrecondition(format!(
                "contact {contact_id} is on the Do-Not-Call list and cannot be called"
            )));
        }
        if let WindowPolicy::Obey(rules) = &window {
            let zones = timezone::resolve(&c.time_zone, &c.phone);
            let (hours, region) = rules.hours_for(&c.phone);
            if let Err(closed) = hours.check(&zones, now) {
                let why = match closed {
                    Closed::ExcludedDate => "on an excluded date",
                    Closed::ClosedDay => "on a day without a calling window",
                    Closed::OutsideHours => "outside the calling window",
                };
                return Err(Error::FailedPrecondition(format!(
                    "contact {contact_id} is {why} ({}{}) in its local time ({}); \
                     {}; set override_calling_window (with requested_by) to call anyway",
                    hours.describe(),
                    region.map_or(String::new(), |r| format!(", the rules for {r}")),
                    zones_name(&zones),
                    match hours.next_open(&zones, now) {
                        Some(at) => format!("the window opens at {}", timezone::utc_text(at)),
                        None if zones == timezone::Zones::Unknown => {
                            "the number cannot be placed in a time zone".to_string()
                        }
                        None => "the window does not open within the years ahead".to_string(),
                    }
                )));
            }
        }
        if let Some(open) = store::calls::open_request(&txn, account_id, contact_id).await? {
            return Ok(open);
        }
        let new = NewCallRequest {
            account_id,
            contact_id,
            phone: &c.phone,
            phone_extension: &c.phone_extension,
            requested_by,
            window_override: matches!(window, WindowPolicy::Override),
            calling_rules: match &window {
                WindowPolicy::Obey(rules) if **rules != CallingRules::default() => {
                    Some(rules.to_stored())
                }
                _ => None,
            },
        };
        let stored = store::calls::insert_request(&txn, new, now).await?;
        txn.commit().await?;
        Ok(stored)
    }

    /// Leases up to `max` call requests to a telephony worker, waiting up to `wait` for
    /// one to arrive (checking every 100 ms). Requests whose contact became DNC, or whose
    /// contact's calling window closed since (unless a person overrode it), are
    /// cancelled, never handed out. A request is handed out only with the person's lease
    /// (one per person, across campaigns): while a dialer holds the person, it waits.
    pub async fn claim_call_requests(
        &self,
        account_id: Option<&str>,
        worker_id: &str,
        max: u64,
        lease_ms: i64,
        wait: Duration,
    ) -> Result<Vec<CallRequest>> {
        if let Some(a) = account_id {
            store::accounts::get(self.store.conn(), a).await?;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let claimed = self
                .claim_call_requests_once(account_id, worker_id, max, lease_ms)
                .await?;
            if !claimed.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(claimed);
            }
            tokio::time::sleep(CALL_REQUEST_POLL.min(deadline - tokio::time::Instant::now())).await;
        }
    }

    async fn claim_call_requests_once(
        &self,
        account_id: Option<&str>,
        worker_id: &str,
        max: u64,
        lease_ms: i64,
    ) -> Result<Vec<CallRequest>> {
        let txn = self.store.begin_write().await?;
        // Read once the write can no longer wait (SQLite's write lock is held): the lease
        // and its dial date from when they are granted.
        let now = self.now();
        let rows = store::calls::lock_claimable_requests(&txn, account_id, now, max).await?;
        let until = now + lease_ms;
        let (mut keep, mut drop) = (Vec::new(), Vec::new());
        for r in rows {
            // SKIP LOCKED: a contact busy in another transaction (a call being recorded,
            // a DNC mark) is left for the next claim; waiting could deadlock with a
            // RecordCall that holds the contact and closes this request.
            if !store::contacts::try_lock(&txn, &r.account_id, r.contact_id).await? {
                continue;
            }
            let listed = store::dnc::entry(&txn, &r.account_id, &r.phone).await?;
            let on_list = super::dnc_lists::on_a_list(&txn, &r.account_id, &r.phone, now).await?;
            let contact = store::contacts::get(&txn, &r.account_id, r.contact_id).await;
            // The number (and the extension sent after connect) must still be the
            // contact's: a request made for a number since changed is dropped.
            let active = matches!(&contact, Ok(c)
                if c.status == ContactStatus::Active
                    && c.phone == r.phone
                    && c.phone_extension == r.phone_extension);
            let in_window = r.window_override
                || matches!((&contact, accepted_under(&r)), (Ok(c), Some(rules)) if rules
                    .hours_for(&c.phone)
                    .0
                    .check(&timezone::resolve(&c.time_zone, &c.phone), now)
                    .is_ok());
            if !(listed.is_none() && !on_list && active && in_window) {
                drop.push(r.id);
            } else if store::leases::take(
                &txn,
                &r.account_id,
                r.contact_id,
                worker_id,
                "",
                now,
                until,
            )
            .await?
            {
                keep.push(r);
            }
        }
        let ids: Vec<i64> = keep.iter().map(|r| r.id).collect();
        store::calls::lease_requests(&txn, &ids, worker_id, until).await?;
        store::calls::cancel_requests(&txn, &drop, now).await?;
        txn.commit().await?;
        Ok(keep
            .into_iter()
            .map(|mut r| {
                r.status = CallRequestStatus::Claimed;
                r.lease_owner = Some(worker_id.to_string());
                r.lease_expires_at = Some(until);
                r
            })
            .collect())
    }
}

/// The calling hours a request was accepted under: the default hours when none were
/// kept; `None` when the kept text does not read (only a hand edit could do that: the
/// request is then cancelled rather than dialed under hours nobody gave).
fn accepted_under(r: &CallRequest) -> Option<CallingRules> {
    match r.calling_rules.as_deref() {
        None => Some(CallingRules::default()),
        Some(text) => CallingRules::from_stored(text),
    }
}
