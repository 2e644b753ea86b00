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

    /// The kind of a stored value (an unknown one reads as `None`: it proves nothing).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "express" => ConsentKind::Express,
            "express_written" => ConsentKind::ExpressWritten,
            _ => ConsentKind::None,
        }
    }
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
}
