//! Phone numbers: parsed once with the `phonenumber` crate (libphonenumber's metadata),
//! stored and compared as E.164.
//!
//! Two checks: STRICT (the default) wants libphonenumber validity — the number is in an
//! assigned range for its country; LENIENT only wants a possible length for the country.
//! The fictional `+1 555 …` numbers of the sample file are possible but not valid.
//! Numbers that a spreadsheet turned into scientific notation (`1.41555E+10`) have lost
//! digits and are always rejected, never "repaired".
//!
//! Speed: the crate's default metadata database keeps ONE regex cache behind a global
//! mutex, held while each regex runs, so threads parsing numbers at once take turns.
//! Bulk work (imports) calls [`with_private_database`] on its worker thread: numbers are
//! then parsed against a database of the thread's own, built from the same metadata
//! (`src/domain/PhoneNumberMetadata.xml`, the file the crate itself is built from) and kept in
//! a small pool for reuse.

use super::Region;
use phonenumber::metadata::Database;
use phonenumber::{ParseError, PhoneNumber};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// libphonenumber's metadata, as shipped in the `phonenumber` crate this build uses.
const METADATA_XML: &str = include_str!("PhoneNumberMetadata.xml");

/// Databases not in use by a thread right now.
static POOL: Mutex<Vec<Arc<Database>>> = Mutex::new(Vec::new());

thread_local! {
    static PRIVATE: RefCell<Option<Arc<Database>>> = const { RefCell::new(None) };
}

/// Runs `f` with number parsing on this thread using a database of its own (not shared
/// with any other thread while `f` runs), so bulk parsing scales with cores.
pub fn with_private_database<R>(f: impl FnOnce() -> R) -> R {
    let db = POOL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_else(|| {
            Arc::new(Database::parse(METADATA_XML).expect("the bundled metadata parses"))
        });
    let previous = PRIVATE.with(|p| p.borrow_mut().replace(db.clone()));
    struct Restore(Option<Arc<Database>>, Arc<Database>);
    impl Drop for Restore {
        fn drop(&mut self) {
            PRIVATE.with(|p| *p.borrow_mut() = self.0.take());
            POOL.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.1.clone());
        }
    }
    let _restore = Restore(previous, db);
    f()
}

/// Calls `f` with this thread's private database if it has one, else the shared default.
fn with_database<R>(f: impl FnOnce(&Database) -> R) -> R {
    let private = PRIVATE.with(|p| p.borrow().clone());
    match private {
        Some(db) => f(&db),
        None => f(&phonenumber::metadata::DATABASE),
    }
}

/// How strictly a number is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// libphonenumber validity (an assigned range).
    #[default]
    Strict,
    /// A possible length for the country.
    Lenient,
}

/// Why a number was refused, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PhoneError(pub String);

/// A normalized phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    /// Digits of the national significant number (for "typed as dialed" search).
    national: String,
    country_code: u16,
}

/// The longest input considered a phone number at all.
const MAX_INPUT: usize = 64;

impl Phone {
    /// Parses `raw` (E.164, international or local format). A local number needs `region`.
    pub fn parse(raw: &str, region: Option<Region>, mode: Validation) -> Result<Phone, PhoneError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(PhoneError("is empty".into()));
        }
        if s.len() > MAX_INPUT {
            return Err(PhoneError(format!("is longer than {MAX_INPUT} characters")));
        }
        if looks_like_scientific_notation(s) {
            return Err(PhoneError(format!(
                "{s:?} looks like a number a spreadsheet turned into scientific notation; \
                 its digits are lost — format the column as text and export again"
            )));
        }
        if s.chars().any(|c| c.is_alphabetic()) {
            return Err(PhoneError(format!("{s:?} contains letters")));
        }
        let international = s.starts_with('+');
        if !international && region.is_none() {
            return Err(PhoneError(format!(
                "{s:?} is a local number; give a default region (e.g. \"US\") or write it as +<country code>…"
            )));
        }
        with_database(|db| Phone::check_parsed(db, s, region, mode))
    }

    fn check_parsed(
        db: &Database,
        s: &str,
        region: Option<Region>,
        mode: Validation,
    ) -> Result<Phone, PhoneError> {
        let parsed =
            phonenumber::parse_with(db, region.map(|r| r.0), s).map_err(|e| parse_error(s, e))?;
        let phone = Phone::from_parsed(&parsed);
        match mode {
            Validation::Strict if !phonenumber::is_valid_with(db, &parsed) => {
                Err(PhoneError(format!(
                    "{} is not a valid phone number: its digits are not in any range assigned in +{} \
                 (fictional numbers such as +1 555 01xx fail here; LENIENT validation accepts them)",
                    phone.e164, phone.country_code
                )))
            }
            Validation::Lenient if !possible_length(db, &parsed, &phone.national) => {
                Err(PhoneError(format!(
                    "{} has {} digits after +{}, which no number in that country has",
                    phone.e164,
                    phone.national.len(),
                    phone.country_code
                )))
            }
            _ => Ok(phone),
        }
    }

    fn from_parsed(parsed: &PhoneNumber) -> Phone {
        // What the crate's E.164 formatter writes, without its regex work (and its use
        // of the shared database).
        let country_code = parsed.code().value();
        let e164 = format!("+{country_code}{}", parsed.national());
        let national = e164
            .trim_start_matches('+')
            .strip_prefix(&country_code.to_string())
            .unwrap_or_default()
            .to_string();
        Phone {
            e164,
            national,
            country_code,
        }
    }

    /// Rebuilds a phone from its stored E.164 form and national digits (already checked).
    pub fn from_stored(e164: String, national: String, country_code: u16) -> Phone {
        Phone {
            e164,
            national,
            country_code,
        }
    }

    /// The E.164 form, e.g. `+14155552671`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The national significant number's digits, e.g. `4155552671`.
    pub fn national(&self) -> &str {
        &self.national
    }

    /// The country calling code, e.g. 1.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }
}

fn parse_error(s: &str, err: ParseError) -> PhoneError {
    PhoneError(match err {
        ParseError::NoNumber => format!("{s:?} is not a phone number"),
        ParseError::InvalidCountryCode => format!("{s:?} does not start with a known country code"),
        ParseError::TooShortAfterIdd | ParseError::TooShortNsn => format!("{s:?} is too short"),
        ParseError::TooLong => format!("{s:?} is too long"),
        other => format!("{s:?} is not a phone number ({other})"),
    })
}

/// `1.41555E+10`, `4.15555e9`: what spreadsheets make of long digit strings.
fn looks_like_scientific_notation(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// LENIENT: the national number's length is one the country's numbers can have.
fn possible_length(db: &Database, parsed: &PhoneNumber, national: &str) -> bool {
    let Some(metas) = db.by_code(&parsed.code().value()) else {
        return false;
    };
    let len = national.len() as u16;
    metas.iter().any(|m| {
        // The general descriptor often lists no lengths; the per-type ones do.
        let d = m.descriptors();
        let typed = [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        let mut lengths = d.general().possible_length().iter().chain(
            typed
                .into_iter()
                .flatten()
                .flat_map(|t| t.possible_length().iter()),
        );
        let mut any = false;
        let hit = lengths.any(|l| {
            any = true;
            *l == len
        });
        hit || (!any && (4..=14).contains(&len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Option<Region> {
        Some(Region::parse("US").unwrap())
    }

    #[test]
    fn normalizes_every_spelling_of_one_number_to_e164() {
        for raw in [
            "+1 (415) 555-2671",
            "415-555-2671",
            "1-415-555-2671",
            "(415) 555 2671",
            "+14155552671",
        ] {
            let p = Phone::parse(raw, us(), Validation::Strict).unwrap();
            assert_eq!(p.e164(), "+14155552671", "{raw}");
            assert_eq!(p.national(), "4155552671");
        }
    }

    #[test]
    fn local_numbers_need_a_region() {
        let err = Phone::parse("415-555-2671", None, Validation::Strict).unwrap_err();
        assert!(err.0.contains("region"), "{err}");
    }

    #[test]
    fn fictional_555_numbers_fail_strict_and_pass_lenient() {
        let err = Phone::parse("+15551234567", None, Validation::Strict).unwrap_err();
        assert!(err.0.contains("not a valid phone number"), "{err}");
        let p = Phone::parse("+15551234567", None, Validation::Lenient).unwrap();
        assert_eq!(p.e164(), "+15551234567");
    }

    #[test]
    fn lenient_still_rejects_impossible_lengths() {
        assert!(Phone::parse("+1555123", None, Validation::Lenient).is_err());
    }

    #[test]
    fn spreadsheet_scientific_notation_is_never_repaired() {
        for raw in ["1.41555E+10", "4.155552671e9", "1,41555E+10"] {
            let err = Phone::parse(raw, us(), Validation::Lenient).unwrap_err();
            assert!(err.0.contains("scientific notation"), "{raw}: {err}");
        }
    }

    #[test]
    fn other_countries_keep_their_leading_digits() {
        let p = Phone::parse(
            "020 7946 0018",
            Some(Region::parse("GB").unwrap()),
            Validation::Lenient,
        )
        .unwrap();
        assert_eq!(p.e164(), "+442079460018");
        let p = Phone::parse("+39 06 6982 1234", None, Validation::Lenient).unwrap();
        assert_eq!(p.e164(), "+390669821234");
        assert_eq!(p.national(), "0669821234");
    }

    #[test]
    fn a_private_database_parses_like_the_shared_one() {
        for raw in [
            "+1 (415) 555-2671",
            "+15551234567",
            "020 7946 0018",
            "+39 06 6982 1234",
        ] {
            for mode in [Validation::Strict, Validation::Lenient] {
                let region = Some(Region::parse("GB").unwrap());
                let shared = Phone::parse(raw, region, mode);
                let private = with_private_database(|| Phone::parse(raw, region, mode));
                assert_eq!(shared, private, "{raw} {mode:?}");
            }
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for raw in ["", "   ", "call me", "12", "+999 1234 5678"] {
            assert!(
                Phone::parse(raw, us(), Validation::Lenient).is_err(),
                "{raw:?} accepted"
            );
        }
    }
}
