//! Consent to be called, as the TCPA asks of artificial-voice calls (the FCC's 2024
//! ruling counts AI-generated voices as such): its kind, and whether a record is live.

/// What a consent record says the person agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    /// Prior express consent (e.g. the person gave the number for this purpose).
    Express,
    /// Prior express written consent (required for telemarketing calls).
    ExpressWritten,
    /// The person gave none (recorded so that the absence is explicit).
    None,
}

impl ConsentKind {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Express => "express",
            ConsentKind::ExpressWritten => "express_written",
            ConsentKind::None => "none",
        }
    }

    /// The kind a person wrote (an import's cell): the stored value or the API's enum
    /// name, in any case, with spaces or hyphens for underscores (`Express Written`,
    /// `CONSENT_KIND_EXPRESS_WRITTEN`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        match t.strip_prefix("consent_kind_").unwrap_or(&t) {
            "express" => Some(ConsentKind::Express),
            "express_written" => Some(ConsentKind::ExpressWritten),
            "none" => Some(ConsentKind::None),
            _ => Option::None,
        }
    }

    /// The kind of a stored value (an unknown one reads as `None`: it proves nothing).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "express" => ConsentKind::Express,
            "express_written" => ConsentKind::ExpressWritten,
            _ => ConsentKind::None,
        }
    }
}

/// The consent a campaign requires of the contacts it dials (`DialRules::require_consent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentRequirement {
    /// Any contact may be dialed as far as consent goes.
    #[default]
    NotRequired,
    /// A live express consent, written or not (written consent is express consent too).
    Express,
    /// A live express written consent (telemarketing).
    ExpressWritten,
}

impl ConsentRequirement {
    /// Whether a live consent is required at all.
    pub fn required(self) -> bool {
        self != ConsentRequirement::NotRequired
    }

    /// Whether a live record of `kind` satisfies the requirement (a `None` record, which
    /// says the person gave none, never does).
    pub fn accepts(self, kind: ConsentKind) -> bool {
        self.stored_values().contains(&kind.as_str())
    }

    /// The stored values of the kinds that satisfy it (empty when not required).
    pub fn stored_values(self) -> &'static [&'static str] {
        match self {
            ConsentRequirement::NotRequired => &[],
            ConsentRequirement::Express => &["express", "express_written"],
            ConsentRequirement::ExpressWritten => &["express_written"],
        }
    }
}

/// A stored consent record of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: i64,
    pub account_id: String,
    pub contact_id: i64,
    pub kind: ConsentKind,
    pub channel: String,
    pub source: String,
    /// Unix ms.
    pub captured_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// How the person revoked it ("" while not revoked).
    pub revoked_how: String,
    pub created_at: i64,
}

impl Consent {
    /// Whether the record is live at `now` ([`is_live`]).
    pub fn is_live(&self, now: i64) -> bool {
        is_live(self.revoked_at, self.expires_at, now)
    }
}

/// A contact's newest live consent record, as an export shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestConsent {
    pub kind: ConsentKind,
    /// Unix ms.
    pub captured_at: i64,
    pub source: String,
}

/// A consent to record, as a request or an import row (its mapped consent columns)
/// gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub kind: ConsentKind,
    pub channel: String,
    pub source: String,
    /// Unix ms; `None`: the server's now (the import's time).
    pub captured_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// A time an import cell gives: RFC 3339 (`2026-03-02T15:00:00Z`, as the export writes
/// it), or a date (`2026-03-02`, read as its midnight UTC). Unix ms.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(at.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// A record is live at `now` when not revoked and not expired (an expiry is exclusive:
/// at its time the consent is over).
pub fn is_live(revoked_at: Option<i64>, expires_at: Option<i64>, now: i64) -> bool {
    revoked_at.is_none() && expires_at.is_none_or(|e| e > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_round_trip_and_liveness_ends_at_expiry_or_revocation() {
        for k in [
            ConsentKind::Express,
            ConsentKind::ExpressWritten,
            ConsentKind::None,
        ] {
            assert_eq!(ConsentKind::from_stored(k.as_str()), k);
        }
        assert!(is_live(None, None, 5));
        assert!(is_live(None, Some(6), 5));
        assert!(!is_live(None, Some(5), 5));
        assert!(!is_live(Some(1), None, 5));
    }

    #[test]
    fn kinds_parse_in_any_case_and_spelling_and_times_as_rfc3339_or_dates() {
        for t in ["express", "EXPRESS", " Express "] {
            assert_eq!(ConsentKind::parse(t), Some(ConsentKind::Express));
        }
        for t in [
            "express_written",
            "Express Written",
            "express-written",
            "CONSENT_KIND_EXPRESS_WRITTEN",
        ] {
            assert_eq!(ConsentKind::parse(t), Some(ConsentKind::ExpressWritten));
        }
        assert_eq!(ConsentKind::parse("None"), Some(ConsentKind::None));
        assert_eq!(ConsentKind::parse("yes"), Option::None);
        assert_eq!(
            parse_time("2026-03-02T15:00:00.000Z"),
            Some(1_772_463_600_000)
        );
        assert_eq!(
            parse_time("2026-03-02T16:00:00+01:00"),
            Some(1_772_463_600_000)
        );
        assert_eq!(parse_time("2026-03-02"), Some(1_772_409_600_000));
        assert_eq!(parse_time("02/03/2026"), Option::None);
    }

    #[test]
    fn written_consent_satisfies_both_requirements_and_none_satisfies_neither() {
        use ConsentRequirement as R;
        assert!(!R::NotRequired.required() && R::NotRequired.stored_values().is_empty());
        for (req, kind, ok) in [
            (R::Express, ConsentKind::Express, true),
            (R::Express, ConsentKind::ExpressWritten, true),
            (R::Express, ConsentKind::None, false),
            (R::ExpressWritten, ConsentKind::Express, false),
            (R::ExpressWritten, ConsentKind::ExpressWritten, true),
            (R::ExpressWritten, ConsentKind::None, false),
        ] {
            assert!(req.required());
            assert_eq!(req.accepts(kind), ok, "{req:?} {kind:?}");
        }
    }
}
