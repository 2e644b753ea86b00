//! Scheduled callbacks: asked for by RecordCall (`CALLBACK_REQUESTED`), handed out by the
//! claims of their campaign at their time, ahead of the campaign's other members, and
//! listed by ListCallbacks.
//!
//! A claim's first read (`store::dialer::first_read`: one round trip with the account's
//! rules and the scan's first page) holds the campaign's first pending callbacks in due
//! order. When one of them is due, the claim reads them again with their people's facts
//! ([`store::callbacks::pending_in_due_order`]) and serves them first: the due ones whose
//! person is free now are checked like any candidate — the frequency rules and the
//! calling window in the contact's zone — and leased through the same re-check as every
//! claim (`store::dialer::lease_eligible`: DNC by the list, named lists and status,
//! ACTIVE, one live lease per person, the frequency rules) with only the campaign's
//! attempt limit and retry spacing waived: the person asked. A due callback held back by
//! the window or the frequency rules is moved to when they allow it (the window's next
//! opening), so it never blocks the ones behind it. The same reads tell the claim which
//! members wait for a later callback: the normal scan skips them, so retry spacing does
//! not call the person before the time they asked for.
//!
//! A callback stays pending while its lease is out: the call of its delivery (an
//! outbound call of its campaign starting at or after its due time) marks it delivered,
//! any other call of the contact cancels it (`call_recorded`), and a lease that ends
//! without a call leaves it pending, due again. The DNC paths and RemoveFromCampaign
//! cancel pending callbacks in their own transactions; deleting the contact deletes them.

use super::Services;
use super::calls::MAX_CLOCK_SKEW_MS;
use super::dialer::{Claim, Leased, Picked};
use crate::domain::Contact;
use crate::domain::call::{CallDirection, CallInput, CallOutcome};
use crate::domain::callback::{self, Callback, CallbackTime, CancelReason, NewCallback};
use crate::domain::dialing::{DAY_MS, parse_dials};
use crate::domain::filter::ContactStatus;
use crate::domain::timezone::{self, Zones};
use crate::error::{Error, Result};
use crate::store::{self, Txn, acquire::Db, callbacks::ListFilter, dialer::Eligibility};
use std::collections::HashSet;

/// Pending callbacks a claim reads beyond the contacts it wants: enough that a few held
/// back do not hide the due ones behind them, and that for most campaigns the read holds
/// every pending callback (then the normal scan needs no further query to skip them).
const PENDING_SLACK: u64 = 64;

/// Which members of a campaign wait for a callback not delivered yet.
#[derive(Debug)]
pub enum Waiting {
    /// All of them (the claim's read held every pending callback of the campaign).
    Known(HashSet<i64>),
    /// More than one read holds: ask per scan step.
    Many,
}

/// How many pending callbacks a claim of `want` contacts reads.
pub fn pending_limit(want: usize) -> u64 {
    want as u64 + PENDING_SLACK
}

impl Waiting {
    /// From the contacts of the pending callbacks a read of at most `limit` found: all
    /// of them when it found fewer.
    pub fn read(contacts: impl ExactSizeIterator<Item = i64>, limit: u64) -> Waiting {
        if (contacts.len() as u64) < limit {
            Waiting::Known(contacts.collect())
        } else {
            Waiting::Many
        }
    }

    /// Which of `ids` wait for a callback.
    pub async fn among(
        &self,
        db: &Db,
        account_id: &str,
        campaign_id: &str,
        ids: &[i64],
    ) -> Result<HashSet<i64>> {
        match self {
            Waiting::Known(set) if set.is_empty() => Ok(HashSet::new()),
            Waiting::Known(set) => Ok(ids.iter().copied().filter(|i| set.contains(i)).collect()),
            Waiting::Many => {
                store::callbacks::pending_among(db, account_id, campaign_id, ids).await
            }
        }
    }
}

impl Services {
    /// The claim's first step: leases the campaign's due callbacks (at most
    /// `claim.max_contacts`), moves the ones the window or the frequency rules hold back,
    /// cancels those whose contact is no longer ACTIVE; returns the leased and which
    /// members wait for a callback.
    pub(super) async fn claim_callbacks(
        &self,
        account_id: &str,
        claim: &Claim,
        e: &Eligibility,
    ) -> Result<(Vec<Leased>, Waiting)> {
        let want = claim.max_contacts;
        let limit = pending_limit(want);
        let campaign = claim.campaign_id.as_str();
        let rows = store::callbacks::pending_in_due_order(
            self.store.claim_reads(),
            account_id,
            campaign,
            e.now,
            limit,
        )
        .await?;
        let waiting = Waiting::read(rows.iter().map(|p| p.callback.contact_id), limit);
        let now = e.now;
        let (mut picked, mut deferred, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for p in rows {
            let cb = &p.callback;
            if cb.due_at > now || picked.len() == want {
                break;
            }
            if !seen.insert(cb.contact_id) || p.lease_expires_at.is_some_and(|t| t > now) {
                continue;
            }
            if ContactStatus::from_stored(&p.contact_status) != ContactStatus::Active {
                gone.push(cb.id);
                continue;
            }
            let recent = parse_dials(&p.recent_dials);
            if e.frequency.check(&recent, now).is_err() {
                deferred.push((cb.id, e.frequency.next_allowed(&recent, now)));
                continue;
            }
            let zones = timezone::resolve(&p.contact_time_zone, &p.phone);
            if claim.rules.check_window(&zones, &p.phone, now).is_err() {
                let next = claim.rules.next_open(&zones, &p.phone, now);
                deferred.push((cb.id, next.unwrap_or(now + DAY_MS).max(now + 1)));
                continue;
            }
            let person = Picked {
                id: cb.contact_id,
                version: p.contact_version,
                attempts: p.attempts.unwrap_or_default(),
                time_zone: zones.name(),
            };
            picked.push((p.callback, person));
        }
        if !deferred.is_empty() || !gone.is_empty() {
            let txn = self.store.begin_write().await?;
            for (id, at) in &deferred {
                store::callbacks::defer(&txn, *id, *at).await?;
            }
            store::callbacks::settle(&txn, &gone, CancelReason::Dnc, None, now).await?;
            txn.commit().await?;
        }
        // The person asked: the campaign's attempt limit and retry spacing are waived;
        // every other condition is re-checked under the lease's lock.
        let waived = Eligibility {
            max_attempts: i32::MAX,
            last_attempt_before: i64::MAX,
            ..*e
        };
        let people = picked.iter().map(|(_, person)| person.clone()).collect();
        let mut leased = self
            .lease_picked(account_id, claim, &waived, people)
            .await?;
        for l in &mut leased {
            l.callback = picked
                .iter()
                .find(|p| p.0.contact_id == l.contact.id)
                .map(|p| p.0.clone());
        }
        // Out on lease: the next claims' reads pass over them. Only the read's reach
        // rests on this (every hand-out re-checks the lease), so a failure is logged and
        // the claim, whose leases are taken, still answers.
        let held: Vec<i64> = leased
            .iter()
            .filter_map(|l| l.callback.as_ref().map(|c| c.id))
            .collect();
        let until = leased
            .iter()
            .map(|l| l.lease_expires_at)
            .max()
            .unwrap_or(now);
        if let Err(err) = self.store.hold_callbacks(&held, until).await {
            tracing::warn!(%err, callbacks = held.len(), "marking delivered callbacks as out on lease failed");
        }
        Ok((leased, waiting))
    }

    /// RecordCall's part, in its transaction, once the call is stored: the contact's
    /// pending callbacks are delivered by this call (an outbound call of their campaign
    /// starting at or after their due time) or cancelled by it (any other call); a
    /// `CALLBACK_REQUESTED` call then schedules a new one (not when it also carries a
    /// DNC request: the DNC request wins).
    pub(super) async fn settle_and_schedule(
        &self,
        txn: &Txn,
        account_id: &str,
        c: &Contact,
        input: &CallInput,
        call_id: i64,
        now: i64,
    ) -> Result<()> {
        let pending = store::callbacks::pending_of_contact(txn, account_id, c.id, None).await?;
        let (delivered, superseded): (Vec<&Callback>, Vec<&Callback>) =
            pending.iter().partition(|cb| {
                input.direction == CallDirection::Outbound
                    && input.campaign_id == cb.campaign_id
                    && input.started_at + MAX_CLOCK_SKEW_MS >= cb.due_at
            });
        let ids = |v: Vec<&Callback>| v.iter().map(|c| c.id).collect::<Vec<_>>();
        store::callbacks::settle(txn, &ids(delivered), CancelReason::None, Some(call_id), now)
            .await?;
        let reason = CancelReason::CallRecorded;
        store::callbacks::settle(txn, &ids(superseded), reason, Some(call_id), now).await?;
        let Some(time) = input.callback.as_ref() else {
            return Ok(());
        };
        if input.outcome != CallOutcome::CallbackRequested || input.dnc_requested {
            return Ok(());
        }
        let campaign = input.campaign_id.as_str();
        if store::campaigns::member(txn, account_id, campaign, c.id)
            .await?
            .is_none()
        {
            return Err(Error::FailedPrecondition(format!(
                "contact {} is not a member of campaign {campaign}: a callback is handed out \
                 by its campaign's claims",
                c.id
            )));
        }
        let (at, zone, local) = callback_instant(time, c)?;
        callback::check_ahead(at, now).map_err(|m| {
            let field = match time {
                CallbackTime::At(_) => "callback.callback_time",
                CallbackTime::Local { .. } => "callback.local_time",
            };
            Error::invalid(field, m)
        })?;
        let new = NewCallback {
            account_id: account_id.to_string(),
            campaign_id: campaign.to_string(),
            contact_id: c.id,
            at,
            time_zone: zone,
            local_time: local,
            call_id,
            created_at: now,
        };
        store::callbacks::insert(txn, &new).await?;
        Ok(())
    }

    /// The callback a stored call asked for, if any.
    pub async fn callback_of_call(
        &self,
        account_id: &str,
        call_id: i64,
    ) -> Result<Option<Callback>> {
        store::callbacks::by_call(self.store.conn(), account_id, call_id).await
    }

    /// A page of an account's callbacks, newest first.
    pub async fn list_callbacks(
        &self,
        account_id: &str,
        filter: &ListFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Callback>, String)> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let size = super::page::page_size(page_size);
        let before = super::page::decode(page_token)?;
        let rows =
            store::callbacks::list(self.store.conn(), account_id, filter, before, size + 1).await?;
        Ok(super::page::split(rows, size, |c| c.id))
    }
}

/// The instant a callback time stands for, the zone a local time was read in and the
/// local time as given.
fn callback_instant(time: &CallbackTime, c: &Contact) -> Result<(i64, String, String)> {
    match time {
        CallbackTime::At(ms) => Ok((*ms, String::new(), String::new())),
        CallbackTime::Local { text, at, zone } => {
            let tz = match zone {
                Some(tz) => *tz,
                None => match timezone::resolve(&c.time_zone, &c.phone) {
                    Zones::One(tz) => tz,
                    _ => {
                        return Err(Error::invalid(
                            "callback.time_zone",
                            format!(
                                "is required: contact {}'s time zone cannot be told from its \
                                 number (give callback.time_zone, or callback.callback_time)",
                                c.id
                            ),
                        ));
                    }
                },
            };
            let ms = callback::local_instant(*at, tz).ok_or_else(|| {
                Error::invalid(
                    "callback.local_time",
                    format!("{text:?} is not a time in {}", tz.name()),
                )
            })?;
            Ok((ms, tz.name().to_string(), text.clone()))
        }
    }
}
