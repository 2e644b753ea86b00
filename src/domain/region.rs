//! ISO 3166 region codes, as used for local-format phone numbers.

use std::str::FromStr;

/// A region the phone number library knows, e.g. `US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(pub(crate) phonenumber::country::Id);

impl Region {
    /// Parses a two-letter region code, case-insensitively.
    pub fn parse(code: &str) -> Result<Self, String> {
        let upper = code.trim().to_ascii_uppercase();
        phonenumber::country::Id::from_str(&upper)
            .map(Region)
            .map_err(|_| format!("{code:?} is not an ISO 3166 region code (e.g. \"US\", \"GB\")"))
    }

    /// The two-letter code.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lowercase_codes() {
        assert_eq!(Region::parse("us").unwrap().code(), "US");
    }

    #[test]
    fn rejects_unknown_codes() {
        assert!(Region::parse("XX").is_err());
        assert!(Region::parse("").is_err());
    }
}
