//! Where a contact is in time: the IANA zone(s) its calling window is checked in.
//!
//! The rule, in order (also in the README):
//!
//! 1. the contact's explicit `time_zone`, when set;
//! 2. for a `+1` number, its area code, when the code lies wholly in one zone (the
//!    [`NANP_AREA_CODES`] table: US and Canadian codes; codes that straddle a zone line,
//!    such as 850 or 208, are deliberately left out);
//! 3. the number's country, when the country has a single zone ([`COUNTRY_ZONES`]);
//! 4. otherwise every zone of the country: the window must hold in all of them;
//! 5. a country missing from the table is unknown, and the contact is not dialed.
//!
//! Resolution is table lookups, except for numbers whose calling code (other than `+1`)
//! is shared by several countries (e.g. `+44` with Jersey): those are parsed by
//! libphonenumber to find the country.

use chrono::{TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rlibphonenumber::{PHONE_NUMBER_UTIL, Region};

pub use super::zone_tables::{COUNTRY_ZONES, NANP_AREA_CODES};

/// The zone(s) a number's calling window is checked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zones {
    /// One known zone.
    One(Tz),
    /// The number's country has several zones and nothing narrows it: the window must
    /// hold in all of them.
    All(Vec<Tz>),
    /// No zone can be told: never dialable by window.
    Unknown,
}

impl Zones {
    /// The zone name to show a dialer (the single zone, or "" when several/unknown).
    pub fn name(&self) -> String {
        match self {
            Zones::One(tz) => tz.name().to_string(),
            Zones::All(_) | Zones::Unknown => String::new(),
        }
    }
}

const MINUTES_PER_DAY: i32 = 24 * 60;

/// A local-time window `[start, end)` in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_minute: u32,
    pub end_minute: u32,
}

impl Default for Window {
    /// 08:00–21:00.
    fn default() -> Self {
        Window {
            start_minute: 8 * 60,
            end_minute: 21 * 60,
        }
    }
}

impl Window {
    /// A window from request minutes; both 0 means the default. Start must be before end
    /// (windows do not span midnight) and both within a day, and the window must close
    /// for part of the day: the whole day (0..1440) is refused, since a calling window
    /// exists to keep calls out of people's night. (There is no "no window": the dialer
    /// always applies one, 08:00–21:00 when none is given.)
    pub fn new(start: i32, end: i32) -> Result<Window, String> {
        if start == 0 && end == 0 {
            return Ok(Window::default());
        }
        if !(0..=1440).contains(&start) || !(0..=1440).contains(&end) || start >= end {
            return Err(format!(
                "must satisfy 0 <= start_minute < end_minute <= 1440 (got {start}..{end})"
            ));
        }
        if end - start >= MINUTES_PER_DAY {
            return Err(format!(
                "covers the whole day ({start}..{end}): a calling window must close for part \
                 of the day (leave it unset for the default 08:00–21:00)"
            ));
        }
        Ok(Window {
            start_minute: start as u32,
            end_minute: end as u32,
        })
    }

    /// The widest window accepted that is open at `now_ms` in every zone of `zones`:
    /// 00:00–23:59, or 00:01–24:00 while one of them is in its last minute of the day
    /// (for tools that dial at any hour of the wall clock: benchmarks, tests).
    pub fn widest_open_at(zones: &[Tz], now_ms: i64) -> Window {
        let last_minute = zones.iter().any(|tz| {
            Utc.timestamp_millis_opt(now_ms).single().is_some_and(|t| {
                let local = t.with_timezone(tz);
                local.hour() * 60 + local.minute() == MINUTES_PER_DAY as u32 - 1
            })
        });
        if last_minute {
            Window {
                start_minute: 1,
                end_minute: MINUTES_PER_DAY as u32,
            }
        } else {
            Window {
                start_minute: 0,
                end_minute: MINUTES_PER_DAY as u32 - 1,
            }
        }
    }

    /// Whether `now_ms` is inside the window in `tz`.
    pub fn contains_in(&self, tz: Tz, now_ms: i64) -> bool {
        let Some(utc) = Utc.timestamp_millis_opt(now_ms).single() else {
            return false;
        };
        let local = utc.with_timezone(&tz);
        self.holds(local.hour() * 60 + local.minute())
    }

    /// Whether a minute of the day (0..1440) is inside the window.
    pub fn holds(&self, minute: u32) -> bool {
        self.start_minute <= minute && minute < self.end_minute
    }

    /// `08:00–21:00`.
    pub fn describe(&self) -> String {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        format!("{}–{}", hm(self.start_minute), hm(self.end_minute))
    }

    /// Whether `now_ms` is inside the window for `zones` (all of them for [`Zones::All`]).
    pub fn contains(&self, zones: &Zones, now_ms: i64) -> bool {
        match zones {
            Zones::One(tz) => self.contains_in(*tz, now_ms),
            Zones::All(all) => {
                !all.is_empty() && all.iter().all(|tz| self.contains_in(*tz, now_ms))
            }
            Zones::Unknown => false,
        }
    }
}

/// A Unix ms instant as `2026-12-06T23:00:00Z`.
pub fn utc_text(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// An IANA zone of a place (`America/New_York`, `Asia/Tokyo`, or `UTC`). Refused: the
/// abbreviations and fixed offsets the tz database also carries (`EST`, `MST`, `HST`,
/// `EST5EDT`, `CET`, `Etc/GMT+5`, …), which follow no place's daylight saving time and
/// so are wrong by an hour for half the year.
pub fn parse_iana(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name == "UTC" || name == "Etc/UTC" {
        return Some(Tz::UTC);
    }
    if !name.contains('/') || name.starts_with("Etc/") || name.starts_with("SystemV/") {
        return None;
    }
    name.parse::<Tz>().ok()
}

/// The IANA zone people usually mean by a common abbreviation, for error messages.
pub fn suggest(name: &str) -> Option<&'static str> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "EST" | "EDT" | "ET" | "EST5EDT" => "America/New_York",
        "CST" | "CDT" | "CT" | "CST6CDT" => "America/Chicago",
        "MST" | "MDT" | "MT" | "MST7MDT" => "America/Denver (or America/Phoenix, without DST)",
        "PST" | "PDT" | "PT" | "PST8PDT" => "America/Los_Angeles",
        "AKST" | "AKDT" => "America/Anchorage",
        "HST" => "Pacific/Honolulu",
        "GMT" | "BST" | "WET" => "Europe/London",
        "CET" | "CEST" | "MET" => "Europe/Berlin",
        "EET" | "EEST" => "Europe/Athens",
        "JST" => "Asia/Tokyo",
        "IST" => "Asia/Kolkata",
        "AEST" | "AEDT" => "Australia/Sydney",
        _ => return None,
    })
}

/// The zones for a contact with an explicit zone (may be "") and an E.164 number. An
/// explicit name that is not an IANA place zone (see [`parse_iana`]; stored before they
/// were refused) is ignored, and the number decides.
pub fn resolve(explicit: &str, e164: &str) -> Zones {
    if let Some(tz) = parse_iana(explicit) {
        return Zones::One(tz);
    }
    let Some(digits) = e164.strip_prefix('+') else {
        return Zones::Unknown;
    };
    if let Some(national) = digits.strip_prefix('1') {
        return resolve_nanp(national);
    }
    let country = single_region(digits).or_else(|| country_of(e164));
    country.map_or(Zones::Unknown, |c| country_zones(&c))
}

/// A `+1` number: the area code table; else a Caribbean/Pacific NANP country by its
/// area code; else all zones of Canada (for the Canadian codes that straddle zones) or of
/// the United States.
fn resolve_nanp(national: &str) -> Zones {
    let Some(area) = national.get(..3).and_then(|a| a.parse::<u16>().ok()) else {
        return Zones::Unknown;
    };
    if let Some(zone) = nanp_zone(area) {
        return Zones::One(zone);
    }
    if let Some(country) = nanp_other_country(national) {
        return country_zones(&country);
    }
    if CANADA_STRADDLING.contains(&area) {
        country_zones("CA")
    } else {
        country_zones("US")
    }
}

/// The ISO country of an E.164 number, by the same lookups as [`resolve`]: a `+1`
/// number is a Caribbean/Pacific NANP country by its area code, else Canada (for
/// Canadian area codes) or the United States; other numbers by their calling code
/// (libphonenumber when the code is shared).
pub fn country_of_number(e164: &str) -> Option<String> {
    let digits = e164.strip_prefix('+')?;
    if let Some(national) = digits.strip_prefix('1') {
        let area = national.get(..3).and_then(|a| a.parse::<u16>().ok())?;
        if let Some(country) = nanp_other_country(national) {
            return Some(country);
        }
        let canadian = CANADA_STRADDLING.contains(&area)
            || nanp_zone(area).is_some_and(|z| CANADIAN_ZONES.contains(&z.name()));
        return Some(if canadian { "CA" } else { "US" }.to_string());
    }
    single_region(digits).or_else(|| country_of(e164))
}

/// The zones of [`NANP_AREA_CODES`] that hold Canadian codes only.
pub(crate) const CANADIAN_ZONES: &[&str] = &[
    "America/Toronto",
    "America/Winnipeg",
    "America/Edmonton",
    "America/Vancouver",
    "America/Halifax",
];

/// Canadian area codes that span more than one zone.
const CANADA_STRADDLING: &[u16] = &[
    236, 250, 306, 367, 418, 474, 581, 639, 672, 709, 778, 807, 867, 879,
];

/// The NANP country (other than US and CA) whose leading digits begin this national
/// number (libphonenumber's region lookup tries leading digits before validity, so a
/// fictional number in a Caribbean area code still finds its country).
fn nanp_other_country(national: &str) -> Option<String> {
    let parsed = PHONE_NUMBER_UTIL
        .parse(format!("+1{national}"), None)
        .ok()?;
    PHONE_NUMBER_UTIL
        .get_region_for_number(&parsed)
        .filter(|r| !matches!(r, Region::US | Region::CA))
        .map(|r| r.as_region_str().as_str().to_string())
}

/// The one region of the number's calling code, when the code is not shared.
fn single_region(digits: &str) -> Option<String> {
    let util = &*PHONE_NUMBER_UTIL;
    (1..=3).find_map(|len| {
        let code: i32 = digits.get(..len)?.parse().ok()?;
        let mut regions = util.get_regions_for_country_calling_code(code)?;
        match (regions.next(), regions.next()) {
            (Some(only), None) if only != Region::World => {
                Some(only.as_region_str().as_str().to_string())
            }
            _ => None,
        }
    })
}

/// The number's country by libphonenumber (slower; for shared calling codes).
fn country_of(e164: &str) -> Option<String> {
    let parsed = PHONE_NUMBER_UTIL.parse(e164, None).ok()?;
    PHONE_NUMBER_UTIL
        .get_region_for_number(&parsed)
        .filter(|r| *r != Region::World)
        .map(|r| r.as_region_str().as_str().to_string())
}

/// The zones of a country from [`COUNTRY_ZONES`].
fn country_zones(country: &str) -> Zones {
    let Some((_, names)) = COUNTRY_ZONES.iter().find(|(c, _)| *c == country) else {
        return Zones::Unknown;
    };
    let zones: Vec<Tz> = names.iter().filter_map(|n| n.parse().ok()).collect();
    match zones.as_slice() {
        [] => Zones::Unknown,
        [one] => Zones::One(*one),
        _ => Zones::All(zones),
    }
}

/// The zone of a US/Canadian area code that lies wholly in one zone.
fn nanp_zone(area: u16) -> Option<Tz> {
    NANP_AREA_CODES
        .iter()
        .find(|(_, codes)| codes.contains(&area))
        .and_then(|(zone, _)| zone.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn every_table_zone_is_a_real_iana_zone() {
        for (zone, _) in NANP_AREA_CODES {
            assert!(zone.parse::<Tz>().is_ok(), "{zone}");
        }
        for (country, zones) in COUNTRY_ZONES {
            for zone in *zones {
                assert!(zone.parse::<Tz>().is_ok(), "{country}: {zone}");
            }
        }
    }

    #[test]
    fn no_area_code_is_listed_in_two_zones() {
        let mut seen = std::collections::HashSet::new();
        for (_, codes) in NANP_AREA_CODES {
            for code in *codes {
                assert!(seen.insert(*code), "area code {code} listed twice");
            }
        }
    }

    #[test]
    fn explicit_zone_wins_over_the_number() {
        assert_eq!(
            resolve("Europe/Paris", "+14155552671"),
            Zones::One(chrono_tz::Europe::Paris)
        );
    }

    #[test]
    fn area_codes_place_us_and_canadian_numbers() {
        assert_eq!(
            resolve("", "+14155552671"),
            Zones::One(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            resolve("", "+12125550100"),
            Zones::One(chrono_tz::America::New_York)
        );
        assert_eq!(
            resolve("", "+14165550100"),
            Zones::One(chrono_tz::America::Toronto)
        );
    }

    #[test]
    fn a_straddling_us_area_code_means_every_us_zone() {
        match resolve("", "+18505550100") {
            Zones::All(zones) => assert!(zones.contains(&chrono_tz::Pacific::Honolulu)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn single_zone_countries_and_caribbean_nanp() {
        assert_eq!(
            resolve("", "+442079460018"),
            Zones::One(chrono_tz::Europe::London)
        );
        assert_eq!(
            resolve("", "+18765550100"),
            Zones::One(chrono_tz::America::Jamaica)
        );
    }

    #[test]
    fn unknown_countries_are_unknown() {
        assert_eq!(resolve("", "+97699112233"), Zones::Unknown);
        assert_eq!(resolve("", "garbage"), Zones::Unknown);
    }

    #[test]
    fn window_checks_local_time() {
        let w = Window::default();
        // 15:00Z = 07:00 in Los Angeles (PST), 10:00 in New York.
        let now = at("2026-03-02T15:00:00Z");
        assert!(!w.contains(&Zones::One(chrono_tz::America::Los_Angeles), now));
        assert!(w.contains(&Zones::One(chrono_tz::America::New_York), now));
        assert!(!w.contains(&Zones::Unknown, now));
        let us = resolve("", "+18505550100");
        assert!(!w.contains(&us, now), "Honolulu is at 05:00");
        assert!(w.contains(&us, at("2026-03-02T20:00:00Z")));
    }

    #[test]
    fn window_bounds_are_checked() {
        assert_eq!(Window::new(0, 0).unwrap(), Window::default());
        assert!(Window::new(600, 540).is_err());
        assert!(Window::new(-1, 540).is_err());
        assert!(Window::new(0, 1441).is_err());
        assert!(Window::new(0, 1440).unwrap_err().contains("whole day"));
        assert!(Window::new(0, 1439).is_ok() && Window::new(1, 1440).is_ok());
    }

    #[test]
    fn the_widest_window_is_open_at_every_minute_of_the_day() {
        let zones: Vec<Tz> = ["America/New_York", "Asia/Kolkata"]
            .iter()
            .map(|z| z.parse().unwrap())
            .collect();
        let start = at("2026-03-02T00:00:00Z");
        for minute in 0..2 * 24 * 60 {
            let now = start + minute * 60_000 + 59_999;
            let w = Window::widest_open_at(&zones, now);
            assert!(Window::new(w.start_minute as i32, w.end_minute as i32).is_ok());
            assert!(w.contains(&Zones::All(zones.clone()), now), "{now}");
        }
    }
}
