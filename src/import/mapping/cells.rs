//! Reading a record's cells through a [`Mapping`]: the contact draft, the consent a row
//! gives, its country cell.

use super::*;

/// Longest consent channel an import accepts (characters), as RecordConsent.
const MAX_CONSENT_CHANNEL: usize = 256;
/// Longest consent source an import accepts (characters), as RecordConsent.
const MAX_CONSENT_SOURCE: usize = 2048;

/// Why a row's consent cells are refused: the column (index) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentError {
    pub column: usize,
    pub reason: String,
}

impl Mapping {
    /// The draft of one record (fields in header order), and the phone column used. Each
    /// cell is trimmed and loses the single quote an export adds against formula injection
    /// ([`undo_neutralization`]), so an export imports back as the same values.
    pub fn draft(&self, fields: &[&str], unmapped_as_custom: bool) -> (ContactDraft, usize) {
        let get = |i: usize| {
            fields
                .get(i)
                .map(|s| undo_neutralization(s.trim()))
                .unwrap_or("")
        };
        let phone_col = self
            .phones
            .iter()
            .copied()
            .find(|&i| !get(i).is_empty())
            .unwrap_or(self.phones[0]);
        let mut d = ContactDraft {
            phone: get(phone_col).to_string(),
            email: self
                .emails
                .iter()
                .map(|&i| get(i))
                .find(|v| !v.is_empty())
                .unwrap_or("")
                .to_string(),
            ..Default::default()
        };
        let (mut full_name, mut middle) = ("", "");
        for (i, t) in self.targets.iter().enumerate() {
            let v = get(i);
            if v.is_empty() {
                continue;
            }
            match t {
                Target::Field(Field::FirstName) => d.first_name = v.to_string(),
                Target::Field(Field::LastName) => d.last_name = v.to_string(),
                Target::Field(Field::FullName) => full_name = v,
                Target::Field(Field::MiddleName) => middle = v,
                Target::Field(Field::Country) => d.region = country::region_of(v),
                // The best email column that is not empty, below.
                Target::Field(Field::Email) => {}
                Target::Field(Field::Company) => d.company = v.to_string(),
                Target::Field(Field::Title) => d.title = v.to_string(),
                Target::Field(Field::TimeZone) => d.time_zone = v.to_string(),
                Target::Field(Field::PhoneExtension) => d.phone_extension = v.to_string(),
                Target::Custom(name) => {
                    d.custom_fields.insert(name.clone(), v.to_string());
                }
                Target::Unmapped if unmapped_as_custom && !self.header[i].trim().is_empty() => {
                    d.custom_fields
                        .insert(self.header[i].trim().to_string(), v.to_string());
                }
                _ => {}
            }
        }
        if !full_name.is_empty() && d.first_name.is_empty() && d.last_name.is_empty() {
            let (first, last) = split_name(full_name);
            d.first_name = first;
            d.last_name = last;
        }
        if !middle.is_empty() {
            d.first_name = if d.first_name.is_empty() {
                middle.to_string()
            } else {
                format!("{} {middle}", d.first_name)
            };
        }
        (d, phone_col)
    }

    /// The consent a row gives in its consent columns: `None` when the file maps no
    /// consent_kind column or the row's cell is empty (then its other consent cells must
    /// be empty too).
    pub fn consent(&self, fields: &[&str]) -> Result<Option<NewConsent>, ConsentError> {
        let cell = |f: Field| {
            self.position(&Target::Field(f)).map(|i| {
                let v = fields.get(i).map(|s| undo_neutralization(s.trim()));
                (i, v.unwrap_or(""))
            })
        };
        let Some((kind_col, kind)) = cell(Field::ConsentKind) else {
            return Ok(None);
        };
        let others = [
            Field::ConsentChannel,
            Field::ConsentSource,
            Field::ConsentCapturedAt,
            Field::ConsentExpiresAt,
        ];
        if kind.is_empty() {
            return match others
                .into_iter()
                .find_map(|f| cell(f).filter(|(_, v)| !v.is_empty()))
            {
                Some((column, _)) => Err(ConsentError {
                    column,
                    reason: "is given but the row's consent_kind is empty".to_string(),
                }),
                None => Ok(None),
            };
        }
        let kind = ConsentKind::parse(kind).ok_or_else(|| ConsentError {
            column: kind_col,
            reason: format!(
                "{kind:?} is not a consent kind: write express, express_written or none"
            ),
        })?;
        let text = |f: Field, max: usize| match cell(f) {
            Some((column, v)) if v.chars().count() > max => Err(ConsentError {
                column,
                reason: format!("is longer than {max} characters"),
            }),
            Some((_, v)) => Ok(v.to_string()),
            None => Ok(String::new()),
        };
        let time = |f: Field| match cell(f) {
            Some((_, "")) | None => Ok(None),
            Some((column, v)) => parse_time(v).map(Some).ok_or_else(|| ConsentError {
                column,
                reason: format!(
                    "{v:?} is not a time: write RFC 3339 (2026-03-02T15:00:00Z) or a date \
                     (2026-03-02)"
                ),
            }),
        };
        let captured_at = time(Field::ConsentCapturedAt)?;
        let expires_at = time(Field::ConsentExpiresAt)?;
        if let (Some(c), Some(e)) = (captured_at, expires_at)
            && e <= c
        {
            return Err(ConsentError {
                column: cell(Field::ConsentExpiresAt).map_or(0, |(i, _)| i),
                reason: "is not after the consent's capture time".to_string(),
            });
        }
        Ok(Some(NewConsent {
            kind,
            channel: text(Field::ConsentChannel, MAX_CONSENT_CHANNEL)?,
            source: text(Field::ConsentSource, MAX_CONSENT_SOURCE)?,
            captured_at,
            expires_at,
        }))
    }

    /// The row's country cell, when the file has a country column and the cell is not
    /// empty (whether or not it names a known country).
    pub fn country_cell<'a>(&self, fields: &[&'a str]) -> Option<&'a str> {
        let v = undo_neutralization(fields.get(self.country?)?.trim());
        (!v.is_empty()).then_some(v)
    }
}
