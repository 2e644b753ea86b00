//! The dialer's feed: claim (lease) dialable contacts, the streaming form, releasing
//! leases, CheckDialable and PreviewDialable. "Call Now" requests are in
//! [`super::call_requests`], script templates in [`super::templates`].
//!
//! A lease is on the person, not the campaign member: one live lease per contact across
//! every campaign and Call Now (`store::leases`), and each lease counts as a dial for the
//! account-wide frequency rules ([`Frequency`]) until its holder gives it back unused.
//!
//! A claim scans the campaign's eligible members (every stored condition, DNC checked
//! against the list itself) in id order without locks, applies the calling hours in
//! Rust, then re-checks and leases the chosen rows under a lock in a short write
//! transaction (see `store::dialer`). Each replica remembers where its last scan of a
//! campaign stopped ([`ScanHints`]) and continues from there, wrapping around at the end:
//! concurrent dialers fan out over the campaign instead of fighting over its first rows,
//! and members that are leased or waiting out their retry spacing are not rescanned by
//! every claim. The hint only picks a starting point; correctness never depends on it.
//!
//! Before the scan, a claim hands out the campaign's due callbacks through the same
//! lease re-check, and learns which members wait for a later one (the scan skips them):
//! see `service::callbacks`.

use super::Services;
use crate::domain::callback::Callback;
use crate::domain::consent::ConsentRequirement;
use crate::domain::dialing::{
    DialRules, Frequency, LeaseId, MemberState, PersonState, Refusal, ReleaseTarget, parse_dials,
};
use crate::domain::filter::ContactStatus;
use crate::domain::timezone::{self, Zones};
use crate::domain::{Contact, Phone, Region, Validation};
use crate::error::{Error, Result};
use crate::store::{self, contacts::Lock, dialer::Eligibility};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Candidates read per scan step after the first.
const SCAN_PAGE: u64 = 500;

/// Candidates read by a claim's first scan step: what it wants plus a quarter, so that a
/// few members outside their calling window or taken by a concurrent claim do not cost a
/// second step. Reading more is not free: on PostgreSQL the candidate read of 500 rows
/// took 1.2 ms against 0.35 ms for 133, and every row read is decoded by the server.
fn first_scan_page(want: usize) -> u64 {
    (want + want / 4 + 8) as u64
}

/// Members read per step of a preview.
const PREVIEW_PAGE: u64 = 2_000;
/// Most contacts a stream's dialer may have asked for and not yet received.
pub const MAX_STREAM_CREDIT: u64 = 10_000;
/// An open stream re-reads its API key from the database (bypassing the cache) at most
/// this often while it claims, and at least this often while idle: a revoked key ends
/// the stream within this time on every replica.
pub const STREAM_KEY_RECHECK: Duration = Duration::from_secs(5);

/// Per (account, campaign): this replica's scan cursor, the contact id after which the
/// next scan step starts. A claim holds the cursor only while one step reads and picks its
/// candidates, then moves it on, so concurrent claims on a replica take disjoint slices
/// of the campaign. One small entry per campaign ever claimed on this replica.
#[derive(Debug, Default)]
pub struct ScanHints(Mutex<HashMap<(String, String), Cursor>>);

/// One campaign's scan cursor.
type Cursor = Arc<tokio::sync::Mutex<i64>>;

impl ScanHints {
    fn cursor(&self, account: &str, campaign: &str) -> Cursor {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry((account.to_string(), campaign.to_string()))
            .or_default()
            .clone()
    }
}

/// A claim's parameters.
#[derive(Debug, Clone)]
pub struct Claim {
    pub campaign_id: String,
    pub dialer_id: String,
    pub max_contacts: usize,
    pub lease_ms: i64,
    pub rules: DialRules,
}

/// A contact leased to a dialer.
#[derive(Debug, Clone)]
pub struct Leased {
    pub contact: Contact,
    /// Names the lease for a give-back.
    pub lease: LeaseId,
    pub lease_expires_at: i64,
    pub attempts: i32,
    /// The zone the window was checked in ("" when all zones of the country were).
    pub time_zone: String,
    /// The callback this lease delivers, if it does.
    pub callback: Option<Callback>,
}

/// Whom CheckDialable asks about.
#[derive(Debug, Clone)]
pub enum DialTarget {
    Contact(i64),
    Phone(String, Option<Region>),
}

/// CheckDialable's answer: `None` = dialable.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub refusal: Option<Refusal>,
    pub detail: String,
    /// The contact's pending callback (in the campaign asked about, else its earliest).
    pub callback: Option<Callback>,
    /// For a calling-hours refusal: when the hours next open.
    pub next_open: Option<i64>,
}

/// PreviewDialable's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    pub members: i64,
    pub dialable: i64,
    pub dnc: i64,
    pub outside_window: i64,
    pub attempts_exhausted: i64,
    pub retry_spacing: i64,
    pub leased: i64,
    pub call_spacing: i64,
    pub daily_limit: i64,
    pub weekly_limit: i64,
    pub no_consent: i64,
    /// Members with a due callback (also counted under their verdict).
    pub callbacks_due: i64,
    /// Skipped: a callback is scheduled later.
    pub callback_scheduled: i64,
    /// Skipped: the local day of the week has no window.
    pub closed_day: i64,
    /// Skipped: the local date is excluded.
    pub excluded_date: i64,
    /// Of the calling-hours skips, those under a region's override.
    pub region_rules: i64,
}

/// What a streaming dialer says after the first message.
#[derive(Debug, Clone)]
pub enum StreamInput {
    /// Send this many more contacts.
    Demand(u64),
    /// Give back these leases (not dialed).
    Release(Vec<ReleaseTarget>),
}

/// A Call Now request's calling-window decision.
#[derive(Debug, Clone)]
pub enum WindowPolicy {
    /// Refuse outside these calling hours.
    Obey(std::sync::Arc<crate::domain::calling_hours::CallingRules>),
    /// A person decided to call outside the window (recorded with `requested_by`).
    Override,
}

/// The account's frequency rules.
pub fn account_frequency(a: &crate::domain::Account) -> Frequency {
    Frequency {
        per_day: a.max_calls_per_day,
        per_week: a.max_calls_per_week,
        min_spacing_ms: a.min_call_spacing_seconds.saturating_mul(1000),
    }
}

fn with_callback(callback: &Option<Callback>, v: Verdict) -> Verdict {
    Verdict {
        callback: callback.clone(),
        ..v
    }
}

fn refuse(refusal: Refusal, detail: impl Into<String>) -> Verdict {
    Verdict {
        refusal: Some(refusal),
        detail: detail.into(),
        callback: None,
        next_open: None,
    }
}

impl Services {
    /// Leases up to `claim.max_contacts` contacts that may be dialed now.
    pub async fn claim_dialable(&self, account_id: &str, claim: &Claim) -> Result<Vec<Leased>> {
        let account = store::accounts::get(self.store.claim_reads(), account_id).await?;
        let now = self.now();
        let rules = &claim.rules;
        let e = Eligibility {
            now,
            max_attempts: rules.max_attempts,
            last_attempt_before: now - rules.retry_interval_ms,
            frequency: account_frequency(&account).with(rules.frequency),
            require_consent: rules.require_consent,
        };
        let until = now + claim.lease_ms;
        let campaign = claim.campaign_id.as_str();
        let cursor = self.scan_hints.cursor(account_id, campaign);
        // Due callbacks first; members waiting for a later one are skipped by the scan.
        let (mut out, waiting) = self.claim_callbacks(account_id, claim, &e, until).await?;
        // Scan from the cursor to the end, then once more from the start (unless the
        // first pass already began there).
        let mut passes_left = None;
        while out.len() < claim.max_contacts && passes_left != Some(0) {
            let want = claim.max_contacts - out.len();
            let picked = {
                let mut cur = cursor.lock().await;
                let step = if passes_left.is_none() {
                    first_scan_page(want)
                } else {
                    SCAN_PAGE
                };
                let passes = passes_left.get_or_insert(if *cur == 0 { 1 } else { 2 });
                let page = store::dialer::candidates(
                    self.store.claim_reads(),
                    account_id,
                    campaign,
                    &e,
                    *cur,
                    step,
                )
                .await?;
                let ids: Vec<i64> = page.iter().map(|c| c.contact_id).collect();
                let waits = waiting
                    .among(self.store.claim_reads(), account_id, campaign, &ids)
                    .await?;
                let mut picked = Vec::new();
                let mut last = *cur;
                for c in &page {
                    if picked.len() == want {
                        break;
                    }
                    last = c.contact_id;
                    if waits.contains(&c.contact_id) {
                        continue;
                    }
                    if e.frequency
                        .check(&parse_dials(&c.recent_dials), now)
                        .is_err()
                    {
                        continue;
                    }
                    let zones = timezone::resolve(&c.time_zone, &c.phone);
                    if rules.check_window(&zones, &c.phone, now).is_ok() {
                        picked.push((c.contact_id, c.attempts, zones.name()));
                    }
                }
                if (page.len() as u64) < step && picked.len() < want {
                    *cur = 0;
                    *passes -= 1;
                } else {
                    *cur = last;
                }
                picked
            };
            out.extend(
                self.lease_picked(account_id, claim, &e, picked, until)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Re-checks and leases the picked candidates (one statement on PostgreSQL, one short
    /// write transaction on SQLite).
    pub(super) async fn lease_picked(
        &self,
        account_id: &str,
        claim: &Claim,
        e: &Eligibility,
        picked: Vec<(i64, i32, String)>,
        until: i64,
    ) -> Result<Vec<Leased>> {
        if picked.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<i64> = picked.iter().map(|p| p.0).collect();
        let lease = store::dialer::Lease {
            account_id,
            campaign_id: &claim.campaign_id,
            owner: &claim.dialer_id,
            until,
        };
        let contacts = self.store.lease_eligible(&lease, e, &ids).await?;
        Ok(contacts
            .into_iter()
            .filter_map(|c| {
                let (_, attempts, tz) = picked.iter().find(|p| p.0 == c.id)?.clone();
                Some(Leased {
                    lease: LeaseId {
                        contact_id: c.id,
                        started_at: e.now,
                    },
                    contact: c,
                    lease_expires_at: until,
                    attempts,
                    time_zone: tz,
                    callback: None,
                })
            })
            .collect())
    }

    /// A feed of claims driven by the dialer's demand: the feed leases and sends only
    /// what the dialer has asked for and not yet received (its credit, from `first` and
    /// each [`StreamInput::Demand`]), at most `claim.max_contacts` per message; with
    /// credit left and nothing eligible it looks again every `poll`. Releases are applied
    /// as they come. With a `token`, the API key is re-read from the database every
    /// [`STREAM_KEY_RECHECK`] at the most while claiming (and at least that often while
    /// idle): a revoked key ends the feed with UNAUTHENTICATED. The feed stops when the
    /// dialer goes away, or has closed its side and has no credit left.
    pub fn stream_dialable<S>(
        &self,
        account_id: String,
        claim: Claim,
        poll: Duration,
        first: u64,
        token: Option<String>,
        mut input: S,
    ) -> mpsc::Receiver<Result<Vec<Leased>>>
    where
        S: futures::Stream<Item = Result<StreamInput>> + Send + Unpin + 'static,
    {
        use futures::StreamExt;
        let (tx, rx) = mpsc::channel(1);
        let svc = self.clone();
        tokio::spawn(async move {
            let mut credit = first.min(MAX_STREAM_CREDIT);
            let mut input_open = true;
            let mut key_checked = tokio::time::Instant::now();
            loop {
                if token.is_some() && key_checked.elapsed() >= STREAM_KEY_RECHECK {
                    if let Err(e) = svc.authenticate_fresh(token.as_deref().unwrap_or("")).await {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    key_checked = tokio::time::Instant::now();
                }
                if credit > 0 {
                    let mut one = claim.clone();
                    one.max_contacts = claim.max_contacts.min(credit as usize);
                    match svc.claim_dialable(&account_id, &one).await {
                        Ok(batch) if !batch.is_empty() => {
                            credit -= batch.len() as u64;
                            if tx.send(Ok(batch)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                } else if !input_open {
                    return;
                }
                let wait = if credit > 0 { poll } else { STREAM_KEY_RECHECK };
                tokio::select! {
                    msg = input.next(), if input_open => match msg {
                        Some(Ok(StreamInput::Demand(n))) => {
                            credit = credit.saturating_add(n).min(MAX_STREAM_CREDIT);
                        }
                        Some(Ok(StreamInput::Release(targets))) => {
                            if let Err(e) = svc
                                .release_leases(&account_id, &claim.campaign_id, &claim.dialer_id, &targets)
                                .await
                            {
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                        }
                        Some(Err(e)) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                        None => input_open = false,
                    },
                    _ = tokio::time::sleep(wait) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        rx
    }

    /// Gives back a dialer's leases in a campaign (all of them when `targets` is empty):
    /// each ends, and its dial no longer counts for the frequency rules. Leases the
    /// dialer does not hold (another's, already ended, or — named by lease id — an
    /// earlier lease of a person it holds again) are left alone.
    pub async fn release_leases(
        &self,
        account_id: &str,
        campaign_id: &str,
        dialer_id: &str,
        targets: &[ReleaseTarget],
    ) -> Result<u64> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let ids: Vec<i64> = targets.iter().map(ReleaseTarget::contact_id).collect();
        let txn = self.store.begin_write().await?;
        let held = store::leases::held_by(&txn, account_id, campaign_id, dialer_id, &ids).await?;
        let lock = store::contacts::Targets::Ids(&held);
        store::contacts::lock_in_number_order(&txn, account_id, lock, Lock::Update).await?;
        let named: Vec<ReleaseTarget> = if targets.is_empty() {
            held.iter().map(|&id| ReleaseTarget::Contact(id)).collect()
        } else {
            targets.to_vec()
        };
        let ended =
            store::leases::release(&txn, account_id, campaign_id, dialer_id, &named).await?;
        // A callback given back undelivered is due again at once.
        store::callbacks::unhold(&txn, account_id, campaign_id, &ended).await?;
        txn.commit().await?;
        Ok(ended.len() as u64)
    }

    /// Whether a contact or number may be dialed right now, and why not. Checks, in
    /// order: DNC (list and status), status, consent (when the rules require it),
    /// campaign membership, attempts, spacing,
    /// leases (the asking dialer's own lease does not count), the calling hours (the
    /// day's window, closed days, excluded dates, the contact's region's override).
    pub async fn check_dialable(
        &self,
        account_id: &str,
        target: DialTarget,
        campaign_id: Option<&str>,
        rules: DialRules,
        dialer_id: &str,
    ) -> Result<Verdict> {
        let account = store::accounts::get(self.store.conn(), account_id).await?;
        let region = Region::parse(&account.default_region).map_err(Error::Internal)?;
        let now = self.now();
        let (contact, e164) = match target {
            DialTarget::Contact(id) => {
                match store::contacts::find(self.store.conn(), account_id, id).await {
                    Ok(c) => {
                        let phone = c.phone.clone();
                        (Some(c), phone)
                    }
                    Err(Error::NotFound { .. }) => {
                        return Ok(refuse(Refusal::Unknown, format!("no contact {id}")));
                    }
                    Err(e) => return Err(e),
                }
            }
            DialTarget::Phone(raw, r) => {
                match Phone::parse(&raw, r.or(Some(region)), Validation::Lenient) {
                    Ok(p) => {
                        let c =
                            store::contacts::find_by_phone(self.store.conn(), account_id, p.e164())
                                .await?
                                .map(Contact::from);
                        (c, p.e164().to_string())
                    }
                    Err(err) => {
                        return Ok(refuse(Refusal::Unknown, format!("phone: {err}")));
                    }
                }
            }
        };
        // The contact's pending callback: in the campaign asked about, else its earliest.
        let callback = match &contact {
            Some(c) => store::callbacks::pending_of_contact(
                self.store.conn(),
                account_id,
                c.id,
                campaign_id,
            )
            .await?
            .into_iter()
            .next(),
            None => None,
        };
        let callback_due =
            campaign_id.is_some() && callback.as_ref().is_some_and(|cb| cb.due_at <= now);
        if let Some(entry) = store::dnc::entry(self.store.conn(), account_id, &e164).await? {
            return Ok(with_callback(
                &callback,
                refuse(
                    Refusal::Dnc,
                    format!("{e164} is on the DNC list (source {})", entry.source),
                ),
            ));
        }
        if let Some(hit) = store::dnc_lists::live_hits(
            self.store.conn(),
            account_id,
            std::slice::from_ref(&e164),
            now,
        )
        .await?
        .first()
        {
            return Ok(with_callback(
                &callback,
                refuse(Refusal::Dnc, super::dnc_lists::list_detail(hit)),
            ));
        }
        if let Some(c) = &contact
            && c.status != ContactStatus::Active
        {
            return Ok(with_callback(
                &callback,
                refuse(Refusal::Dnc, format!("contact {} is DNC", c.id)),
            ));
        }
        if rules.require_consent.required() {
            let consented = match &contact {
                Some(c) => {
                    store::consents::has_live(self.store.conn(), c.id, rules.require_consent, now)
                        .await?
                }
                None => false,
            };
            if !consented {
                return Ok(refuse(
                    Refusal::NoConsent,
                    consent_detail(contact.as_ref().map(|c| c.id), rules.require_consent),
                ));
            }
        }
        if let Some(campaign) = campaign_id {
            let member = match &contact {
                Some(c) => {
                    store::campaigns::member(self.store.conn(), account_id, campaign, c.id).await?
                }
                None => None,
            };
            let Some(m) = member else {
                return Ok(with_callback(
                    &callback,
                    refuse(
                        Refusal::NotInCampaign,
                        format!("not a member of campaign {campaign}"),
                    ),
                ));
            };
            let state = MemberState {
                attempts: m.attempts,
                last_attempt_at: m.last_attempt_at,
            };
            if let Some(cb) = &callback
                && cb.due_at > now
            {
                return Ok(with_callback(
                    &callback,
                    refuse(
                        Refusal::CallbackScheduled,
                        format!(
                            "a callback is scheduled at {}: the campaign waits for it",
                            timezone::utc_text(cb.due_at)
                        ),
                    ),
                ));
            }
            // A due callback: the person asked, attempts and retry spacing are waived.
            if let Err(r) = rules.check_member(&state, now)
                && !callback_due
            {
                return Ok(with_callback(
                    &callback,
                    refuse(r, member_detail(r, &state, &rules)),
                ));
            }
        }
        if let Some(c) = &contact {
            let person = store::leases::person(self.store.conn(), account_id, c.id).await?;
            let frequency = account_frequency(&account);
            if let Err(r) = rules.check_person(&person, frequency, dialer_id, now) {
                return Ok(with_callback(
                    &callback,
                    refuse(
                        r,
                        person_detail(r, &person, frequency.with(rules.frequency)),
                    ),
                ));
            }
        }
        let explicit = contact.as_ref().map(|c| c.time_zone.as_str()).unwrap_or("");
        let zones = timezone::resolve(explicit, &e164);
        match rules.check_window(&zones, &e164, now) {
            Ok(()) => Ok(Verdict {
                refusal: None,
                detail: String::new(),
                callback,
                next_open: None,
            }),
            Err(r) if r.is_hours() => {
                let next_open = rules.next_open(&zones, &e164, now);
                let detail = hours_detail(r, &rules, &zones, &e164, next_open);
                Ok(Verdict {
                    next_open,
                    ..with_callback(&callback, refuse(r, detail))
                })
            }
            Err(r) => Ok(with_callback(
                &callback,
                refuse(r, "the number cannot be placed in a time zone"),
            )),
        }
    }

    /// How many members of a campaign are dialable now, and how many are skipped by
    /// each reason (the first failing check counts, in CheckDialable's order).
    pub async fn preview_dialable(
        &self,
        account_id: &str,
        campaign_id: &str,
        rules: DialRules,
    ) -> Result<Preview> {
        let account = store::accounts::get(self.store.conn(), account_id).await?;
        let frequency = account_frequency(&account);
        let now = self.now();
        let mut p = Preview::default();
        // Pending callbacks by member: their earliest due time.
        let callbacks =
            store::callbacks::pending_by_contact(self.store.conn(), account_id, campaign_id)
                .await?;
        let mut after = 0;
        loop {
            let page = store::dialer::member_facts(
                self.store.conn(),
                account_id,
                campaign_id,
                (rules.require_consent, now),
                after,
                PREVIEW_PAGE,
            )
            .await?;
            let ids: Vec<i64> = page.iter().map(|m| m.contact_id).collect();
            let mut persons = store::leases::persons(self.store.conn(), account_id, &ids).await?;
            // A number a named DNC list blocks counts as listed.
            let phones: Vec<String> = page.iter().map(|m| m.phone.clone()).collect();
            let blocked =
                store::dnc_lists::blocked(self.store.conn(), account_id, &phones, now).await?;
            let page: Vec<_> = page
                .into_iter()
                .map(|mut m| {
                    m.listed |= blocked.contains(&m.phone);
                    m
                })
                .collect();
            for m in &page {
                p.members += 1;
                let person = persons.remove(&m.contact_id).unwrap_or_default();
                let callback = callbacks.get(&m.contact_id).copied();
                let callback_due = callback.is_some_and(|due| due <= now);
                p.callbacks_due += i64::from(callback_due);
                let verdict =
                    if m.listed || ContactStatus::from_stored(&m.status) != ContactStatus::Active {
                        Err(Refusal::Dnc)
                    } else if !m.consented {
                        Err(Refusal::NoConsent)
                    } else if callback.is_some() && !callback_due {
                        Err(Refusal::CallbackScheduled)
                    } else {
                        // A due callback waives attempts and retry spacing.
                        (if callback_due {
                            Ok(())
                        } else {
                            rules.check_member(&m.state, now)
                        })
                        .and_then(|()| rules.check_person(&person, frequency, "", now))
                        .and_then(|()| {
                            let zones = timezone::resolve(&m.time_zone, &m.phone);
                            rules.check_window(&zones, &m.phone, now)
                        })
                    };
                if verdict.is_err_and(Refusal::is_hours)
                    && rules.calling.hours_for(&m.phone).1.is_some()
                {
                    p.region_rules += 1;
                }
                match verdict {
                    Ok(()) => p.dialable += 1,
                    Err(Refusal::Dnc | Refusal::NotActive) => p.dnc += 1,
                    Err(Refusal::AttemptsExhausted) => p.attempts_exhausted += 1,
                    Err(Refusal::RetrySpacing) => p.retry_spacing += 1,
                    Err(Refusal::Leased) => p.leased += 1,
                    Err(Refusal::CallSpacing) => p.call_spacing += 1,
                    Err(Refusal::DailyLimit) => p.daily_limit += 1,
                    Err(Refusal::WeeklyLimit) => p.weekly_limit += 1,
                    Err(Refusal::NoConsent) => p.no_consent += 1,
                    Err(Refusal::CallbackScheduled) => p.callback_scheduled += 1,
                    Err(Refusal::ClosedDay) => p.closed_day += 1,
                    Err(Refusal::ExcludedDate) => p.excluded_date += 1,
                    Err(Refusal::OutsideWindow | Refusal::NotInCampaign | Refusal::Unknown) => {
                        p.outside_window += 1
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == PREVIEW_PAGE => after = last.contact_id,
                _ => return Ok(p),
            }
        }
    }
}

fn member_detail(r: Refusal, m: &MemberState, rules: &DialRules) -> String {
    match r {
        Refusal::AttemptsExhausted => {
            format!("{} of {} attempts used", m.attempts, rules.max_attempts)
        }
        Refusal::RetrySpacing => format!(
            "last attempt at {} ms; next allowed {} ms later",
            m.last_attempt_at.unwrap_or_default(),
            rules.retry_interval_ms
        ),
        _ => String::new(),
    }
}

fn person_detail(r: Refusal, p: &PersonState, f: Frequency) -> String {
    match r {
        Refusal::Leased => format!(
            "leased by dialer {} ({}) until {} ms",
            p.lease_owner.as_deref().unwrap_or(""),
            match p.lease_campaign.as_deref() {
                Some("") => "Call Now".to_string(),
                Some(c) => format!("campaign {c}"),
                None => String::new(),
            },
            p.lease_expires_at.unwrap_or_default()
        ),
        Refusal::CallSpacing => format!(
            "last dialed at {} ms (any campaign); at least {} s between two calls",
            p.recent.first().copied().unwrap_or_default(),
            f.min_spacing_ms / 1000
        ),
        Refusal::DailyLimit => format!(
            "already dialed {} times in the last 24 hours (limit {})",
            f.per_day, f.per_day
        ),
        Refusal::WeeklyLimit => format!(
            "already dialed {} times in the last 7 days (limit {})",
            f.per_week, f.per_week
        ),
        _ => String::new(),
    }
}

fn consent_detail(contact: Option<i64>, required: ConsentRequirement) -> String {
    let kinds = required.stored_values().join(" or ");
    match contact {
        Some(id) => format!("contact {id} has no live consent of a kind required ({kinds})"),
        None => {
            format!("no contact holds the number, so no consent is recorded ({kinds} required)")
        }
    }
}

pub(super) fn zones_name(zones: &Zones) -> String {
    match zones {
        Zones::One(tz) => tz.name().to_string(),
        Zones::All(all) => format!("all {} zones of its country", all.len()),
        Zones::Unknown => "unknown".to_string(),
    }
}

/// Why the calling hours refuse, which hours (and whose), and when they open.
fn hours_detail(
    r: Refusal,
    rules: &DialRules,
    zones: &Zones,
    e164: &str,
    next_open: Option<i64>,
) -> String {
    let (hours, region) = rules.calling.hours_for(e164);
    let why = match r {
        Refusal::ClosedDay => "no calling window on this day of the week",
        Refusal::ExcludedDate => "an excluded date",
        _ => "outside the day's calling window",
    };
    let whose = match region {
        Some(code) => format!("the rules for {code}"),
        None => "the campaign's rules".to_string(),
    };
    let opens = match next_open {
        Some(at) => format!("opens at {}", timezone::utc_text(at)),
        None => "does not open within the years ahead".to_string(),
    };
    format!(
        "{why} in {} under {whose} ({}); {opens}",
        zones_name(zones),
        hours.describe()
    )
}
