//! Plans and their contact limits.

/// A plan: a named product tier, or a negotiated custom limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// 1,000 contacts.
    Professional,
    /// 5,000 contacts.
    Dental,
    /// 50,000 contacts.
    RealEstate,
    /// A negotiated limit.
    Custom(i64),
}

/// The largest custom limit accepted (a sanity cap, not a product promise).
pub const MAX_CUSTOM_LIMIT: i64 = 100_000_000;

impl Plan {
    /// How many contacts an account on this plan may hold.
    pub fn limit(self) -> i64 {
        match self {
            Plan::Professional => 1_000,
            Plan::Dental => 5_000,
            Plan::RealEstate => 50_000,
            Plan::Custom(n) => n,
        }
    }

    /// The name stored in the database.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Professional => "PROFESSIONAL",
            Plan::Dental => "DENTAL",
            Plan::RealEstate => "REAL_ESTATE",
            Plan::Custom(_) => "CUSTOM",
        }
    }

    /// Rebuilds a plan from its stored name and limit.
    pub fn from_stored(name: &str, limit: i64) -> Option<Plan> {
        Some(match name {
            "PROFESSIONAL" => Plan::Professional,
            "DENTAL" => Plan::Dental,
            "REAL_ESTATE" => Plan::RealEstate,
            "CUSTOM" => Plan::Custom(limit),
            _ => return None,
        })
    }

    /// A custom plan, checked.
    pub fn custom(limit: i64) -> Result<Plan, String> {
        if !(1..=MAX_CUSTOM_LIMIT).contains(&limit) {
            return Err(format!(
                "a custom limit must be between 1 and {MAX_CUSTOM_LIMIT}, got {limit}"
            ));
        }
        Ok(Plan::Custom(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_plans_have_the_documented_limits() {
        assert_eq!(Plan::Professional.limit(), 1_000);
        assert_eq!(Plan::Dental.limit(), 5_000);
        assert_eq!(Plan::RealEstate.limit(), 50_000);
    }

    #[test]
    fn stored_names_round_trip() {
        for p in [
            Plan::Professional,
            Plan::Dental,
            Plan::RealEstate,
            Plan::Custom(7),
        ] {
            assert_eq!(Plan::from_stored(p.name(), p.limit()), Some(p));
        }
    }

    #[test]
    fn custom_limits_are_bounded() {
        assert!(Plan::custom(0).is_err());
        assert!(Plan::custom(MAX_CUSTOM_LIMIT + 1).is_err());
        assert_eq!(Plan::custom(250).unwrap().limit(), 250);
    }
}
