//! When a campaign may call: a window per day of the week (a day without one is closed),
//! dates excluded outright (holidays), and per-region overrides of both. All of it read
//! in the contact's local time and calendar (see [`super::timezone`] for the zone), all of
//! it given by the account with each request: no law is written in here.
//!
//! One [`CallingRules`] serves every check of the dialer (claims, the claim stream,
//! CheckDialable, PreviewDialable, Call Now, callbacks' next opening), so they cannot
//! disagree.

use super::place;
use super::timezone::{Window, Zones};
use chrono::{Datelike, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Most excluded dates in one set of hours.
pub const MAX_EXCLUDED_DATES: usize = 400;
/// Most region overrides in one set of rules.
pub const MAX_REGIONS: usize = 200;
/// How far ahead the next opening is looked for: every week has an open day, and each
/// excluded date closes at most one, so this covers the worst case.
const HORIZON_DAYS: u64 = 7 * (MAX_EXCLUDED_DATES as u64 + 2);
/// Rounds of the search for an instant open in every zone of a multi-zone country.
const ZONE_ROUNDS: usize = 64;

/// Why the hours are closed at an instant, in the order they are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Closed {
    /// The local date is excluded.
    ExcludedDate,
    /// The local day of the week has no window.
    ClosedDay,
    /// Outside the local day's window.
    OutsideHours,
}

/// One set of calling hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// The window of each day of the week, Monday first; `None` = closed that day.
    pub weekly: [Option<Window>; 7],
    /// Local calendar dates on which no call is placed.
    pub excluded: BTreeSet<NaiveDate>,
}

impl Default for Hours {
    /// 08:00–21:00 every day.
    fn default() -> Self {
        Hours::every_day(Window::default())
    }
}

/// The zones of a [`Zones`] as a slice (empty when unknown).
fn zone_list(zones: &Zones) -> &[Tz] {
    match zones {
        Zones::One(tz) => std::slice::from_ref(tz),
        Zones::All(all) => all,
        Zones::Unknown => &[],
    }
}

impl Hours {
    /// The same window every day, no excluded dates (the rules before days and dates).
    pub fn every_day(w: Window) -> Hours {
        Hours {
            weekly: [Some(w); 7],
            excluded: BTreeSet::new(),
        }
    }

    /// Whether the hours are open at `now_ms` in `tz`.
    pub fn check_in(&self, tz: Tz, now_ms: i64) -> Result<(), Closed> {
        let Some(utc) = Utc.timestamp_millis_opt(now_ms).single() else {
            return Err(Closed::OutsideHours);
        };
        let local = utc.with_timezone(&tz);
        let date = local.date_naive();
        if self.excluded.contains(&date) {
            return Err(Closed::ExcludedDate);
        }
        let Some(w) = self.weekly[date.weekday().num_days_from_monday() as usize] else {
            return Err(Closed::ClosedDay);
        };
        if w.holds(local.hour() * 60 + local.minute()) {
            Ok(())
        } else {
            Err(Closed::OutsideHours)
        }
    }

    /// Whether the hours are open at `now_ms` in every zone of `zones` (the first closed
    /// zone's reason otherwise). Unknown zones are never open (callers refuse them first).
    pub fn check(&self, zones: &Zones, now_ms: i64) -> Result<(), Closed> {
        let list = zone_list(zones);
        if list.is_empty() {
            return Err(Closed::OutsideHours);
        }
        list.iter().try_for_each(|tz| self.check_in(*tz, now_ms))
    }

    /// The first instant at or after `now_ms` at which the hours are open in every zone
    /// of `zones`; `None` for unknown zones, or when they do not open within the horizon
    /// (e.g. the zones of a country never share an open minute). Closed days, excluded
    /// dates and daylight-saving changes are taken into account: an opening that falls
    /// in a skipped hour is the first minute after it that is inside the window.
    pub fn next_open(&self, zones: &Zones, now_ms: i64) -> Option<i64> {
        let list = zone_list(zones);
        if list.is_empty() {
            return None;
        }
        let mut t = now_ms;
        for _ in 0..ZONE_ROUNDS {
            let mut latest = t;
            for tz in list {
                latest = latest.max(self.next_open_in(*tz, t)?);
            }
            if list.iter().all(|tz| self.check_in(*tz, latest).is_ok()) {
                return Some(latest);
            }
            t = latest;
        }
        None
    }

    /// [`Hours::next_open`] in one zone.
    fn next_open_in(&self, tz: Tz, now_ms: i64) -> Option<i64> {
        if self.check_in(tz, now_ms).is_ok() {
            return Some(now_ms);
        }
        let local = Utc
            .timestamp_millis_opt(now_ms)
            .single()?
            .with_timezone(&tz);
        let today = local.date_naive();
        let now_minute = local.hour() * 60 + local.minute();
        for ahead in 0..HORIZON_DAYS {
            let date = today.checked_add_days(chrono::Days::new(ahead))?;
            if self.excluded.contains(&date) {
                continue;
            }
            let Some(w) = self.weekly[date.weekday().num_days_from_monday() as usize] else {
                continue;
            };
            let from = if ahead == 0 {
                w.start_minute.max(now_minute)
            } else {
                w.start_minute
            };
            for minute in from..w.end_minute {
                let Some(naive) = date.and_hms_opt(minute / 60, minute % 60, 0) else {
                    continue;
                };
                let at = match tz.from_local_datetime(&naive) {
                    LocalResult::Single(t) => t.timestamp_millis(),
                    LocalResult::Ambiguous(early, late) => {
                        if early.timestamp_millis() >= now_ms {
                            early.timestamp_millis()
                        } else {
                            late.timestamp_millis()
                        }
                    }
                    // Skipped by a daylight-saving change: try the next minute.
                    LocalResult::None => continue,
                };
                if at >= now_ms && self.check_in(tz, at).is_ok() {
                    return Some(at);
                }
            }
        }
        None
    }

    /// `Mon–Fri 09:00–17:00, Sat 10:00–14:00; 2 excluded dates` (for messages).
    pub fn describe(&self) -> String {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < 7 {
            let Some(w) = self.weekly[i] else {
                i += 1;
                continue;
            };
            let mut j = i;
            while j + 1 < 7 && self.weekly[j + 1] == Some(w) {
                j += 1;
            }
            let days = if i == 0 && j == 6 {
                "every day".to_string()
            } else if i == j {
                DAYS[i].to_string()
            } else {
                format!("{}–{}", DAYS[i], DAYS[j])
            };
            parts.push(format!("{days} {}", w.describe()));
            i = j + 1;
        }
        let mut out = parts.join(", ");
        if !self.excluded.is_empty() {
            out.push_str(&format!("; {} excluded dates", self.excluded.len()));
        }
        out
    }
}

/// A region's own hours, replacing the campaign's for its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionHours {
    /// `DE` (a country) or `US-CA` (a US state or Canadian province), upper case.
    pub region: String,
    pub hours: Hours,
}

/// A campaign's calling hours: its own, and overrides by region (most specific wins:
/// a state's over its country's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallingRules {
    pub hours: Hours,
    pub regions: Vec<RegionHours>,
}

impl CallingRules {
    /// The hours that apply to a number, and the region whose override they are (`None`:
    /// the campaign's own). The number is placed only when some override exists.
    pub fn hours_for(&self, e164: &str) -> (&Hours, Option<&str>) {
        if self.regions.is_empty() {
            return (&self.hours, None);
        }
        let place = place::of_number(e164);
        let find = |code: &str| self.regions.iter().find(|r| r.region == code);
        place
            .subdivision
            .and_then(find)
            .or_else(|| place.country.as_deref().and_then(find))
            .map_or((&self.hours, None), |r| (&r.hours, Some(r.region.as_str())))
    }
}

/// The stored form of one set of hours: `[start, end)` minutes per day (Monday first,
/// `null` = closed) and the excluded dates as YYYY-MM-DD.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredHours {
    weekly: [Option<(u32, u32)>; 7],
    excluded: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredRules {
    hours: StoredHours,
    regions: Vec<(String, StoredHours)>,
}

impl StoredHours {
    fn of(h: &Hours) -> StoredHours {
        StoredHours {
            weekly: h.weekly.map(|w| w.map(|w| (w.start_minute, w.end_minute))),
            excluded: h.excluded.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn read(self) -> Option<Hours> {
        let mut weekly = [None; 7];
        for (day, w) in weekly.iter_mut().zip(self.weekly) {
            if let Some((start, end)) = w {
                *day = Some(Window::new(start as i32, end as i32).ok()?);
            }
        }
        let excluded = self
            .excluded
            .iter()
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect::<Option<BTreeSet<_>>>()?;
        Some(Hours { weekly, excluded })
    }
}

impl CallingRules {
    /// The text kept with a Call Now request (JSON), read back by [`Self::from_stored`].
    pub fn to_stored(&self) -> String {
        let stored = StoredRules {
            hours: StoredHours::of(&self.hours),
            regions: self
                .regions
                .iter()
                .map(|r| (r.region.clone(), StoredHours::of(&r.hours)))
                .collect(),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads what [`Self::to_stored`] wrote; `None` for anything else.
    pub fn from_stored(text: &str) -> Option<CallingRules> {
        let stored: StoredRules = serde_json::from_str(text).ok()?;
        Some(CallingRules {
            hours: stored.hours.read()?,
            regions: stored
                .regions
                .into_iter()
                .map(|(region, h)| {
                    Some(RegionHours {
                        region,
                        hours: h.read()?,
                    })
                })
                .collect::<Option<Vec<_>>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Monday to Friday 09:00–17:00.
    fn weekdays() -> Hours {
        let w = Window::new(9 * 60, 17 * 60).unwrap();
        Hours {
            weekly: [Some(w), Some(w), Some(w), Some(w), Some(w), None, None],
            excluded: BTreeSet::new(),
        }
    }

    const NY: Zones = Zones::One(chrono_tz::America::New_York);

    #[test]
    fn each_reason_is_told_apart() {
        let mut h = weekdays();
        h.excluded.insert(date("2026-12-25"));
        // 2026-12-05 is a Saturday; 14:00Z = 09:00 in New York.
        assert_eq!(
            h.check(&NY, at("2026-12-05T15:00:00Z")),
            Err(Closed::ClosedDay)
        );
        assert_eq!(h.check(&NY, at("2026-12-07T15:00:00Z")), Ok(()));
        assert_eq!(
            h.check(&NY, at("2026-12-07T13:59:00Z")),
            Err(Closed::OutsideHours)
        );
        assert_eq!(
            h.check(&NY, at("2026-12-25T15:00:00Z")),
            Err(Closed::ExcludedDate)
        );
        // The date is the contact's: 03:00Z on the 26th is still the 25th in New York.
        assert_eq!(
            h.check(&NY, at("2026-12-26T03:00:00Z")),
            Err(Closed::ExcludedDate)
        );
    }

    #[test]
    fn the_next_opening_skips_a_weekend_and_a_holiday() {
        let mut h = weekdays();
        // Friday evening → Monday 09:00 (EST, UTC-5).
        assert_eq!(
            h.next_open(&NY, at("2026-12-04T23:00:00Z")),
            Some(at("2026-12-07T14:00:00Z"))
        );
        // Monday is a holiday: Tuesday.
        h.excluded.insert(date("2026-12-07"));
        assert_eq!(
            h.next_open(&NY, at("2026-12-04T23:00:00Z")),
            Some(at("2026-12-08T14:00:00Z"))
        );
        // Before the day's window: that day's opening; inside it: now.
        assert_eq!(
            h.next_open(&NY, at("2026-12-09T12:30:10Z")),
            Some(at("2026-12-09T14:00:00Z"))
        );
        let inside = at("2026-12-09T15:30:10Z");
        assert_eq!(h.next_open(&NY, inside), Some(inside));
        assert_eq!(h.next_open(&Zones::Unknown, inside), None);
    }

    #[test]
    fn the_next_opening_follows_daylight_saving_time() {
        let h = weekdays();
        // Friday 2026-03-06 after hours (EST); DST starts Sunday 03-08: Monday 09:00 is
        // 13:00Z, not 14:00Z.
        assert_eq!(
            h.next_open(&NY, at("2026-03-06T23:00:00Z")),
            Some(at("2026-03-09T13:00:00Z"))
        );
        // An opening inside the skipped hour (02:30 on the day clocks jump from 02:00
        // to 03:00) is the first minute that exists: 03:00 EDT = 07:00Z.
        let w = Window::new(150, 600).unwrap();
        let early = Hours::every_day(w);
        assert_eq!(
            early.next_open(&NY, at("2026-03-08T05:00:00Z")),
            Some(at("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn several_zones_open_only_when_all_are() {
        let both = Zones::All(vec![
            chrono_tz::America::New_York,
            chrono_tz::America::Los_Angeles,
        ]);
        // Monday 09:00 in Los Angeles = 17:00Z = 12:00 in New York.
        assert_eq!(
            weekdays().next_open(&both, at("2026-12-04T23:00:00Z")),
            Some(at("2026-12-07T17:00:00Z"))
        );
        // 09:00–10:00 never holds in both at once.
        let narrow = Hours::every_day(Window::new(540, 600).unwrap());
        assert_eq!(narrow.next_open(&both, at("2026-12-04T23:00:00Z")), None);
    }

    #[test]
    fn a_state_override_wins_over_its_country_and_the_campaign() {
        let rules = CallingRules {
            hours: Hours::default(),
            regions: vec![
                RegionHours {
                    region: "US".into(),
                    hours: weekdays(),
                },
                RegionHours {
                    region: "US-CA".into(),
                    hours: Hours::every_day(Window::new(600, 1200).unwrap()),
                },
            ],
        };
        assert_eq!(rules.hours_for("+14155552671").1, Some("US-CA"));
        assert_eq!(rules.hours_for("+12125550100").1, Some("US"));
        assert_eq!(rules.hours_for("+4930901820").1, None);
        assert_eq!(rules.hours_for("+4930901820").0, &Hours::default());
    }

    #[test]
    fn the_stored_form_reads_back_what_it_wrote() {
        let mut h = weekdays();
        h.excluded.insert(date("2026-12-25"));
        let rules = CallingRules {
            hours: h,
            regions: vec![RegionHours {
                region: "US-CA".into(),
                hours: Hours::every_day(Window::new(600, 1200).unwrap()),
            }],
        };
        assert_eq!(
            CallingRules::from_stored(&rules.to_stored()),
            Some(rules.clone())
        );
        assert_eq!(CallingRules::from_stored("{}"), None);
        let bad = rules.to_stored().replace("[540,1020]", "[0,1440]");
        assert_eq!(CallingRules::from_stored(&bad), None, "{bad}");
    }

    #[test]
    fn hours_describe_themselves() {
        let mut h = weekdays();
        assert_eq!(h.describe(), "Mon–Fri 09:00–17:00");
        h.excluded.insert(date("2026-12-25"));
        assert_eq!(h.describe(), "Mon–Fri 09:00–17:00; 1 excluded dates");
        assert_eq!(Hours::default().describe(), "every day 08:00–21:00");
    }
}
