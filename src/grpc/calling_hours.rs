//! DialRules' calling hours (`window`, `weekly`, `excluded_dates`, `regions`) read into
//! [`CallingRules`], each bad value refused with INVALID_ARGUMENT naming its field
//! (`rules.weekly[2].start_minute`).

use crate::domain::calling_hours::{
    CallingRules, Hours, MAX_EXCLUDED_DATES, MAX_REGIONS, RegionHours,
};
use crate::domain::place;
use crate::domain::timezone::Window;
use crate::error::{Error, Result};
use crate::pb;
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// The calling hours of `r` (a DialRules at `field`).
pub fn calling_rules(field: &str, r: &pb::DialRules) -> Result<CallingRules> {
    let own = hours(field, r.window.as_ref(), &r.weekly, &r.excluded_dates)?;
    if r.regions.len() > MAX_REGIONS {
        return Err(Error::invalid(
            format!("{field}.regions"),
            format!("at most {MAX_REGIONS} regions; got {}", r.regions.len()),
        ));
    }
    let mut regions: Vec<RegionHours> = Vec::with_capacity(r.regions.len());
    for (i, o) in r.regions.iter().enumerate() {
        let at = format!("{field}.regions[{i}]");
        let region = place::parse_region(&o.region)
            .map_err(|reason| Error::invalid(format!("{at}.region"), reason))?;
        if regions.iter().any(|seen| seen.region == region) {
            return Err(Error::invalid(
                format!("{at}.region"),
                format!("{region} is listed twice (one override per region)"),
            ));
        }
        let hours = hours(&at, o.window.as_ref(), &o.weekly, &o.excluded_dates)?;
        regions.push(RegionHours { region, hours });
    }
    Ok(CallingRules {
        hours: own,
        regions,
    })
}

/// One set of hours: `window` every day, or `weekly`; and the excluded dates.
fn hours(
    field: &str,
    window: Option<&pb::CallingWindow>,
    weekly: &[pb::DayWindow],
    excluded_dates: &[String],
) -> Result<Hours> {
    let every_day = match window {
        Some(w) => Window::new(w.start_minute, w.end_minute)
            .map_err(|reason| Error::invalid(format!("{field}.window"), reason))?,
        None => Window::default(),
    };
    let mut out = Hours::every_day(every_day);
    if !weekly.is_empty() {
        if window.is_some() {
            return Err(Error::invalid(
                format!("{field}.window"),
                "set either window (every day) or weekly (by day of the week), not both",
            ));
        }
        out.weekly = [None; 7];
        for (i, d) in weekly.iter().enumerate() {
            let at = format!("{field}.weekly[{i}]");
            let day = match pb::DayOfWeek::try_from(d.day) {
                Ok(pb::DayOfWeek::Unspecified) | Err(_) => {
                    return Err(Error::invalid(
                        format!("{at}.day"),
                        format!(
                            "is required: a day of the week (1 = Monday .. 7 = Sunday); got {}",
                            d.day
                        ),
                    ));
                }
                Ok(day) => day as usize - 1,
            };
            if out.weekly[day].is_some() {
                return Err(Error::invalid(
                    format!("{at}.day"),
                    "is listed twice (one window per day)",
                ));
            }
            out.weekly[day] = Some(day_window(&at, d)?);
        }
    }
    if excluded_dates.len() > MAX_EXCLUDED_DATES {
        return Err(Error::invalid(
            format!("{field}.excluded_dates"),
            format!(
                "at most {MAX_EXCLUDED_DATES} dates; got {}",
                excluded_dates.len()
            ),
        ));
    }
    out.excluded = excluded_dates
        .iter()
        .enumerate()
        .map(|(i, text)| date(&format!("{field}.excluded_dates[{i}]"), text))
        .collect::<Result<BTreeSet<_>>>()?;
    Ok(out)
}

/// A day's window; its bounds are named by the field that is wrong.
fn day_window(at: &str, d: &pb::DayWindow) -> Result<Window> {
    Window::new(d.start_minute, d.end_minute).map_err(|reason| {
        let part = if !(0..1440).contains(&d.start_minute) {
            "start_minute"
        } else {
            "end_minute"
        };
        Error::invalid(format!("{at}.{part}"), reason)
    })
}

/// A calendar date written YYYY-MM-DD.
fn date(field: &str, text: &str) -> Result<NaiveDate> {
    let refused = || {
        Error::invalid(
            field,
            format!("{text:?} is not a calendar date written YYYY-MM-DD"),
        )
    };
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(refused());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid(v) => v[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn day(day: pb::DayOfWeek, start: i32, end: i32) -> pb::DayWindow {
        pb::DayWindow {
            day: day as i32,
            start_minute: start,
            end_minute: end,
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad = |r: pb::DialRules| field_of(calling_rules("rules", &r).unwrap_err());
        let weekly = vec![
            day(pb::DayOfWeek::Monday, 540, 1020),
            day(pb::DayOfWeek::Tuesday, 540, 1020),
            day(pb::DayOfWeek::Wednesday, -5, 1020),
        ];
        assert_eq!(
            bad(pb::DialRules {
                weekly,
                ..Default::default()
            }),
            "rules.weekly[2].start_minute"
        );
        assert_eq!(
            bad(pb::DialRules {
                weekly: vec![day(pb::DayOfWeek::Monday, 540, 500)],
                ..Default::default()
            }),
            "rules.weekly[0].end_minute"
        );
        assert_eq!(
            bad(pb::DialRules {
                weekly: vec![day(pb::DayOfWeek::Monday, 0, 1440)],
                ..Default::default()
            }),
            "rules.weekly[0].end_minute"
        );
        assert_eq!(
            bad(pb::DialRules {
                weekly: vec![
                    day(pb::DayOfWeek::Monday, 540, 600),
                    day(pb::DayOfWeek::Monday, 700, 800)
                ],
                ..Default::default()
            }),
            "rules.weekly[1].day"
        );
        assert_eq!(
            bad(pb::DialRules {
                weekly: vec![day(pb::DayOfWeek::Unspecified, 540, 600)],
                ..Default::default()
            }),
            "rules.weekly[0].day"
        );
        for text in ["2026-02-30", "2026-1-05", "05.01.2026", "", "2026-01-05 "] {
            assert_eq!(
                bad(pb::DialRules {
                    excluded_dates: vec!["2026-12-25".into(), text.into()],
                    ..Default::default()
                }),
                "rules.excluded_dates[1]",
                "{text:?}"
            );
        }
        let region = |code: &str| pb::RegionCallingRules {
            region: code.into(),
            ..Default::default()
        };
        assert_eq!(
            bad(pb::DialRules {
                regions: vec![region("US-CA"), region("XX")],
                ..Default::default()
            }),
            "rules.regions[1].region"
        );
        assert_eq!(
            bad(pb::DialRules {
                regions: vec![region("us-ca"), region("US-CA")],
                ..Default::default()
            }),
            "rules.regions[1].region"
        );
        assert_eq!(
            bad(pb::DialRules {
                regions: vec![pb::RegionCallingRules {
                    region: "DE".into(),
                    excluded_dates: vec!["tomorrow".into()],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            "rules.regions[0].excluded_dates[0]"
        );
    }

    #[test]
    fn without_days_the_window_holds_every_day() {
        let r = calling_rules("rules", &pb::DialRules::default()).unwrap();
        assert_eq!(r, CallingRules::default());
        let r = calling_rules(
            "rules",
            &pb::DialRules {
                weekly: vec![day(pb::DayOfWeek::Sunday, 0, 0)],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.hours.weekly[6], Some(Window::default()));
        assert!(r.hours.weekly[..6].iter().all(Option::is_none));
    }
}
