//! The dialer's feed: claim (lease) dialable contacts, the streaming form, releasing
//! leases. CheckDialable and PreviewDialable are in [`super::dialable`], "Call Now"
//! requests in [`super::call_requests`], script templates in [`super::templates`].
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

use super::{Services, callbacks};
use crate::domain::Contact;
use crate::domain::callback::Callback;
use crate::domain::dialing::{DialRules, Frequency, LeaseId, ReleaseTarget, parse_dials};
use crate::domain::timezone::{self, Zones};
use crate::error::{Error, Result};
use crate::store::{self, contacts::Lock, dialer::Eligibility};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Candidates read per scan step after the first.
const SCAN_PAGE: u64 = 500;

/// Candidates read by a claim's first scan step: what it wants, divided by the share of
/// candidates the campaign's recent steps on this replica could pick (`yield_share`:
/// the rest were outside their calling window, over the frequency rules, or waiting for
/// a callback), plus 8, so that a few unpickable members do not cost a second step; at
/// most [`SCAN_PAGE`] or a quarter over what it wants, whichever is more. Reading more
/// than is picked is not free: the unread rest is read again by the next claim, and
/// every row costs PostgreSQL and the server's decoding (the candidate read of 133 rows
/// took 0.58–0.66 ms against 0.50–0.54 ms for 108, pgbench on the claims suite's data).
fn first_scan_page(want: usize, yield_share: f64) -> u64 {
    let share = yield_share.clamp(MIN_YIELD, 1.0);
    let most = SCAN_PAGE.max((want + want / 4 + 8) as u64);
    ((want as f64 / share).ceil() as u64 + 8).min(most)
}

/// The share assumed before a campaign's first step on this replica (a first page of
/// 133 for 100), and the least ever assumed.
const FIRST_YIELD: f64 = 0.8;
const MIN_YIELD: f64 = 0.05;

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
type Cursor = Arc<tokio::sync::Mutex<ScanState>>;

/// Where the next step starts, and what share of the candidates recent steps looked at
/// they could pick (a moving average; sizes the first page, [`first_scan_page`]).
#[derive(Debug)]
struct ScanState {
    at: i64,
    yield_share: f64,
}

impl Default for ScanState {
    fn default() -> Self {
        ScanState {
            at: 0,
            yield_share: FIRST_YIELD,
        }
    }
}

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

/// A member a claim chose to lease, as its read saw it.
#[derive(Debug, Clone)]
pub(super) struct Picked {
    pub id: i64,
    /// The contact row's version (`store::dialer::row_version`): the lease is granted only
    /// if the row is still at it.
    pub version: i64,
    pub attempts: i32,
    /// The zone the window was checked in.
    pub time_zone: String,
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

impl Services {
    /// Leases up to `claim.max_contacts` contacts that may be dialed now.
    pub async fn claim_dialable(&self, account_id: &str, claim: &Claim) -> Result<Vec<Leased>> {
        let now = self.now();
        let rules = &claim.rules;
        let mut e = Eligibility {
            now,
            max_attempts: rules.max_attempts,
            last_attempt_before: now - rules.retry_interval_ms,
            // The account's, from the first read below (which does not look at them).
            frequency: Frequency::default(),
            require_consent: rules.require_consent,
        };
        let campaign = claim.campaign_id.as_str();
        let cursor = self.scan_hints.cursor(account_id, campaign);
        // One round trip for the account's frequency rules, the campaign's pending
        // callbacks and the first page of the scan (read from the cursor, under its lock).
        let state = cursor.lock().await;
        let step = first_scan_page(claim.max_contacts, state.yield_share);
        let pending_limit = callbacks::pending_limit(claim.max_contacts);
        let first = store::dialer::first_read(
            self.store.claim_reads(),
            (account_id, campaign),
            &e,
            state.at,
            (step, pending_limit),
        )
        .await?;
        let account = first
            .account
            .ok_or_else(|| Error::not_found("account", account_id))?;
        e.frequency = account.with(rules.frequency);
        // Due callbacks first (then the page is read again after them); members waiting
        // for a later one are skipped by the scan.
        let (mut out, waiting, mut first_page) = if first.pending.iter().any(|&(_, due)| due <= now)
        {
            drop(state);
            let (out, waiting) = self.claim_callbacks(account_id, claim, &e).await?;
            (out, waiting, None)
        } else {
            let pending = first.pending.iter().map(|&(contact, _)| contact);
            let waiting = callbacks::Waiting::read(pending, pending_limit);
            (vec![], waiting, Some((state, step, first.page)))
        };
        // Scan from the cursor to the end, then from the start up to where the first
        // pass began (unless it began at the start): each member is read at most once
        // per claim.
        let mut passes_left = None;
        let mut began_at = None;
        while out.len() < claim.max_contacts && passes_left != Some(0) {
            let want = claim.max_contacts - out.len();
            let picked = {
                let (mut state, step, read) = match first_page.take() {
                    Some((state, step, page)) => (state, step, Some(page)),
                    None => {
                        let state = cursor.lock().await;
                        let step = if passes_left.is_none() {
                            first_scan_page(want, state.yield_share)
                        } else {
                            SCAN_PAGE
                        };
                        (state, step, None)
                    }
                };
                let cur = &mut state.at;
                let passes = passes_left.get_or_insert(if *cur == 0 { 1 } else { 2 });
                let began_at = *began_at.get_or_insert(*cur);
                // The second pass stops where the first began. It starts at the shared
                // cursor: when another claim has moved it past that point, the second
                // pass reads nothing (what lies before the cursor that claim has just read).
                let upto = (*passes == 1 && began_at > 0).then_some(began_at);
                let page = match read {
                    // The first read's page: from the same cursor, with no upper bound
                    // (a first pass has none).
                    Some(page) => page,
                    None => {
                        store::dialer::candidates(
                            self.store.claim_reads(),
                            account_id,
                            campaign,
                            &e,
                            (*cur, upto),
                            step,
                        )
                        .await?
                    }
                };
                let ids: Vec<i64> = page.iter().map(|c| c.contact_id).collect();
                let waits = waiting
                    .among(self.store.claim_reads(), account_id, campaign, &ids)
                    .await?;
                let mut picked = Vec::new();
                let mut last = *cur;
                let mut looked_at = 0usize;
                for c in &page {
                    if picked.len() == want {
                        break;
                    }
                    last = c.contact_id;
                    looked_at += 1;
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
                        picked.push(Picked {
                            id: c.contact_id,
                            version: c.version,
                            attempts: c.attempts,
                            time_zone: zones.name(),
                        });
                    }
                }
                if (page.len() as u64) < step && picked.len() < want {
                    *cur = 0;
                    *passes -= 1;
                } else {
                    *cur = last;
                }
                if looked_at > 0 {
                    let share = picked.len() as f64 / looked_at as f64;
                    state.yield_share = (state.yield_share + share) / 2.0;
                }
                picked
            };
            out.extend(self.lease_picked(account_id, claim, &e, picked).await?);
        }
        Ok(out)
    }

    /// Re-checks and leases the picked candidates (one statement on PostgreSQL, one short
    /// write transaction on SQLite), from the instant the leases are granted.
    pub(super) async fn lease_picked(
        &self,
        account_id: &str,
        claim: &Claim,
        e: &Eligibility,
        picked: Vec<Picked>,
    ) -> Result<Vec<Leased>> {
        if picked.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<i64> = picked.iter().map(|p| p.id).collect();
        let versions: Vec<i64> = picked.iter().map(|p| p.version).collect();
        let lease = store::dialer::Lease {
            account_id,
            campaign_id: &claim.campaign_id,
            owner: &claim.dialer_id,
            lease_ms: claim.lease_ms,
        };
        let granted = self
            .store
            .lease_eligible(&lease, e, (&ids, &versions), &*self.clock)
            .await?;
        Ok(granted
            .contacts
            .into_iter()
            .filter_map(|c| {
                let p = picked.iter().find(|p| p.id == c.id)?;
                let (attempts, tz) = (p.attempts, p.time_zone.clone());
                Some(Leased {
                    lease: LeaseId {
                        contact_id: c.id,
                        started_at: granted.started_at,
                    },
                    contact: c,
                    lease_expires_at: granted.until,
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
            store::leases::release(&txn, account_id, campaign_id, dialer_id, &named, self.now())
                .await?;
        // A callback given back undelivered is due again at once.
        store::callbacks::unhold(&txn, account_id, campaign_id, &ended).await?;
        txn.commit().await?;
        Ok(ended.len() as u64)
    }
}

pub(super) fn zones_name(zones: &Zones) -> String {
    match zones {
        Zones::One(tz) => tz.name().to_string(),
        Zones::All(all) => format!("all {} zones of its country", all.len()),
        Zones::Unknown => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first page is what the claim wants over the share recent steps could pick,
    /// plus 8, within its bounds.
    #[test]
    fn the_first_page_follows_what_recent_steps_could_pick() {
        assert_eq!(first_scan_page(100, FIRST_YIELD), 133);
        assert_eq!(first_scan_page(100, 1.0), 108);
        assert_eq!(first_scan_page(100, 0.5), 208);
        assert_eq!(first_scan_page(100, 0.0), SCAN_PAGE);
        assert_eq!(first_scan_page(1000, 0.1), 1258);
        assert_eq!(first_scan_page(1, 1.0), 9);
    }
}
