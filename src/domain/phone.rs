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
//! mutex, held while each regex runs, so threads parsing numbers at once take turns, and
//! every regex use hashes the pattern's text to find it in that cache. So the common
//! spellings (digits, spaces, dashes, parentheses; `+` or a default region) take a fast
//! path (module `fast`): the same metadata and the same rules as the crate's parser and
//! validator, with each pattern compiled once per thread, when first needed, as an anchored
//! `regex::Regex`. It decides only what it can decide exactly as the crate would (a
//! differential test holds it to that) and leaves everything else to the crate.
//! Bulk work (imports) calls [`with_private_database`] on its worker thread: numbers the
//! crate decides are then parsed against a database of the thread's own, built from the
//! same metadata (`src/domain/PhoneNumberMetadata.xml`, the file the crate itself is built
//! from) and kept in a small pool for reuse. `cargo run --release --bin bench_phone`
//! measures both.

use super::Region;
use phonenumber::metadata::{Database, Descriptor, Descriptors};
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
        Phone::parse_via(raw, region, mode, true)
    }

    /// [`Phone::parse`] without its fast path: the `phonenumber` crate's own parser and
    /// validator decide every number. The reference the fast path is tested and
    /// benchmarked against.
    #[doc(hidden)]
    pub fn parse_with_crate(
        raw: &str,
        region: Option<Region>,
        mode: Validation,
    ) -> Result<Phone, PhoneError> {
        Phone::parse_via(raw, region, mode, false)
    }

    fn parse_via(
        raw: &str,
        region: Option<Region>,
        mode: Validation,
        fast_path: bool,
    ) -> Result<Phone, PhoneError> {
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
        if fast_path && let Some(result) = fast::parse(s, region, mode) {
            return result;
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
        let passes = match mode {
            Validation::Strict => phonenumber::is_valid_with(db, &parsed),
            Validation::Lenient => possible_length(db, phone.country_code, &phone.national),
        };
        phone.checked(mode, passes)
    }

    /// `self` if it passed the `mode` check, else the reason it did not.
    fn checked(self, mode: Validation, passes: bool) -> Result<Phone, PhoneError> {
        match mode {
            _ if passes => Ok(self),
            Validation::Strict => Err(PhoneError(format!(
                "{} is not a valid phone number: its digits are not in any range assigned in +{} \
                 (fictional numbers such as +1 555 01xx fail here; LENIENT validation accepts them)",
                self.e164, self.country_code
            ))),
            Validation::Lenient => Err(PhoneError(format!(
                "{} has {} digits after +{}, which no number in that country has",
                self.e164,
                self.national.len(),
                self.country_code
            ))),
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

/// The per-type descriptors libphonenumber's validity and length checks look at.
fn typed_descriptors(d: &Descriptors) -> [Option<&Descriptor>; 10] {
    [
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
    ]
}

/// LENIENT: the national number's length is one the country's numbers can have.
fn possible_length(db: &Database, country_code: u16, national: &str) -> bool {
    let Some(metas) = db.by_code(&country_code) else {
        return false;
    };
    let len = national.len() as u16;
    metas.iter().any(|m| {
        // The general descriptor often lists no lengths; the per-type ones do.
        let d = m.descriptors();
        let typed = typed_descriptors(d);
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

/// The common spellings (digits with spaces, dashes and parentheses, `+` or a default
/// region) decided without the crate's parser: same metadata, same rules, but every
/// pattern compiled once per thread as an anchored `regex::Regex`, so no shared cache,
/// no lock and no pattern hashing per number. Whatever these rules do not cover with
/// certainty (national prefixes given with `+`, carrier codes, leading zeros, IDDs,
/// odd punctuation, unknown country codes, extreme lengths) goes to the crate.
mod fast {
    use super::{Phone, PhoneError, Region, Validation, possible_length};
    use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
    use regex::{Regex, RegexBuilder};
    use std::cell::{OnceCell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;

    /// Shortest and longest national numbers decided here (the crate's limits are 2 and 17).
    const NATIONAL_LEN: std::ops::RangeInclusive<usize> = 4..=14;

    /// A pattern as the crate reads it (whitespace ignored), matched from the first digit.
    /// Inputs here are ASCII digits, so ASCII classes match what Unicode ones would (and
    /// compile far faster).
    fn anchored(pattern: &str) -> Regex {
        let source = format!("^(?:{pattern})");
        let build = |unicode| {
            RegexBuilder::new(&source)
                .ignore_whitespace(true)
                .unicode(unicode)
                .build()
        };
        build(false)
            .or_else(|_| build(true))
            .expect("the bundled metadata's patterns compile")
    }

    /// A pattern compiled the first time it is needed.
    struct Lazy {
        source: Option<&'static str>,
        compiled: OnceCell<Option<Regex>>,
    }

    impl Lazy {
        fn new(source: Option<&'static str>) -> Lazy {
            Lazy {
                source,
                compiled: OnceCell::new(),
            }
        }

        /// Whether the pattern exists and matches at the start of `digits`.
        fn at_start(&self, digits: &str) -> bool {
            self.compiled
                .get_or_init(|| self.source.map(anchored))
                .as_ref()
                .is_some_and(|r| r.is_match(digits))
        }
    }

    /// A number-type descriptor: a pattern and the lengths it allows.
    struct Desc {
        pattern: Lazy,
        lengths: &'static [u16],
    }

    impl Desc {
        fn new(d: &'static Descriptor) -> Desc {
            Desc {
                pattern: Lazy::new(Some(d.national_number().as_str())),
                lengths: d.possible_length(),
            }
        }

        /// `Descriptor::is_match`.
        fn is_match(&self, national: &str) -> bool {
            (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
                && self.pattern.at_start(national)
        }
    }

    /// One region's metadata, its patterns compiled as they are needed.
    struct Meta {
        code: u16,
        country_code: String,
        national_prefix: Option<&'static str>,
        prefix_for_parsing: Lazy,
        international_prefix: Lazy,
        leading_digits: Lazy,
        has_leading_digits: bool,
        general: Desc,
        general_local_lengths: &'static [u16],
        /// Every typed descriptor `validator::number_type` looks at.
        types: Vec<Desc>,
    }

    impl Meta {
        fn new(m: &'static Metadata) -> Meta {
            let d = m.descriptors();
            let types = super::typed_descriptors(d);
            Meta {
                code: m.country_code(),
                country_code: m.country_code().to_string(),
                national_prefix: m.national_prefix(),
                prefix_for_parsing: Lazy::new(m.national_prefix_for_parsing().map(|r| r.as_str())),
                international_prefix: Lazy::new(m.international_prefix().map(|r| r.as_str())),
                leading_digits: Lazy::new(m.leading_digits().map(|r| r.as_str())),
                has_leading_digits: m.leading_digits().is_some(),
                general: Desc::new(d.general()),
                general_local_lengths: d.general().possible_local_length(),
                types: types.into_iter().flatten().map(Desc::new).collect(),
            }
        }

        /// `validator::number_type(..) != Type::Unknown`.
        fn has_type(&self, national: &str) -> bool {
            self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
        }

        /// The crate's national-prefix and carrier stripping would leave `national` alone.
        fn keeps(&self, national: &str) -> bool {
            !self
                .national_prefix
                .is_some_and(|p| national.starts_with(p))
                && !self.prefix_for_parsing.at_start(national)
        }

        /// `validator::length(meta, national, Type::Unknown) == Validation::TooShort`.
        fn too_short(&self, national: &str) -> bool {
            let len = national.len() as u16;
            let possible = self.general.lengths;
            !possible.is_empty() && !self.general_local_lengths.contains(&len) && len < possible[0]
        }

        fn idd_at_start(&self, digits: &str) -> bool {
            self.international_prefix.at_start(digits)
        }
    }

    /// A country calling code's regions, compiled.
    struct Code {
        /// Whether every region named for the code has metadata (else the crate decides).
        complete: bool,
        /// The code's regions in the order `validator::source_for` tries them.
        regions: Vec<Rc<Meta>>,
        /// The one region `source_for` takes without looking, if the code has one.
        single: Option<Rc<Meta>>,
    }

    impl Code {
        /// `validator::source_for` then `number_type(..) != Unknown`: `phonenumber::is_valid`.
        fn is_valid(&self, national: &str) -> Option<bool> {
            if !self.complete {
                return None;
            }
            Some(
                self.source_for(national)
                    .is_some_and(|m| m.has_type(national)),
            )
        }

        /// `validator::source_for`: the region whose rules apply to `national`.
        fn source_for(&self, national: &str) -> Option<&Rc<Meta>> {
            match &self.single {
                Some(meta) => Some(meta),
                None => self.regions.iter().find(|m| {
                    if m.has_leading_digits {
                        m.leading_digits.at_start(national)
                    } else {
                        m.has_type(national)
                    }
                }),
            }
        }
    }

    #[derive(Default)]
    struct Cache {
        metas: HashMap<(u16, String), Rc<Meta>>,
        regions: HashMap<Region, Option<Rc<Meta>>>,
        codes: HashMap<u16, Option<Rc<Code>>>,
    }

    impl Cache {
        fn meta(&mut self, m: &'static Metadata) -> Rc<Meta> {
            self.metas
                .entry((m.country_code(), m.id().to_string()))
                .or_insert_with(|| Rc::new(Meta::new(m)))
                .clone()
        }

        fn region(&mut self, region: Region) -> Option<Rc<Meta>> {
            if let Some(known) = self.regions.get(&region) {
                return known.clone();
            }
            let built = DATABASE.by_id(region.code()).map(|m| self.meta(m));
            self.regions.insert(region, built.clone());
            built
        }

        fn code(&mut self, code: u16) -> Option<Rc<Code>> {
            if let Some(known) = self.codes.get(&code) {
                return known.clone();
            }
            let built = self.build_code(code).map(Rc::new);
            self.codes.insert(code, built.clone());
            built
        }

        fn build_code(&mut self, code: u16) -> Option<Code> {
            let all: Vec<_> = DATABASE
                .by_code(&code)?
                .into_iter()
                .map(|m| self.meta(m))
                .collect();
            let names = DATABASE.region(&code).unwrap_or_default();
            let mut complete = !names.is_empty();
            let mut single = None;
            if let [name] = names[..] {
                let meta = match name {
                    "001" => all.first().cloned(),
                    _ => name
                        .parse::<phonenumber::country::Id>()
                        .ok()
                        .and_then(|id| DATABASE.by_id(id.as_ref()))
                        .map(|m| self.meta(m)),
                };
                complete &= meta.is_some();
                single = meta;
            }
            let mut regions = Vec::new();
            for name in &names {
                match DATABASE.by_id(*name) {
                    Some(m) => regions.push(self.meta(m)),
                    None => complete = false,
                }
            }
            Some(Code {
                complete,
                regions,
                single,
            })
        }
    }

    thread_local! {
        static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
    }

    /// The digits of `s` if it is only digits, spaces, dashes and parentheses. (Dots are
    /// left to the crate: it reads some dotted numbers differently.)
    fn digits(s: &str) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '0'..='9' => out.push(c),
                ' ' | '-' | '(' | ')' => {}
                _ => return None,
            }
        }
        Some(out)
    }

    /// `Some(result)` when these rules decide `s` exactly as the crate would, else `None`.
    pub(super) fn parse(
        s: &str,
        region: Option<Region>,
        mode: Validation,
    ) -> Option<Result<Phone, PhoneError>> {
        let (international, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        // Without spaces, `+` and a separator make the crate read the number as RFC 3966,
        // where the digits before the first separator are the country code.
        if international && !rest.contains(' ') && rest.contains(['-', '(', ')']) {
            return None;
        }
        let digits = digits(rest)?;
        if digits.is_empty() || (international && digits.starts_with('0')) {
            return None;
        }
        CACHE.with(|cache| {
            let cache = &mut *cache.borrow_mut();
            let (country_code, national) = if international {
                split_international(cache, &digits, region)?
            } else {
                split_local(cache, &digits, region?)?
            };
            if !NATIONAL_LEN.contains(&national.len()) || national.starts_with('0') {
                return None;
            }
            let phone = Phone {
                e164: format!("+{country_code}{national}"),
                national: national.to_string(),
                country_code,
            };
            let passes = match mode {
                Validation::Strict => cache.code(country_code)?.is_valid(national)?,
                Validation::Lenient => possible_length(&DATABASE, country_code, national),
            };
            Some(phone.checked(mode, passes))
        })
    }

    /// `+` then digits: the country code and the national number, as the crate splits them.
    fn split_international<'d>(
        cache: &mut Cache,
        digits: &'d str,
        region: Option<Region>,
    ) -> Option<(u16, &'d str)> {
        let given = match region {
            Some(r) => Some(cache.region(r)?),
            None => None,
        };
        if given.as_ref().is_some_and(|m| m.idd_at_start(digits)) {
            return None;
        }
        let (code, national, compiled) = (1..=3.min(digits.len() - 1)).find_map(|len| {
            let code: u16 = digits[..len].parse().ok()?;
            Some((code, &digits[len..], cache.code(code)?))
        })?;
        if !compiled.complete {
            return None;
        }
        let untouched = match &given {
            Some(m) => m.keeps(national),
            // The crate strips with the rules of the region the number belongs to.
            None => compiled
                .source_for(national)
                .is_none_or(|m| m.keeps(national)),
        };
        untouched.then_some((code, national))
    }

    /// Digits in a region's national format: the country code and the national number.
    fn split_local<'d>(
        cache: &mut Cache,
        digits: &'d str,
        region: Region,
    ) -> Option<(u16, &'d str)> {
        let meta = cache.region(region)?;
        if meta.idd_at_start(digits) {
            return None;
        }
        let mut national = digits;
        if let Some(after_code) = digits.strip_prefix(meta.country_code.as_str()) {
            if meta.general.is_match(digits) {
                return None;
            }
            national = after_code;
        }
        if meta.prefix_for_parsing.source.is_some() {
            if !meta.keeps(national) {
                return None;
            }
        } else if let Some(prefix) = meta.national_prefix
            && let Some(once) = national.strip_prefix(prefix)
        {
            // The crate strips the prefix, then strips it again if the rest starts with it.
            let stripped = once.strip_prefix(prefix).unwrap_or(once);
            if !meta.too_short(stripped) {
                national = stripped;
            }
        }
        Some((meta.code, national))
    }
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

    /// A small deterministic generator (xorshift64), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn digits(&mut self, n: usize) -> String {
            (0..n)
                .map(|_| char::from(b'0' + self.below(10) as u8))
                .collect()
        }

        /// `digits` with separators sprinkled the way people and spreadsheets write them.
        fn spell(&mut self, digits: &str) -> String {
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && self.below(4) == 0 {
                    out.push_str([" ", "-", ".", " (", ") ", "--", "/"][self.below(7)]);
                }
                out.push(c);
            }
            out
        }

        /// `example` with some of its last digits replaced, sometimes a digit more or less.
        fn vary(&mut self, example: &str) -> String {
            let mut s: String = example.to_string();
            let keep = s.len().saturating_sub(self.below(5));
            s.truncate(keep);
            let tail = example.len() - keep;
            s += &self.digits(tail);
            match self.below(8) {
                0 => s += &self.digits(1),
                1 => {
                    s.pop();
                }
                _ => {}
            }
            s
        }
    }

    /// Inputs across countries and spellings: example numbers of every type (varied), the
    /// same with national prefixes, country codes and IDDs in local form, other default
    /// regions, fictional 555 numbers, random digit strings and spreadsheet mangling.
    fn differential_inputs(rng: &mut Rng) -> Vec<(String, Option<Region>)> {
        let codes = [
            "US", "CA", "GB", "DE", "FR", "IN", "AU", "BR", "IT", "MX", "JP", "NL", "ES", "AG",
        ];
        let regions: Vec<Region> = codes.iter().map(|c| Region::parse(c).unwrap()).collect();
        let mut out = Vec::new();
        for &region in &regions {
            let meta = phonenumber::metadata::DATABASE
                .by_id(region.code())
                .unwrap();
            let cc = meta.country_code();
            let np = meta.national_prefix().unwrap_or("").to_string();
            let d = meta.descriptors();
            let examples: Vec<String> = [d.fixed_line(), d.mobile(), d.toll_free(), d.voip()]
                .into_iter()
                .flatten()
                .filter_map(|t| t.example().map(str::to_string))
                .collect();
            for example in &examples {
                for _ in 0..12 {
                    let nsn = rng.vary(example);
                    let other = regions[rng.below(regions.len())];
                    out.push((format!("+{cc} {}", rng.spell(&nsn)), None));
                    out.push((
                        format!("+{}", rng.spell(&format!("{cc}{nsn}"))),
                        Some(other),
                    ));
                    out.push((format!("+{cc} {np}{}", rng.spell(&nsn)), None));
                    out.push((rng.spell(&format!("{np}{nsn}")), Some(region)));
                    out.push((rng.spell(&nsn), Some(region)));
                    out.push((rng.spell(&format!("{cc}{nsn}")), Some(region)));
                    out.push((rng.spell(&format!("00{cc}{nsn}")), Some(region)));
                    out.push((rng.spell(&format!("011{cc}{nsn}")), Some(region)));
                }
            }
        }
        for _ in 0..300 {
            let region = Some(regions[rng.below(regions.len())]);
            let x = rng.digits(2);
            let line = rng.digits(3);
            out.push((format!("+1 555 01{x} {}", rng.digits(3)), None));
            out.push((format!("(555) 01{x}-{line}"), region));
            out.push((format!("1-{}-555-01{x}", rng.digits(3)), Some(regions[0])));
            let n = 1 + rng.below(17);
            let digits = rng.digits(n);
            out.push((format!("+{}", rng.spell(&digits)), None));
            out.push((rng.spell(&digits), region));
            out.push((format!("0{}", rng.spell(&digits)), region));
            out.push((
                format!("{}.{}E+{}", rng.digits(1), rng.digits(5), 9 + rng.below(3)),
                region,
            ));
        }
        out
    }

    #[test]
    fn the_fast_path_decides_exactly_like_the_phonenumber_crate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let inputs = differential_inputs(&mut rng);
        let (mut checked, mut fast_ok, mut fast_err) = (0, 0, 0);
        for (raw, region) in &inputs {
            for mode in [Validation::Strict, Validation::Lenient] {
                let ours = Phone::parse(raw, *region, mode);
                let reference = Phone::parse_with_crate(raw, *region, mode);
                assert_eq!(ours, reference, "{raw:?} region {region:?} {mode:?}");
                match fast::parse(raw.trim(), *region, mode) {
                    Some(Ok(_)) => fast_ok += 1,
                    Some(Err(_)) => fast_err += 1,
                    None => {}
                }
                checked += 1;
            }
        }
        println!("{checked} comparisons, fast path: {fast_ok} accepted, {fast_err} refused");
        // The comparison means something only if the fast path decided much of it, both ways.
        assert!(checked > 10_000, "{checked} comparisons");
        assert!(
            fast_ok > checked / 5,
            "{fast_ok} of {checked} accepted by the fast path"
        );
        assert!(
            fast_err > checked / 20,
            "{fast_err} of {checked} refused by the fast path"
        );
    }
}
