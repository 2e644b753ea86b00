//! What to do about rejected rows: the rows of an import or preview grouped by kind of
//! reason, each group with its count, what is wrong and the flag or fix that helps.
//!
//! An invalid phone is told apart here, with the same phone parser the server uses:
//! a number LENIENT validation accepts (the fictional `555-01xx` kind) wants
//! `--lenient`; a local number that is no number of the import's region is probably from
//! another country and wants a country column or `--region`.

use crate::domain::{Phone, Region, Validation};
use crate::import::Rejection;
use crate::pb;

/// One kind of reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub rows: usize,
    pub what: String,
    pub fix: String,
    pub example_line: i64,
    pub example: String,
}

/// Groups `errors` by kind of reason, most rows first. `region` is the region local
/// numbers were read in when a row had no country; `has_country` says the file has a
/// country column; `columns` are the file's columns.
pub fn group(
    errors: &[pb::ImportError],
    region: Option<&str>,
    has_country: bool,
    columns: &[String],
) -> Vec<Advice> {
    let parsed_region = region.and_then(|r| Region::parse(r).ok());
    let mut out: Vec<Advice> = Vec::new();
    for e in errors {
        let (what, fix) = explain(e, parsed_region, has_country, columns);
        match out.iter_mut().find(|a| a.what == what) {
            Some(a) => a.rows += 1,
            None => out.push(Advice {
                rows: 1,
                what,
                fix,
                example_line: e.line,
                example: e.reason.clone(),
            }),
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.rows));
    out
}

fn explain(
    e: &pb::ImportError,
    region: Option<Region>,
    has_country: bool,
    columns: &[String],
) -> (String, String) {
    let region_name = region.map_or("no region".to_string(), |r| r.code().to_string());
    let s = |a: &str, b: String| (a.to_string(), b);
    let Some(kind) = Rejection::parse(&e.kind) else {
        return (e.reason.clone(), "fix the field named in the reason".into());
    };
    match kind {
        Rejection::InvalidPhone => {
            let raw = e.raw_value.trim();
            let local = !raw.starts_with('+') && !raw.starts_with("00");
            if Phone::parse(raw, region, Validation::Lenient).is_ok() {
                s(
                    "numbers in no assigned range (such as the fictional +1 555 01xx)",
                    "--lenient imports numbers of a possible length".into(),
                )
            } else if local {
                let country = if has_country {
                    "check the row's country"
                } else {
                    "add a country column (or --map country=COLUMN)"
                };
                s(
                    "local numbers that are not numbers of their region",
                    format!(
                        "read as {region_name} numbers; if they are from another country, \
                         {country}, or give --region for the whole file"
                    ),
                )
            } else {
                s(
                    "not a phone number of any country",
                    "fix the number in the file (+<country code> and the number)".into(),
                )
            }
        }
        Rejection::MissingPhone => s(
            "rows without a phone number",
            format!(
                "if another column holds it, --map phone=COLUMN (the file's columns: {})",
                columns.join(", ")
            ),
        ),
        Rejection::InvalidEmail => s(
            "email addresses that are not valid",
            "fix or empty the address in the file".into(),
        ),
        Rejection::InvalidCountry => s(
            "countries the import does not know",
            "write the ISO code (e.g. DE) or the country's name in English or its own language"
                .into(),
        ),
        Rejection::RaggedRow => s(
            "rows with more or fewer fields than the header",
            "check quotes and the delimiter (--delimiter)".into(),
        ),
        Rejection::FieldTooLong => s(
            "fields too long (an unclosed quote?)",
            "check the quotes around the field".into(),
        ),
        Rejection::MalformedCsv => s(
            "binary data in a field",
            "save the file again as CSV (UTF-8) from its spreadsheet".into(),
        ),
        Rejection::OverLimit => s(
            "rows past the account's plan limit",
            "raise the plan's limit or delete contacts, then import the rejected rows".into(),
        ),
        Rejection::InvalidField => (e.reason.clone(), "fix the field named in the reason".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: i64, kind: &str, raw: &str) -> pb::ImportError {
        pb::ImportError {
            line,
            column: "phone".into(),
            raw_value: raw.into(),
            reason: format!("reason {line}"),
            kind: kind.into(),
        }
    }

    #[test]
    fn invalid_phones_are_told_apart_by_what_helps() {
        let errors = [
            error(2, "invalid_phone", "+15551234567"),
            error(3, "invalid_phone", "+15559876543"),
            error(4, "invalid_phone", "0151 23456789"),
            error(5, "invalid_phone", "+1 555"),
            error(6, "over_limit", ""),
        ];
        let got = group(&errors, Some("US"), false, &[]);
        assert_eq!(got[0].rows, 2);
        assert!(got[0].fix.contains("--lenient"), "{got:?}");
        assert_eq!(got[0].example_line, 2);
        assert!(got[1].fix.contains("country column"), "{got:?}");
        assert!(got[1].fix.contains("--region"), "{got:?}");
        assert!(got[2].what.contains("any country"), "{got:?}");
        assert!(got[3].what.contains("plan limit"), "{got:?}");
    }
}
