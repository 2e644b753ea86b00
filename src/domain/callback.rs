//! Scheduled callbacks: the person asked, during a call of a campaign, to be called back
//! at a time. The callback's status and why it was cancelled are stored by the explicit
//! values below; the time is either an instant or a local date-time read in a zone.
//!
//! A callback is honoured at its time, ahead of the campaign's other members, through
//! the same lease re-check as any claim (DNC, status, one lease per person, the
//! frequency rules); only the campaign's attempt limit and retry spacing are waived. A
//! time outside the calling hours moves to their next opening.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use sea_orm::entity::prelude::*;

/// Where a callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CallbackStatus {
    /// Waiting for its time, or handed to a dialer whose call is not recorded yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The call of its delivery was recorded.
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Will not be delivered (see [`CancelReason`]).
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// Why a callback was cancelled ("" while it was not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CancelReason {
    /// Not cancelled.
    #[sea_orm(string_value = "")]
    None,
    /// The number was put on the DNC list (any path, a named list included) or the
    /// contact is no longer ACTIVE.
    #[sea_orm(string_value = "dnc")]
    Dnc,
    /// Another call of the contact was recorded before the callback was delivered
    /// (its outcome supersedes the request).
    #[sea_orm(string_value = "call_recorded")]
    CallRecorded,
    /// The contact was removed from the campaign.
    #[sea_orm(string_value = "removed_from_campaign")]
    RemovedFromCampaign,
}

/// A stored callback, as the services and the API see it (its row is
/// `store::callbacks`' business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub account_id: String,
    pub campaign_id: String,
    pub contact_id: i64,
    /// The time asked for, Unix ms.
    pub requested_at: i64,
    /// The zone a local time was read in ("" for an instant).
    pub time_zone: String,
    /// The local time as given ("" for an instant).
    pub local_time: String,
    /// When a claim may next hand the person out, Unix ms.
    pub due_at: i64,
    pub status: CallbackStatus,
    pub cancel_reason: CancelReason,
    /// The call that asked for it.
    pub call_id: Option<i64>,
    /// The call that delivered or superseded it.
    pub settled_call_id: Option<i64>,
    pub created_at: i64,
    pub settled_at: Option<i64>,
    /// The end of the lease it is out on, Unix ms (0: none).
    pub held_until: i64,
}

/// A callback to schedule: pending, due at the time asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub account_id: String,
    pub campaign_id: String,
    pub contact_id: i64,
    /// The time asked for (and first due), Unix ms.
    pub at: i64,
    /// The zone a local time was read in ("" for an instant).
    pub time_zone: String,
    /// The local time as given ("" for an instant).
    pub local_time: String,
    /// The call that asked for it.
    pub call_id: i64,
    pub created_at: i64,
}

/// How far ahead a callback may be asked for, ms (a year and a day).
pub const MAX_AHEAD_MS: i64 = 366 * 86_400_000;

/// The time of a callback as the call service gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackTime {
    /// An instant, Unix ms.
    At(i64),
    /// A wall-clock time (`2026-12-07T15:00`) read in `zone`, or in the contact's zone
    /// when `None`.
    Local {
        text: String,
        at: NaiveDateTime,
        zone: Option<Tz>,
    },
}

/// Parses a local date-time: `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space may
/// stand for the `T`); no offset (the zone says where).
pub fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .ok_or_else(|| {
        format!(
            "{t:?} is not a local date-time like 2026-12-07T15:00 (no offset: the time \
                 zone says where)"
        )
    })
}

/// The instant a wall-clock time stands for in `tz`. A time that occurs twice (the hour
/// clocks go back) is the first; one that does not occur (the hour they go forward) is
/// read as the same wall time an hour later.
pub fn local_instant(at: NaiveDateTime, tz: Tz) -> Option<i64> {
    tz.from_local_datetime(&at)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
}

/// A callback time must lie after `now` and at most [`MAX_AHEAD_MS`] ahead.
pub fn check_ahead(at: i64, now: i64) -> Result<(), String> {
    if at <= now {
        return Err(format!(
            "is in the past ({}; now is {}): a callback is for later",
            super::timezone::utc_text(at),
            super::timezone::utc_text(now)
        ));
    }
    if at > now + MAX_AHEAD_MS {
        return Err(format!(
            "is more than a year ahead ({}); ask again closer to the time",
            super::timezone::utc_text(at)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn stored_values_are_explicit() {
        let s: Vec<String> = CallbackStatus::iter().map(|v| v.to_value()).collect();
        assert_eq!(s.join(","), "pending,delivered,cancelled");
        let r: Vec<String> = CancelReason::iter().map(|v| v.to_value()).collect();
        assert_eq!(r.join(","), ",dnc,call_recorded,removed_from_campaign");
    }

    #[test]
    fn local_times_are_read_in_their_zone_and_dst_gaps_move_forward() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let at = parse_local("2026-12-07T15:00").unwrap();
        // 15:00 EST = 20:00 UTC.
        assert_eq!(local_instant(at, ny), Some(1_796_673_600_000));
        assert_eq!(parse_local("2026-12-07 15:00:00").unwrap(), at);
        assert!(parse_local("2026-12-07T15:00Z").is_err());
        assert!(parse_local("tomorrow at 3").is_err());
        // 2026-03-08 02:30 does not exist in New York: read as 03:30 EDT = 07:30 UTC.
        let gap = parse_local("2026-03-08T02:30").unwrap();
        assert_eq!(local_instant(gap, ny), Some(1_772_955_000_000));
    }

    #[test]
    fn a_callback_is_for_later_but_not_years_later() {
        assert!(check_ahead(1_000, 1_000).is_err());
        assert!(check_ahead(1_001, 1_000).is_ok());
        assert!(check_ahead(1_000 + MAX_AHEAD_MS + 1, 1_000).is_err());
    }
}
