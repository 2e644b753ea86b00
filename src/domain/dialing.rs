//! The dialer's rules: who may be called now, and why not. Pure functions over stored
//! facts, shared by ClaimDialableContacts, CheckDialable and PreviewDialable so the three
//! can never disagree.
//!
//! Two kinds of facts: per campaign member (attempts and retry spacing in that campaign)
//! and per person ([`PersonState`]: the one live lease, whoever holds it and for whichever
//! campaign, and the start times of the person's recent dials across every campaign and
//! Call Now, which the account-wide [`Frequency`] rules look at).

use super::calling_hours::{CallingRules, Closed};
use super::consent::ConsentRequirement;
use super::timezone::Zones;
use std::sync::Arc;

/// A campaign's dialing rules, given with each request by the campaign service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRules {
    /// Attempts allowed per contact in the campaign.
    pub max_attempts: i32,
    /// Minimum time between two attempts, ms.
    pub retry_interval_ms: i64,
    /// When calls may be placed, in the contact's local time: windows by day of the
    /// week, excluded dates, and overrides by region.
    pub calling: Arc<CallingRules>,
    /// The campaign's overrides of the account's frequency rules.
    pub frequency: FrequencyOverride,
    /// The kinds of consent accepted; empty: none required. When required, a contact
    /// needs a live consent record (not revoked, not expired) of an accepted kind.
    pub require_consent: ConsentRequirement,
}

/// How often one person may be called, across all campaigns of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency {
    /// Dials per rolling 24 hours.
    pub per_day: i32,
    /// Dials per rolling 7 days.
    pub per_week: i32,
    /// Least time between two dials, ms.
    pub min_spacing_ms: i64,
}

impl Default for Frequency {
    /// 3 a day, 7 a week (the "7 in 7" of US Regulation F), one hour apart.
    fn default() -> Self {
        Frequency {
            per_day: 3,
            per_week: 7,
            min_spacing_ms: 3_600_000,
        }
    }
}

/// A campaign's overrides of its account's [`Frequency`]; `None` keeps the account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrequencyOverride {
    pub per_day: Option<i32>,
    pub per_week: Option<i32>,
    pub min_spacing_ms: Option<i64>,
}

/// The most dials a frequency limit may allow (and so how many start times are kept).
pub const MAX_DIALS: i32 = 50;
/// A day, ms.
pub const DAY_MS: i64 = 86_400_000;
/// A week, ms: how far back dials are kept.
pub const WEEK_MS: i64 = 7 * DAY_MS;

impl Frequency {
    /// The account's rules with a campaign's overrides applied.
    pub fn with(self, o: FrequencyOverride) -> Frequency {
        Frequency {
            per_day: o.per_day.unwrap_or(self.per_day),
            per_week: o.per_week.unwrap_or(self.per_week),
            min_spacing_ms: o.min_spacing_ms.unwrap_or(self.min_spacing_ms),
        }
    }

    /// Whether one more dial is allowed now, given the person's recent dials (newest
    /// first). The n-th newest dial decides a limit of n: it must lie outside the window.
    pub fn check(&self, recent: &[i64], now: i64) -> Result<(), Refusal> {
        let nth = |n: i32| {
            recent
                .get(n.max(1) as usize - 1)
                .copied()
                .unwrap_or(i64::MIN)
        };
        if nth(1) > now - self.min_spacing_ms {
            return Err(Refusal::CallSpacing);
        }
        if nth(self.per_day) > now - DAY_MS {
            return Err(Refusal::DailyLimit);
        }
        if nth(self.per_week) > now - WEEK_MS {
            return Err(Refusal::WeeklyLimit);
        }
        Ok(())
    }
}

impl Frequency {
    /// The first instant at or after `now` at which [`Frequency::check`] allows one more
    /// dial, given the same recent dials (they only age).
    pub fn next_allowed(&self, recent: &[i64], now: i64) -> i64 {
        let after = |n: i32, span: i64| {
            recent
                .get(n.max(1) as usize - 1)
                .map_or(i64::MIN, |&t| t.saturating_add(span))
        };
        now.max(after(1, self.min_spacing_ms))
            .max(after(self.per_day, DAY_MS))
            .max(after(self.per_week, WEEK_MS))
    }
}

/// The per-person state: the live lease (if any) and recent dials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonState {
    pub lease_owner: Option<String>,
    pub lease_campaign: Option<String>,
    pub lease_started_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    /// Dial start times, newest first.
    pub recent: Vec<i64>,
}

impl PersonState {
    /// Whether someone other than `dialer` ("" = anyone) holds a live lease.
    pub fn leased_to_other(&self, dialer: &str, now: i64) -> bool {
        let live = self.lease_expires_at.is_some_and(|until| until > now);
        let own = !dialer.is_empty() && self.lease_owner.as_deref() == Some(dialer);
        live && !own
    }

    /// Ends the lease at `now` (a give-back, or the holder's call): no holder, and the
    /// lease's end kept as the earlier of its expiry and `now`, so that a claim whose
    /// instant is before the end — one that read its clock, then waited for a connection
    /// while the lease was given back — still finds the person leased, and no lease is
    /// ever dated before the end of the one before it.
    pub fn end_lease(&mut self, now: i64) {
        self.lease_owner = None;
        self.lease_campaign = None;
        self.lease_started_at = None;
        self.lease_expires_at = self.lease_expires_at.map(|until| until.min(now));
    }

    /// Whether a call by `dialer` that started at `started_at` belongs to the lease: the
    /// lease's holder placed it after the lease began. Only such a call ends the lease.
    pub fn owns_call(&self, dialer: &str, started_at: i64) -> bool {
        !dialer.is_empty()
            && self.lease_owner.as_deref() == Some(dialer)
            && self.lease_started_at.is_some_and(|from| started_at >= from)
    }
}

/// One lease of one person, as a dialer names it when giving it back: the contact and
/// the lease's start. A person leased again (after the first lease ran out) gets a new
/// id, so a late give-back of the old lease can never end the new one. On the wire it is
/// the opaque text `<contact_id>:<start ms>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseId {
    pub contact_id: i64,
    pub started_at: i64,
}

impl std::fmt::Display for LeaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.contact_id, self.started_at)
    }
}

impl std::str::FromStr for LeaseId {
    type Err = ();

    /// Parses what [`LeaseId`]'s `Display` wrote (positive contact id, start ≥ 0).
    fn from_str(s: &str) -> Result<LeaseId, ()> {
        let (c, t) = s.split_once(':').ok_or(())?;
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(c) || !digits(t) {
            return Err(());
        }
        let contact_id: i64 = c.parse().map_err(|_| ())?;
        let started_at: i64 = t.parse().map_err(|_| ())?;
        if contact_id <= 0 {
            return Err(());
        }
        Ok(LeaseId {
            contact_id,
            started_at,
        })
    }
}

/// Which of a dialer's leases to give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseTarget {
    /// Whatever lease the dialer holds on the contact now (which, if the person was
    /// handed to the same dialer again, is the newer lease).
    Contact(i64),
    /// Exactly this lease, if the dialer still holds it.
    Lease(LeaseId),
}

impl ReleaseTarget {
    pub fn contact_id(&self) -> i64 {
        match self {
            ReleaseTarget::Contact(id) => *id,
            ReleaseTarget::Lease(l) => l.contact_id,
        }
    }

    /// Whether the lease that started at `started_at` is the one meant.
    pub fn names(&self, started_at: Option<i64>) -> bool {
        match self {
            ReleaseTarget::Contact(_) => true,
            ReleaseTarget::Lease(l) => started_at == Some(l.started_at),
        }
    }
}

/// Recent dials as stored: Unix ms, newest first, comma-separated.
pub fn parse_dials(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

/// The stored form of recent dials.
pub fn format_dials(dials: &[i64]) -> String {
    let mut out = String::with_capacity(dials.len() * 14);
    for (i, d) in dials.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&d.to_string());
    }
    out
}

/// Adds a dial at `at`, keeping newest first, dropping dials older than a week before
/// `now` and keeping at most [`MAX_DIALS`].
pub fn push_dial(dials: &mut Vec<i64>, at: i64, now: i64) {
    let pos = dials.iter().position(|&d| d <= at).unwrap_or(dials.len());
    dials.insert(pos, at);
    dials.retain(|&d| d > now - WEEK_MS);
    dials.truncate(MAX_DIALS as usize);
}

/// Removes one dial at exactly `at` (a lease given back unused).
pub fn remove_dial(dials: &mut Vec<i64>, at: i64) {
    if let Some(pos) = dials.iter().position(|&d| d == at) {
        dials.remove(pos);
    }
}

impl Default for DialRules {
    /// 3 attempts, one hour apart, 08:00–21:00 local every day.
    fn default() -> Self {
        DialRules {
            max_attempts: 3,
            retry_interval_ms: 3_600_000,
            calling: Arc::default(),
            frequency: FrequencyOverride::default(),
            require_consent: ConsentRequirement::NotRequired,
        }
    }
}

/// Why a contact may not be dialed now, in the order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// On the DNC list (or the contact's status says so).
    Dnc,
    /// The contact is not ACTIVE.
    NotActive,
    /// The campaign requires consent and the contact has no live record of a kind it
    /// accepts.
    NoConsent,
    /// Not a member of the campaign.
    NotInCampaign,
    /// Max attempts reached.
    AttemptsExhausted,
    /// Too soon after the last attempt.
    RetrySpacing,
    /// Another dialer holds a live lease on the person (in any campaign, or Call Now).
    Leased,
    /// The person was dialed less than the minimum spacing ago (any campaign).
    CallSpacing,
    /// The person's dials in the last 24 hours reached the daily limit.
    DailyLimit,
    /// The person's dials in the last 7 days reached the weekly limit.
    WeeklyLimit,
    /// Outside the calling window of the contact's local day.
    OutsideWindow,
    /// No such contact, or the number cannot be placed in a time zone.
    Unknown,
    /// The person asked to be called back later in this campaign.
    CallbackScheduled,
    /// The contact's local day of the week has no calling window.
    ClosedDay,
    /// The contact's local date is excluded (a holiday).
    ExcludedDate,
}

impl From<Closed> for Refusal {
    fn from(c: Closed) -> Refusal {
        match c {
            Closed::ExcludedDate => Refusal::ExcludedDate,
            Closed::ClosedDay => Refusal::ClosedDay,
            Closed::OutsideHours => Refusal::OutsideWindow,
        }
    }
}

impl Refusal {
    /// Whether the calling hours refused (the reasons that have a next opening).
    pub fn is_hours(self) -> bool {
        matches!(
            self,
            Refusal::OutsideWindow | Refusal::ClosedDay | Refusal::ExcludedDate
        )
    }
}

/// The per-campaign state of a member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberState {
    pub attempts: i32,
    pub last_attempt_at: Option<i64>,
}

impl DialRules {
    /// Attempts and retry spacing in the campaign.
    pub fn check_member(&self, m: &MemberState, now: i64) -> Result<(), Refusal> {
        if m.attempts >= self.max_attempts {
            return Err(Refusal::AttemptsExhausted);
        }
        if m.last_attempt_at
            .is_some_and(|last| last > now - self.retry_interval_ms)
        {
            return Err(Refusal::RetrySpacing);
        }
        Ok(())
    }

    /// The person's lease and the account-wide frequency rules; `dialer` is the asking
    /// dialer, whose own lease does not count against it ("" = anyone's lease counts).
    pub fn check_person(
        &self,
        p: &PersonState,
        account: Frequency,
        dialer: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        if p.leased_to_other(dialer, now) {
            return Err(Refusal::Leased);
        }
        if p.lease_owner.as_deref() == Some(dialer) && !dialer.is_empty() {
            // Its own live lease: the dial it stands for is already counted.
            if p.lease_expires_at.is_some_and(|until| until > now) {
                return Ok(());
            }
        }
        account.with(self.frequency).check(&p.recent, now)
    }

    /// The calling hours that apply to the number `e164` (its region's, or the
    /// campaign's), in `zones`: unknown zones are refused as such.
    pub fn check_window(&self, zones: &Zones, e164: &str, now: i64) -> Result<(), Refusal> {
        if *zones == Zones::Unknown {
            return Err(Refusal::Unknown);
        }
        let (hours, _) = self.calling.hours_for(e164);
        hours.check(zones, now).map_err(Refusal::from)
    }

    /// When the calling hours that apply to `e164` next open in `zones` (now, if open);
    /// `None` when the zones are unknown or the hours do not open within the horizon.
    pub fn next_open(&self, zones: &Zones, e164: &str, now: i64) -> Option<i64> {
        self.calling.hours_for(e164).0.next_open(zones, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_read_back_what_they_wrote_and_nothing_else() {
        let id = LeaseId {
            contact_id: 42,
            started_at: 1_796_583_110_704,
        };
        assert_eq!(id.to_string().parse::<LeaseId>(), Ok(id));
        for bad in [
            "", "42", "42:", ":1", "0:1", "-1:5", "42:-5", "4 2:1", "42:1:2", "x:1",
        ] {
            assert_eq!(bad.parse::<LeaseId>(), Err(()), "{bad:?}");
        }
        let target = ReleaseTarget::Lease(id);
        assert!(target.names(Some(id.started_at)));
        assert!(!target.names(Some(id.started_at + 1)));
        assert!(!target.names(None));
        assert!(ReleaseTarget::Contact(42).names(Some(7)));
    }

    #[test]
    fn own_lease_does_not_count_but_others_do() {
        let rules = DialRules::default();
        let p = PersonState {
            lease_owner: Some("d1".into()),
            lease_started_at: Some(0),
            lease_expires_at: Some(2_000),
            ..Default::default()
        };
        let any = Frequency {
            min_spacing_ms: 0,
            ..Frequency::default()
        };
        assert_eq!(rules.check_person(&p, any, "d1", 1_000), Ok(()));
        assert_eq!(
            rules.check_person(&p, any, "d2", 1_000),
            Err(Refusal::Leased)
        );
        assert_eq!(rules.check_person(&p, any, "d2", 2_000), Ok(()), "expired");
    }

    #[test]
    fn the_nth_newest_dial_decides_a_limit_of_n_and_when_the_next_is_allowed() {
        let hour = 3_600_000;
        let f = Frequency {
            per_day: 2,
            per_week: 3,
            min_spacing_ms: hour,
        };
        let now = 100 * DAY_MS;
        assert_eq!(f.check(&[], now), Ok(()));
        assert_eq!(f.check(&[now - hour + 1], now), Err(Refusal::CallSpacing));
        assert_eq!(f.check(&[now - hour], now), Ok(()));
        assert_eq!(
            f.check(&[now - 2 * hour, now - 3 * hour], now),
            Err(Refusal::DailyLimit)
        );
        assert_eq!(f.check(&[now - 2 * hour, now - DAY_MS], now), Ok(()));
        assert_eq!(
            f.check(&[now - DAY_MS, now - 2 * DAY_MS, now - 6 * DAY_MS], now),
            Err(Refusal::WeeklyLimit)
        );
        assert_eq!(
            f.check(&[now - DAY_MS, now - 2 * DAY_MS, now - WEEK_MS], now),
            Ok(())
        );
        // The next dial is allowed when the blocking one ages out, not a moment before.
        assert_eq!(f.next_allowed(&[], now), now);
        let recent = [now - 10, now - 2 * hour];
        let next = f.next_allowed(&recent, now);
        assert_eq!(next, now - 2 * hour + DAY_MS);
        assert_eq!(f.check(&recent, next), Ok(()));
        assert!(f.check(&recent, next - 1).is_err());
    }

    #[test]
    fn dials_stay_newest_first_pruned_and_capped() {
        let now = 10 * WEEK_MS;
        let mut d = vec![];
        push_dial(&mut d, now - 10, now);
        push_dial(&mut d, now - 5, now);
        push_dial(&mut d, now - 20, now);
        push_dial(&mut d, now - WEEK_MS, now);
        assert_eq!(d, [now - 5, now - 10, now - 20]);
        assert_eq!(parse_dials(&format_dials(&d)), d);
        remove_dial(&mut d, now - 10);
        assert_eq!(d, [now - 5, now - 20]);
        for i in 0..100 {
            push_dial(&mut d, now - 100 + i, now);
        }
        assert_eq!(d.len(), MAX_DIALS as usize);
        assert_eq!(d[0], now - 1);
    }

    #[test]
    fn only_the_holders_later_call_belongs_to_a_lease() {
        let p = PersonState {
            lease_owner: Some("d2".into()),
            lease_started_at: Some(1_000),
            lease_expires_at: Some(601_000),
            ..Default::default()
        };
        assert!(p.owns_call("d2", 1_000));
        assert!(!p.owns_call("d2", 999), "started before the lease");
        assert!(!p.owns_call("d1", 5_000), "another dialer's call");
        assert!(!p.owns_call("", 5_000));
    }

    #[test]
    fn attempts_then_spacing() {
        let rules = DialRules::default();
        let mut m = MemberState {
            attempts: 3,
            last_attempt_at: Some(0),
        };
        assert_eq!(rules.check_member(&m, 1), Err(Refusal::AttemptsExhausted));
        m.attempts = 1;
        assert_eq!(
            rules.check_member(&m, 3_599_999),
            Err(Refusal::RetrySpacing)
        );
        assert_eq!(rules.check_member(&m, 3_600_000), Ok(()));
    }
}
