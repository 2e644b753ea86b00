//! contactd's phone parser against Google's libphonenumber, row by row.
//!
//! `tests/data/phone_corpus.tsv` is what Google's Python port (`phonenumbers`, pinned to
//! the metadata of the crate contactd ships) makes of example numbers of every region and
//! type, spelled the ways people paste them, under their own and other default regions,
//! plus random digit strings per calling code (see `tests/data/gen_phone_corpus.py`).
//! Every row must agree: refused or not, valid or not (STRICT), possible or not
//! (LENIENT), the E.164 form and the extension. The only exceptions are contactd's
//! written policies in [`policy`], each checked to be the reason the row differs.

use crate::helpers::TestApp;
use crate::import::import;
use contactd::domain::{Phone, Region, Validation};
use contactd::pb;
use std::collections::BTreeMap;

both!(a_corpus_sample_goes_through_create_contact_and_import_as_libphonenumber_says);

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
    corpus_agrees();
}

/// An import's checking threads parse with a parser of their own (`OwnParser`, for speed
/// on two threads): held to the same corpus.
#[test]
fn a_thread_with_its_own_parser_decides_every_corpus_number_alike() {
    std::thread::spawn(|| {
        let _own = contactd::domain::phone::OwnParser::install();
        corpus_agrees();
    })
    .join()
    .expect("the corpus agrees on a thread with its own parser");
}

/// Every row of the corpus, STRICT and LENIENT, through [`Phone::parse_extended`] on the
/// calling thread.
fn corpus_agrees() {
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

/// Every `step`-th row with a default region, one row per expected number (spellings of
/// one number would be duplicates): (region, input, expected E.164 and extension if valid).
/// Rows whose extension differs only are one number too, so the first spelling wins.
/// The E.164 form and extension libphonenumber stores for a valid number.
type Stored = (String, String);

fn sample(step: usize) -> Vec<(Region, &'static str, Option<Stored>)> {
    let mut seen = std::collections::HashSet::new();
    rows()
        .into_iter()
        .step_by(step)
        .filter_map(|(region, raw, expected)| {
            let want = match expected {
                Expected::Refused => None,
                Expected::Parsed {
                    e164,
                    valid,
                    extension,
                    ..
                } => valid.then_some((e164, extension)),
            };
            // Rows refused by a written policy are the other test's business.
            let by_policy = ours(raw, region, Validation::Strict)
                .err()
                .is_some_and(|e| policy(raw, &e).is_some());
            let key = want.as_ref().map(|(e164, _)| e164.clone());
            (!by_policy && key.is_none_or(|k| seen.insert(k))).then_some((region?, raw, want))
        })
        .collect()
}

/// A sample of the corpus through CreateContact (each row with its region) and through a
/// CSV import per region: stored exactly when libphonenumber calls it valid, as its E.164
/// form and extension.
async fn a_corpus_sample_goes_through_create_contact_and_import_as_libphonenumber_says(
    app: TestApp,
) {
    let rows = sample(97);
    assert!(rows.len() > 300, "{} rows sampled", rows.len());
    let acc = app.account(pb::Plan::Professional).await;
    for (region, raw, want) in &rows {
        let got = app
            .try_contact(
                pb::ContactInput {
                    phone: raw.to_string(),
                    region: region.code().to_string(),
                    ..Default::default()
                },
                &acc,
            )
            .await;
        match (got, want) {
            (Ok(c), Some((e164, ext))) => {
                assert_eq!(
                    (&c.phone, &c.phone_extension),
                    (e164, ext),
                    "{raw:?} in {region}"
                )
            }
            (Err(e), None) => assert_eq!(e.code(), tonic::Code::InvalidArgument, "{raw:?}: {e:?}"),
            (got, want) => panic!("{raw:?} in {region}: got {got:?}, libphonenumber {want:?}"),
        }
    }
    // The same rows imported, one file per region, into a fresh account each.
    let mut by_region: BTreeMap<&str, Vec<(&str, &Option<Stored>)>> = BTreeMap::new();
    for (region, raw, want) in &rows {
        by_region
            .entry(region.code())
            .or_default()
            .push((raw, want));
    }
    for (region, rows) in by_region {
        let acc = app.account(pb::Plan::Professional).await;
        let mut file = String::from("phone\n");
        for (raw, _) in &rows {
            file += &format!("\"{}\"\n", raw.replace('"', "\"\""));
        }
        let batch = import(
            &app,
            pb::ImportOptions {
                account_id: acc.clone(),
                default_region: region.into(),
                ..Default::default()
            },
            file.as_bytes(),
        )
        .await;
        let counts = batch.counts.unwrap();
        let mut expected: Vec<Stored> = rows.iter().filter_map(|(_, w)| (*w).clone()).collect();
        expected.sort();
        let mut stored: Vec<Stored> = app
            .list_all(&acc, pb::ContactFilter::default())
            .await
            .into_iter()
            .map(|c| (c.phone, c.phone_extension))
            .collect();
        stored.sort();
        assert_eq!(stored, expected, "import under {region}");
        assert_eq!(
            counts.invalid as usize,
            rows.len() - expected.len(),
            "import under {region}"
        );
    }
}
