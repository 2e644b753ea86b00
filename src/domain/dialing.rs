//! The dialer's rules: who may be called now, and why not. Pure functions over stored
//! facts, shared by ClaimDialableContacts, CheckDialable and PreviewDialable so the three
//! can never disagree.

use super::timezone::{Window, Zones};

/// A campaign's dialing rules, given with each request by the campaign service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialRules {
    /// Attempts allowed per contact in the campaign.
    pub max_attempts: i32,
    /// Minimum time between two attempts, ms.
    pub retry_interval_ms: i64,
    /// Local-time calling window.
    pub window: Window,
}

impl Default for DialRules {
    /// 3 attempts, one hour apart, 08:00–21:00 local.
    fn default() -> Self {
        DialRules {
            max_attempts: 3,
            retry_interval_ms: 3_600_000,
            window: Window::default(),
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
    /// Not a member of the campaign.
    NotInCampaign,
    /// Max attempts reached.
    AttemptsExhausted,
    /// Too soon after the last attempt.
    RetrySpacing,
    /// Another dialer holds a live lease.
    Leased,
    /// Outside the calling window in the contact's local time.
    OutsideWindow,
    /// No such contact, or the number cannot be placed in a time zone.
    Unknown,
}

/// The per-campaign state of a member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberState {
    pub attempts: i32,
    pub last_attempt_at: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
}

impl DialRules {
    /// Attempts, spacing and leases; `dialer` is the asking dialer, whose own lease does
    /// not count against it ("" = anyone's lease counts).
    pub fn check_member(&self, m: &MemberState, dialer: &str, now: i64) -> Result<(), Refusal> {
        if m.attempts >= self.max_attempts {
            return Err(Refusal::AttemptsExhausted);
        }
        if m.last_attempt_at
            .is_some_and(|last| last > now - self.retry_interval_ms)
        {
            return Err(Refusal::RetrySpacing);
        }
        let live = m.lease_expires_at.is_some_and(|until| until > now);
        let own = !dialer.is_empty() && m.lease_owner.as_deref() == Some(dialer);
        if live && !own {
            return Err(Refusal::Leased);
        }
        Ok(())
    }

    /// The calling window: unknown zones are refused as such.
    pub fn check_window(&self, zones: &Zones, now: i64) -> Result<(), Refusal> {
        match zones {
            Zones::Unknown => Err(Refusal::Unknown),
            z if self.window.contains(z, now) => Ok(()),
            _ => Err(Refusal::OutsideWindow),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_lease_does_not_count_but_others_do() {
        let rules = DialRules::default();
        let m = MemberState {
            lease_owner: Some("d1".into()),
            lease_expires_at: Some(2_000),
            ..Default::default()
        };
        assert_eq!(rules.check_member(&m, "d1", 1_000), Ok(()));
        assert_eq!(rules.check_member(&m, "d2", 1_000), Err(Refusal::Leased));
        assert_eq!(rules.check_member(&m, "d2", 2_000), Ok(()), "expired");
    }

    #[test]
    fn attempts_then_spacing() {
        let rules = DialRules::default();
        let mut m = MemberState {
            attempts: 3,
            last_attempt_at: Some(0),
            ..Default::default()
        };
        assert_eq!(
            rules.check_member(&m, "", 1),
            Err(Refusal::AttemptsExhausted)
        );
        m.attempts = 1;
        assert_eq!(
            rules.check_member(&m, "", 3_599_999),
            Err(Refusal::RetrySpacing)
        );
        assert_eq!(rules.check_member(&m, "", 3_600_000), Ok(()));
    }
}
