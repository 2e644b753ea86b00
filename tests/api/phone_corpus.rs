//! contactd's phone parser against Google's libphonenumber, row by row.
//!
//! `tests/data/phone_corpus.tsv` is what Google's Python port (`phonenumbers`, pinned to
//! the metadata of the crate contactd ships) makes of example numbers of every region and
//! type, spelled the ways people paste them, under their own and other default regions,
//! plus random digit strings per calling code (see `tests/data/gen_phone_corpus.py`).
//! Every row must agree: refused or not, valid or not (STRICT), possible or not
//! (LENIENT), the E.164 form and the extension. The only exceptions are contactd's
//! written policies in [`policy`], each checked to be the reason the row differs.

use contactd::domain::{Phone, Region, Validation};

const CORPUS: &str = include_str!("../data/phone_corpus.tsv");

/// What libphonenumber decided for one row.
#[derive(Debug, PartialEq)]
enum Expected {
    Refused,
    Parsed {
        e164: String,
        valid: bool,
        possible: bool,
        extension: String,
    },
}

/// Why contactd refuses a row libphonenumber parses, if a policy does.
fn policy(raw: &str, error: &str) -> Option<&'static str> {
    // Vanity numbers: letters read as keypad digits are refused (README, "Phone numbers").
    if error.contains("contains letters") {
        return Some("letters read as keypad digits are refused");
    }
    if error.contains("scientific notation") {
        return Some("spreadsheet scientific notation has lost digits");
    }
    if raw.trim().len() > 64 && error.contains("longer than") {
        return Some("inputs over 64 characters are refused");
    }
    None
}

fn rows() -> Vec<(Option<Region>, &'static str, Expected)> {
    CORPUS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let region = match cols[0] {
                "" => None,
                code => Some(Region::parse(code).unwrap_or_else(|e| panic!("{line:?}: {e}"))),
            };
            let expected = match cols[2..] {
                [err] if err.starts_with("ERR") => Expected::Refused,
                [e164, valid, possible, extension] => Expected::Parsed {
                    e164: e164.to_string(),
                    valid: valid == "1",
                    possible: possible == "1",
                    extension: extension.to_string(),
                },
                _ => panic!("malformed corpus line {line:?}"),
            };
            (region, cols[1], expected)
        })
        .collect()
}

/// What contactd decides for `raw` in `mode`, in the corpus's terms.
fn ours(raw: &str, region: Option<Region>, mode: Validation) -> Result<(String, String), String> {
    Phone::parse_extended(raw, region, mode)
        .map(|(p, ext)| (p.e164().to_string(), ext))
        .map_err(|e| e.0)
}

#[test]
fn every_corpus_number_is_decided_as_googles_libphonenumber_decides_it() {
    let rows = rows();
    assert!(rows.len() > 50_000, "the corpus has {} rows", rows.len());
    let mut disagreements = Vec::new();
    let mut by_policy: std::collections::BTreeMap<&str, usize> = Default::default();
    let (mut valid, mut refused) = (0, 0);
    for (region, raw, expected) in &rows {
        for mode in [Validation::Strict, Validation::Lenient] {
            let got = ours(raw, *region, mode);
            let want = match expected {
                Expected::Refused => None,
                Expected::Parsed {
                    e164,
                    valid,
                    possible,
                    extension,
                } => {
                    let passes = match mode {
                        Validation::Strict => *valid,
                        Validation::Lenient => *possible,
                    };
                    passes.then(|| (e164.clone(), extension.clone()))
                }
            };
            let agree = match (&got, &want) {
                (Ok(g), Some(w)) => g == w,
                (Err(_), None) => true,
                (Err(error), Some(_)) => match policy(raw, error) {
                    Some(reason) => {
                        *by_policy.entry(reason).or_default() += 1;
                        true
                    }
                    None => false,
                },
                (Ok(_), None) => false,
            };
            if !agree {
                disagreements.push(format!(
                    "{raw:?} region {:?} {mode:?}: contactd {got:?}, libphonenumber {expected:?}",
                    region.map(|r| r.code().to_string())
                ));
            }
            match (mode, &want) {
                (Validation::Strict, Some(_)) => valid += 1,
                (Validation::Strict, None) => refused += 1,
                _ => {}
            }
        }
    }
    println!(
        "{} rows: {valid} valid, {refused} refused (STRICT); policy refusals {by_policy:?}",
        rows.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with libphonenumber, e.g.:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(40)].join("\n")
    );
    // The corpus means something only if it holds both outcomes in number.
    assert!(
        valid > rows.len() / 2 && refused > rows.len() / 10,
        "{valid} valid, {refused} refused"
    );
    // Each policy is exercised by the corpus (a policy no row hits is a dead exception).
    assert_eq!(by_policy.len(), 3, "{by_policy:?}");
}
