//! A contact's fields as a client gives them ([`ContactDraft`]) and as checked
//! ([`NewContact`]): phone normalized, email validated, lengths capped, time zone known.

use super::call::CallOutcome;
use super::dnc::DncSource;
use super::phone::check_extension;
use super::{ContactStatus, Email, Phone, Region, Validation};
use crate::error::Violation;
use std::collections::BTreeMap;

/// Longest accepted name, company, title (characters).
pub const MAX_TEXT: usize = 256;
/// Most custom fields on one contact.
pub const MAX_CUSTOM_FIELDS: usize = 50;
/// Longest custom field key.
pub const MAX_CUSTOM_KEY: usize = 64;
/// Longest custom field value.
pub const MAX_CUSTOM_VALUE: usize = 2048;

/// Unchecked fields of a contact, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactDraft {
    pub phone: String,
    /// The extension given on its own ("" for none; one written in `phone` also counts).
    pub phone_extension: String,
    /// Region for a local-format phone (already parsed; falls back to the account's).
    pub region: Option<Region>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: String,
    pub title: String,
    pub custom_fields: BTreeMap<String, String>,
    pub time_zone: String,
}

/// Checked fields of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub phone: Phone,
    /// Digits the dialer sends after connect ("" for none).
    pub phone_extension: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<Email>,
    pub company: String,
    pub title: String,
    pub custom_fields: BTreeMap<String, String>,
    pub time_zone: String,
}

/// A stored contact, as the services and the API see it (how it is stored — name keys,
/// custom fields as JSON text, status values — is `store::contacts`' business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub account_id: String,
    /// E.164.
    pub phone: String,
    pub phone_national: String,
    /// Digits sent after connect ("" for none).
    pub phone_extension: String,
    pub first_name: String,
    pub last_name: String,
    /// "" for none.
    pub email: String,
    pub company: String,
    pub title: String,
    pub custom_fields: BTreeMap<String, String>,
    pub time_zone: String,
    pub status: ContactStatus,
    /// How the number came onto the DNC list (while the contact is DNC).
    pub dnc_source: Option<DncSource>,
    pub dnc_at: Option<i64>,
    pub call_count: i64,
    pub last_called_at: Option<i64>,
    /// The outcome of the latest call, if any.
    pub last_outcome: Option<CallOutcome>,
    pub total_talk_seconds: i64,
    pub import_batch_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Checks a phone (used by create, update, import and DNC by number).
pub fn check_phone(
    raw: &str,
    region: Option<Region>,
    mode: Validation,
    field: &str,
) -> Result<Phone, Violation> {
    if raw.trim().is_empty() {
        return Err(Violation::new(field, "is required"));
    }
    Phone::parse(raw, region, mode).map_err(|e| Violation::new(field, e.0))
}

/// Checks a phone that may carry an extension (`… ext. 22`), and the extension given on
/// its own (`extension_field`, may be ""): one extension comes out, or a violation when
/// both are given and differ.
pub fn check_phone_with_extension(
    raw: &str,
    extension: &str,
    region: Option<Region>,
    mode: Validation,
    (field, extension_field): (&str, &str),
) -> Result<(Phone, String), Violation> {
    if raw.trim().is_empty() {
        return Err(Violation::new(field, "is required"));
    }
    let (phone, written) =
        Phone::parse_extended(raw, region, mode).map_err(|e| Violation::new(field, e.0))?;
    let given = check_extension(extension).map_err(|e| Violation::new(extension_field, e.0))?;
    match (written.is_empty(), given.is_empty()) {
        (_, true) => Ok((phone, written)),
        (true, false) => Ok((phone, given)),
        (false, false) if written == given => Ok((phone, given)),
        (false, false) => Err(Violation::new(
            extension_field,
            format!("is {given:?} but the phone number says extension {written:?}"),
        )),
    }
}

fn check_text(field: &str, value: &str, violations: &mut Vec<Violation>) -> String {
    let v = value.trim();
    if v.chars().count() > MAX_TEXT {
        violations.push(Violation::new(
            field,
            format!("is longer than {MAX_TEXT} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        violations.push(Violation::new(field, "contains control characters"));
    }
    v.to_string()
}

/// Checks a time zone name; empty is allowed (derived from the number).
pub fn check_time_zone(field: &str, tz: &str) -> Result<String, Violation> {
    let tz = tz.trim();
    if tz.is_empty() || super::timezone::parse_iana(tz).is_some() {
        return Ok(tz.to_string());
    }
    let hint = match super::timezone::suggest(tz) {
        Some(zone) => format!(
            "{tz:?} is an abbreviation or fixed offset, not a place's time zone (it ignores \
             daylight saving time); give an IANA name such as {zone:?}"
        ),
        None => format!("{tz:?} is not an IANA time zone (e.g. \"America/Chicago\")"),
    };
    Err(Violation::new(field, hint))
}

/// Checks the custom fields map.
pub fn check_custom_fields(
    field: &str,
    fields: &BTreeMap<String, String>,
    violations: &mut Vec<Violation>,
) -> BTreeMap<String, String> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        violations.push(Violation::new(
            field,
            format!("has more than {MAX_CUSTOM_FIELDS} entries"),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        let key = k.trim();
        if key.is_empty() || key.chars().count() > MAX_CUSTOM_KEY {
            violations.push(Violation::new(
                format!("{field}.{k}"),
                format!("a key must have 1 to {MAX_CUSTOM_KEY} characters"),
            ));
        } else if v.chars().count() > MAX_CUSTOM_VALUE {
            violations.push(Violation::new(
                format!("{field}.{k}"),
                format!("is longer than {MAX_CUSTOM_VALUE} characters"),
            ));
        } else {
            out.insert(key.to_string(), v.trim().to_string());
        }
    }
    out
}

impl ContactDraft {
    /// Checks every field, collecting all violations; `prefix` is the field path of the
    /// draft in the request (e.g. `contact`).
    pub fn check(
        &self,
        prefix: &str,
        default_region: Option<Region>,
        mode: Validation,
    ) -> Result<NewContact, Vec<Violation>> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut violations = Vec::new();
        let phone = check_phone_with_extension(
            &self.phone,
            &self.phone_extension,
            self.region.or(default_region),
            mode,
            (&f("phone"), &f("phone_extension")),
        )
        .map_err(|v| violations.push(v))
        .ok();
        let first_name = check_text(&f("first_name"), &self.first_name, &mut violations);
        let last_name = check_text(&f("last_name"), &self.last_name, &mut violations);
        let company = check_text(&f("company"), &self.company, &mut violations);
        let title = check_text(&f("title"), &self.title, &mut violations);
        let email = if self.email.trim().is_empty() {
            None
        } else {
            Email::parse(&self.email)
                .map_err(|reason| violations.push(Violation::new(f("email"), reason)))
                .ok()
        };
        let custom_fields =
            check_custom_fields(&f("custom_fields"), &self.custom_fields, &mut violations);
        let time_zone = check_time_zone(&f("time_zone"), &self.time_zone)
            .map_err(|v| violations.push(v))
            .unwrap_or_default();
        match phone {
            Some((phone, phone_extension)) if violations.is_empty() => Ok(NewContact {
                phone,
                phone_extension,
                first_name,
                last_name,
                email,
                company,
                title,
                custom_fields,
                time_zone,
            }),
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(phone: &str) -> ContactDraft {
        ContactDraft {
            phone: phone.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_phone_is_named() {
        let errs = draft("")
            .check("contact", None, Validation::Strict)
            .unwrap_err();
        assert_eq!(errs[0].field, "contact.phone");
        assert_eq!(errs[0].reason, "is required");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut d = draft("+14155552671");
        d.email = "nope".into();
        d.time_zone = "Mars/Olympus".into();
        let errs = d.check("contact", None, Validation::Strict).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["contact.email", "contact.time_zone"]);
    }

    #[test]
    fn an_extension_comes_from_the_phone_or_its_own_field_and_they_must_agree() {
        let ext = |phone: &str, extension: &str| {
            let mut d = draft(phone);
            d.phone_extension = extension.into();
            d.check("contact", None, Validation::Strict)
                .map(|c| c.phone_extension)
                .map_err(|v| v[0].field.clone())
        };
        assert_eq!(ext("+1 212 736 5000 x22", ""), Ok("22".into()));
        assert_eq!(ext("+1 212 736 5000", "22"), Ok("22".into()));
        assert_eq!(ext("+1 212 736 5000 x22", "22"), Ok("22".into()));
        assert_eq!(ext("+1 212 736 5000", ""), Ok("".into()));
        assert_eq!(
            ext("+1 212 736 5000 x22", "23"),
            Err("contact.phone_extension".into())
        );
        assert_eq!(
            ext("+1 212 736 5000", "2a"),
            Err("contact.phone_extension".into())
        );
    }

    #[test]
    fn the_account_region_applies_to_local_numbers() {
        let us = Region::parse("US").unwrap();
        let c = draft("(415) 555-2671")
            .check("contact", Some(us), Validation::Strict)
            .unwrap();
        assert_eq!(c.phone.e164(), "+14155552671");
    }
}
