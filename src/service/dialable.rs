//! CheckDialable and PreviewDialable: whether a contact or number may be dialed right
//! now and why not, and a campaign's members counted by that verdict. They read the
//! same rules the claims of [`super::dialer`] apply, without leasing anything.

use super::Services;
use super::dialer::{account_frequency, zones_name};
use crate::domain::callback::Callback;
use crate::domain::consent::ConsentRequirement;
use crate::domain::dialing::{DialRules, Frequency, MemberState, PersonState, Refusal};
use crate::domain::filter::ContactStatus;
use crate::domain::timezone::{self, Zones};
use crate::domain::{Contact, Phone, Region, Validation};
use crate::error::{Error, Result};
use crate::store;

/// Members read per step of a preview.
const PREVIEW_PAGE: u64 = 2_000;

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
