//! A CSV record as a row: rejected at once for its shape (ragged, oversized, a NUL, an
//! unknown country), or a draft to check with the others of its chunk.

use super::*;

/// A CSV record as a row to check, or as a row already rejected for its shape.
pub(super) fn csv_row(mapping: &Mapping, unmapped_as_custom: bool, rec: Record<'_>) -> Pending {
    let line = rec.line as i64;
    let raw: Vec<String> = rec.fields.iter().map(|f| f.to_string()).collect();
    let invalid = |column: &str, raw_value: &str, reason: String, kind| {
        Outcome::Invalid(RowError {
            column: column.to_string(),
            raw_value: raw_value.to_string(),
            reason,
            kind,
        })
    };
    let width = mapping.header().len();
    let outcome = if rec.oversized {
        invalid(
            "",
            "",
            format!(
                "the record is longer than {} KiB or has more than {MAX_FIELDS} fields \
                     (an unclosed quote?)",
                MAX_RECORD_BYTES / 1024
            ),
            Rejection::FieldTooLong,
        )
    } else if rec.fields.len() < width || rec.fields[width..].iter().any(|f| !f.trim().is_empty()) {
        invalid(
            "",
            "",
            format!("has {} fields but the header has {width}", rec.fields.len()),
            Rejection::RaggedRow,
        )
    } else if let Some(i) = rec.fields.iter().position(|f| f.contains('\0')) {
        // A NUL is never text a person typed (a binary file, or UTF-16 read as 8-bit),
        // and PostgreSQL text cannot hold it: the row is refused, its value shown safely.
        let column = mapping.header().get(i).cloned().unwrap_or_default();
        let value: String = rec.fields[i].chars().take(64).collect();
        invalid(
            &column,
            &value.replace('\0', "\u{FFFD}"),
            "contains a NUL byte (a binary file, or UTF-16 without its byte-order mark?)"
                .to_string(),
            Rejection::MalformedCsv,
        )
    } else if let Some(i) = rec.fields.iter().position(|f| f.len() > MAX_FIELD_BYTES) {
        let column = mapping.header().get(i).cloned().unwrap_or_default();
        let value: String = rec.fields[i].chars().take(64).collect();
        invalid(
            &column,
            &value,
            format!("is longer than {MAX_FIELD_BYTES} bytes"),
            Rejection::FieldTooLong,
        )
    } else if let Some(country) = mapping
        .country_cell(&rec.fields)
        .filter(|c| country::region_of(c).is_none())
    {
        let (draft, _) = mapping.draft(&rec.fields, unmapped_as_custom);
        if is_international(&draft.phone) {
            // The country only places local numbers: an international one needs none.
            return check_later(line, raw, mapping, &rec.fields, unmapped_as_custom);
        }
        let column = mapping
            .column_of("country", 0)
            .and_then(|i| mapping.header().get(i).cloned())
            .unwrap_or_default();
        invalid(
            &column,
            country,
            format!(
                "{country:?} is not a country this import knows, so the local number {:?} \
                 cannot be placed: write an ISO code (e.g. \"DE\") or the country's name, \
                 or the number as +<country code>…",
                draft.phone
            ),
            Rejection::InvalidCountry,
        )
    } else {
        return check_later(line, raw, mapping, &rec.fields, unmapped_as_custom);
    };
    Pending::Ready(Row {
        line,
        raw,
        outcome,
        region: None,
        consent: None,
    })
}

/// A row whose shape is right, to be checked with the others of its chunk.
pub(super) fn check_later(
    line: i64,
    raw: Vec<String>,
    mapping: &Mapping,
    fields: &[&str],
    unmapped_as_custom: bool,
) -> Pending {
    let consent = match mapping.consent(fields) {
        Ok(consent) => consent,
        Err(e) => {
            let column = mapping.header()[e.column].clone();
            let raw_value = raw.get(e.column).cloned().unwrap_or_default();
            return Pending::Ready(Row {
                line,
                outcome: Outcome::Invalid(RowError {
                    reason: format!("{column}: {}", e.reason),
                    column,
                    raw_value,
                    kind: Rejection::InvalidField,
                }),
                raw,
                region: None,
                consent: None,
            });
        }
    };
    let (draft, phone_col) = mapping.draft(fields, unmapped_as_custom);
    Pending::Check {
        line,
        raw,
        draft,
        phone_col: Some(phone_col),
        consent,
    }
}
