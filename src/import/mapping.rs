//! Which column fills which contact field: auto-detected from the header, overridden
//! by an explicit mapping.
//!
//! Detection looks headers up in [`synonyms`](super::synonyms) (seven languages and the
//! exports of the common CRMs and address books). Every phone-like column maps to the
//! phone, best first (mobile, then phone, then business, home, …): a row takes the first
//! one that is not empty. Other fields take the best matching column only. A full name
//! is split into first and last only when the file has no first/last name columns; a
//! middle-name column is kept with the first name. A country column gives the region
//! of the row's local number ([`country`](super::country)).
//!
//! Here: the fields and how a header resolves to a [`Mapping`]; reading a record's
//! cells through it (draft, consent, country) is in `cells`.

use crate::domain::ContactDraft;
use crate::domain::consent::{ConsentKind, NewConsent, parse_time};
use crate::error::{Error, Result};
use crate::export::undo_neutralization;
use serde::{Deserialize, Serialize};

mod cells;

pub use cells::ConsentError;

/// A contact field a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Phone,
    FirstName,
    LastName,
    FullName,
    Email,
    Company,
    Title,
    TimeZone,
    /// The country of the row's local phone number (ISO code or name).
    Country,
    /// Middle names or initials: kept with the first name.
    MiddleName,
    /// The phone's extension (digits sent after connect).
    PhoneExtension,
    Custom,
    Ignore,
    /// The kind of the row's consent (`express`, `express_written`, `none`): a row with
    /// one gets a consent record. Consent fields are mapped only explicitly, never
    /// detected from a header (an export's consent columns re-imported record nothing).
    ConsentKind,
    /// The consent's channel (free text).
    ConsentChannel,
    /// Where the consent was captured (free text).
    ConsentSource,
    /// When the consent was captured (RFC 3339 or a date); empty: the import's time.
    ConsentCapturedAt,
    /// When the consent expires (RFC 3339 or a date); empty: never.
    ConsentExpiresAt,
}

impl Field {
    /// Whether the field belongs to the row's consent rather than to the contact.
    pub fn is_consent(self) -> bool {
        matches!(
            self,
            Field::ConsentKind
                | Field::ConsentChannel
                | Field::ConsentSource
                | Field::ConsentCapturedAt
                | Field::ConsentExpiresAt
        )
    }

    /// The name of a consent field as written in a mapping (`consent_kind` …).
    pub fn consent_name(self) -> &'static str {
        match self {
            Field::ConsentKind => "consent_kind",
            Field::ConsentChannel => "consent_channel",
            Field::ConsentSource => "consent_source",
            Field::ConsentCapturedAt => "consent_captured_at",
            Field::ConsentExpiresAt => "consent_expires_at",
            _ => "",
        }
    }
}

/// One column's mapping, as requested or as used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    /// The header as written in the file.
    pub column: String,
    pub field: Field,
    /// With [`Field::Custom`]: the custom field's key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub custom_name: String,
}

impl ColumnMap {
    /// The JSON kept on the batch.
    pub fn encode_list(list: &[ColumnMap]) -> String {
        serde_json::to_string(list).expect("mappings serialize")
    }

    /// Reads [`encode_list`](Self::encode_list)'s JSON back (empty on garbage).
    pub fn decode_list(json: &str) -> Vec<ColumnMap> {
        serde_json::from_str(json).unwrap_or_default()
    }
}

use super::country;
pub use super::synonyms::normalize;
use super::synonyms::{Sense, detect};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Field(Field),
    Custom(String),
    Unmapped,
}

/// The mapping of one file's columns.
#[derive(Debug, Clone)]
pub struct Mapping {
    header: Vec<String>,
    targets: Vec<Target>,
    /// Phone columns, best first.
    phones: Vec<usize>,
    /// Email columns, best first (Outlook, vCard converters and Pipedrive have several):
    /// a row takes the first that is not empty.
    emails: Vec<usize>,
    /// The country column, if any.
    country: Option<usize>,
}

impl Mapping {
    /// Resolves `explicit` against `header` and auto-detects the other columns.
    /// INVALID_ARGUMENT for a mapping naming a missing column, or when no column holds
    /// the phone number.
    pub fn resolve(header: Vec<String>, explicit: &[ColumnMap]) -> Result<Mapping> {
        let mut targets = vec![None::<Target>; header.len()];
        let mut phone_rank: Vec<(u8, usize)> = Vec::new();
        let mut email_rank: Vec<(u8, usize)> = Vec::new();
        let mut explicit_fields = Vec::new();
        for (i, m) in explicit.iter().enumerate() {
            let idx = header
                .iter()
                .position(|h| h == &m.column)
                .or_else(|| {
                    let n = normalize(&m.column);
                    header.iter().position(|h| normalize(h) == n)
                })
                .ok_or_else(|| {
                    Error::invalid(
                        format!("options.mapping[{i}].column"),
                        format!(
                            "the file has no column {:?} (its columns: {})",
                            m.column,
                            header.join(", ")
                        ),
                    )
                })?;
            targets[idx] = Some(match m.field {
                Field::Custom => Target::Custom(m.custom_name.clone()),
                f => {
                    explicit_fields.push(f);
                    match f {
                        Field::Phone => phone_rank.push((0, idx)),
                        Field::Email => email_rank.push((0, idx)),
                        _ => {}
                    }
                    Target::Field(f)
                }
            });
        }
        // Auto-detection for the rest: best rank per meaning, leftmost on ties.
        let mut best: Vec<(Sense, u8, usize)> = Vec::new();
        for (idx, h) in header.iter().enumerate() {
            if targets[idx].is_some() {
                continue;
            }
            // ExportContacts writes custom fields as `custom.<key>`: read them back as such.
            if let Some(key) = h.strip_prefix("custom.").filter(|k| !k.trim().is_empty()) {
                targets[idx] = Some(Target::Custom(key.trim().to_string()));
                continue;
            }
            let Some((sense, rank)) = detect(h) else {
                continue;
            };
            if let Sense::Field(field) = sense {
                if explicit_fields.contains(&field) {
                    continue;
                }
                let ranked = match field {
                    Field::Phone => Some(&mut phone_rank),
                    Field::Email => Some(&mut email_rank),
                    _ => None,
                };
                if let Some(ranked) = ranked {
                    ranked.push((rank + 1, idx));
                    targets[idx] = Some(Target::Field(field));
                    continue;
                }
            }
            match best.iter_mut().find(|(s, _, _)| *s == sense) {
                Some(b) if rank < b.1 => *b = (sense, rank, idx),
                Some(_) => {}
                None => best.push((sense, rank, idx)),
            }
        }
        let mut chosen: Vec<(Field, usize)> = best
            .iter()
            .filter_map(|(s, _, idx)| match s {
                Sense::Field(f) => Some((*f, *idx)),
                _ => None,
            })
            .collect();
        // Names whose meaning depends on the other columns, settled in this order.
        for sense in [Sense::GivenOrFull, Sense::NameOrLast] {
            let Some(&(_, _, idx)) = best.iter().find(|(s, _, _)| *s == sense) else {
                continue;
            };
            let has =
                |f: Field| chosen.iter().any(|(c, _)| *c == f) || explicit_fields.contains(&f);
            let (first, last) = (has(Field::FirstName), has(Field::LastName));
            let field = match sense {
                Sense::GivenOrFull if last && !first => Some(Field::FirstName),
                Sense::NameOrLast if first && !last => Some(Field::LastName),
                _ if !first && !last && !has(Field::FullName) => Some(Field::FullName),
                _ => None,
            };
            if let Some(f) = field {
                chosen.push((f, idx));
            }
        }
        let has_split_name = chosen
            .iter()
            .any(|(f, _)| matches!(f, Field::FirstName | Field::LastName))
            || explicit_fields
                .iter()
                .any(|f| matches!(f, Field::FirstName | Field::LastName));
        for (field, idx) in chosen {
            if field == Field::FullName && has_split_name {
                continue;
            }
            targets[idx] = Some(Target::Field(field));
        }
        if explicit_fields.iter().any(|f| f.is_consent())
            && !explicit_fields.contains(&Field::ConsentKind)
        {
            return Err(Error::invalid(
                "options.mapping",
                "maps consent columns but no consent_kind column: a row's consent needs \
                 its kind",
            ));
        }
        phone_rank.sort();
        email_rank.sort();
        let phones: Vec<usize> = phone_rank.into_iter().map(|(_, i)| i).collect();
        if phones.is_empty() {
            return Err(Error::invalid(
                "options.mapping",
                format!(
                    "no column holds the phone number (columns: {}); map one explicitly, \
                     e.g. --map phone=<column>",
                    header.join(", ")
                ),
            ));
        }
        let targets: Vec<Target> = targets
            .into_iter()
            .map(|t| t.unwrap_or(Target::Unmapped))
            .collect();
        Ok(Mapping {
            country: targets
                .iter()
                .position(|t| *t == Target::Field(Field::Country)),
            targets,
            header,
            phones,
            emails: email_rank.into_iter().map(|(_, i)| i).collect(),
        })
    }

    /// The header.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The mapping used, for every mapped column in file order.
    pub fn used(&self) -> Vec<ColumnMap> {
        self.header
            .iter()
            .zip(&self.targets)
            .filter_map(|(h, t)| {
                let (field, custom_name) = match t {
                    Target::Field(f) => (*f, String::new()),
                    Target::Custom(name) => (Field::Custom, name.clone()),
                    Target::Unmapped => return None,
                };
                Some(ColumnMap {
                    column: h.clone(),
                    field,
                    custom_name,
                })
            })
            .collect()
    }

    /// Columns that map to nothing.
    pub fn unmapped(&self) -> Vec<String> {
        self.header
            .iter()
            .zip(&self.targets)
            .filter(|(_, t)| **t == Target::Unmapped)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// The column a checked field's value came from (`phone`, `email`, `custom_fields.K` …).
    pub fn column_of(&self, field: &str, phone_col: usize) -> Option<usize> {
        let want = match field {
            "phone" => return Some(phone_col),
            "first_name" | "last_name" => {
                let f = if field == "first_name" {
                    Field::FirstName
                } else {
                    Field::LastName
                };
                return self
                    .position(&Target::Field(f))
                    .or_else(|| self.position(&Target::Field(Field::FullName)));
            }
            "email" => Field::Email,
            "company" => Field::Company,
            "title" => Field::Title,
            "time_zone" => Field::TimeZone,
            "country" => Field::Country,
            "phone_extension" => Field::PhoneExtension,
            other => {
                let key = other.strip_prefix("custom_fields.")?;
                return self
                    .position(&Target::Custom(key.to_string()))
                    .or_else(|| self.header.iter().position(|h| h.trim() == key));
            }
        };
        self.position(&Target::Field(want))
    }

    fn position(&self, target: &Target) -> Option<usize> {
        self.targets.iter().position(|t| t == target)
    }
}

/// Splits a full name the way people read one: "Ida B. Wells" → (Ida B., Wells): the
/// last word is the family name, every word before it the given name (middle names and
/// initials stay with it); "Wells, Ida B." → (Ida B., Wells); one word is a given name.
pub fn split_name(full: &str) -> (String, String) {
    let full = full.trim();
    if let Some((last, first)) = full.split_once(',') {
        return (first.trim().to_string(), last.trim().to_string());
    }
    match full.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (first.trim().to_string(), last.to_string()),
        None => (full.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    fn field_of(m: &Mapping, column: &str) -> Option<Field> {
        m.used()
            .into_iter()
            .find(|c| c.column == column)
            .map(|c| c.field)
    }

    #[test]
    fn outlook_prefers_job_title_and_mobile_first() {
        let m = Mapping::resolve(
            header(&[
                "Title",
                "First Name",
                "Last Name",
                "Company",
                "Job Title",
                "Business Phone",
                "Mobile Phone",
                "E-mail Address",
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(field_of(&m, "Job Title"), Some(Field::Title));
        assert_eq!(field_of(&m, "Title"), None);
        assert_eq!(field_of(&m, "E-mail Address"), Some(Field::Email));
        let (d, col) = m.draft(
            &[
                "Mr.",
                "Ann",
                "Lee",
                "Acme",
                "CTO",
                "+1 415 555 2671",
                "",
                "a@b.co",
            ],
            false,
        );
        assert_eq!(col, 5, "business phone used when mobile is empty");
        assert_eq!(d.title, "CTO");
        let (_, col) = m.draft(&["", "", "", "", "", "1", "2", ""], false);
        assert_eq!(col, 6, "mobile first");
    }

    #[test]
    fn google_and_hubspot_headers_are_recognized() {
        let m = Mapping::resolve(
            header(&[
                "Name",
                "Given Name",
                "Family Name",
                "E-mail 1 - Value",
                "Phone 1 - Type",
                "Phone 1 - Value",
                "Organization 1 - Name",
                "Organization 1 - Title",
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(field_of(&m, "Phone 1 - Value"), Some(Field::Phone));
        assert_eq!(field_of(&m, "Phone 1 - Type"), None);
        assert_eq!(field_of(&m, "Name"), None, "split names win over Name");
        assert_eq!(field_of(&m, "Organization 1 - Title"), Some(Field::Title));
        let m = Mapping::resolve(
            header(&["Record ID", "Email", "Phone Number", "Company Name", "Name"]),
            &[],
        )
        .unwrap();
        assert_eq!(m.unmapped(), ["Record ID"]);
        let (d, _) = m.draft(&["1", "", "+1", "", "Ann Lee"], false);
        assert_eq!(
            (d.first_name.as_str(), d.last_name.as_str()),
            ("Ann", "Lee")
        );
    }

    #[test]
    fn the_quote_an_export_adds_is_taken_off_every_cell() {
        let m =
            Mapping::resolve(header(&["phone", "first_name", "company", "Notes"]), &[]).unwrap();
        let (d, _) = m.draft(&["+14155552671", " '=SUM(A1) ", "''@corp", "'-1"], true);
        assert_eq!(d.first_name, "=SUM(A1)");
        assert_eq!(d.company, "'@corp");
        assert_eq!(d.custom_fields["Notes"], "-1");
        let (d, _) = m.draft(&["+14155552671", "'tis", "O'Brien", "'"], true);
        assert_eq!(
            (d.first_name.as_str(), d.company.as_str()),
            ("'tis", "O'Brien")
        );
        assert_eq!(d.custom_fields["Notes"], "'");
    }

    #[test]
    fn an_explicit_mapping_wins_and_a_missing_phone_is_refused() {
        let explicit = [ColumnMap {
            column: "Digits".into(),
            field: Field::Phone,
            custom_name: String::new(),
        }];
        let m = Mapping::resolve(header(&["Phone", "Digits"]), &explicit).unwrap();
        let (d, _) = m.draft(&["1", "2"], false);
        assert_eq!(d.phone, "2");
        let err = Mapping::resolve(header(&["Name", "Email"]), &[]).unwrap_err();
        assert!(err.to_string().contains("phone"), "{err}");
        assert!(Mapping::resolve(header(&["Phone"]), &explicit).is_err());
    }
}
