//! ISO 3166 region codes, as used for local-format phone numbers.

use rlibphonenumber::PHONE_NUMBER_UTIL;

/// A region the phone number library has numbering metadata for, e.g. `US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(pub(crate) rlibphonenumber::Region, [u8; 2]);

impl Region {
    /// Parses a two-letter region code, case-insensitively.
    pub fn parse(code: &str) -> Result<Self, String> {
        let upper = code.trim().to_ascii_uppercase();
        let refused = || format!("{code:?} is not an ISO 3166 region code (e.g. \"US\", \"GB\")");
        let letters: [u8; 2] = upper.as_bytes().try_into().map_err(|_| refused())?;
        let id = rlibphonenumber::Region::from_code(&upper).map_err(|_| refused())?;
        match PHONE_NUMBER_UTIL.get_country_code_for_region(id) {
            Some(_) => Ok(Region(id, letters)),
            None => Err(refused()),
        }
    }

    /// The two-letter code.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.1).unwrap_or_default()
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
