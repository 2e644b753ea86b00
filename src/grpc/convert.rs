//! Conversions between protobuf messages and domain values. Parsing a request field
//! into a domain value happens here, once, with the field's path in every error.

use crate::domain::batch::ImportStatus;
use crate::domain::call::{CallDirection, CallOutcome, Sentiment};
use crate::domain::dnc::DncSource;
use crate::domain::filter::{ContactFilter, ContactStatus, SearchQuery, Selection};
use crate::domain::{Contact, ContactDraft, Region};
use crate::error::{Error, Result};
use crate::pb;
use crate::service::bulk::BulkCounts;
use crate::service::contacts::ContactView;
use prost_types::Timestamp;

/// Most ids accepted in one explicit selection.
pub const MAX_SELECTION_IDS: usize = 10_000;

/// Unix milliseconds to a protobuf timestamp.
pub fn ts(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// An optional Unix-ms time to an optional timestamp.
pub fn opt_ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(ts)
}

/// A protobuf timestamp to Unix milliseconds.
pub fn ms(t: &Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

/// A request's timestamp to Unix milliseconds, checked: the protobuf range (years 1
/// to 9999, nanos below a second), else INVALID_ARGUMENT naming `field`.
pub fn timestamp(field: &str, t: &Timestamp) -> Result<i64> {
    const MIN_SECONDS: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX_SECONDS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&t.seconds) || !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Error::invalid(
            field,
            "is not a valid timestamp (years 1 to 9999, nanos 0 to 999999999)",
        ));
    }
    Ok(ms(t))
}

/// A required, non-empty account id.
pub fn account_id(id: &str) -> Result<&str> {
    let id = id.trim();
    if id.is_empty() {
        return Err(Error::invalid("account_id", "is required"));
    }
    if id.len() > 128 {
        return Err(Error::invalid(
            "account_id",
            "is longer than 128 characters",
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::invalid("account_id", "contains control characters"));
    }
    Ok(id)
}

/// A short single-line text (names, labels, ids): trimmed, at most `max` characters, no
/// control characters (PostgreSQL cannot even store a NUL).
pub fn short_text(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(v.to_string())
}

/// Free text (reasons, transcripts, URLs, ids of other services): trimmed, at most `max`
/// bytes, and no NUL, which PostgreSQL cannot store (any other character is kept).
pub fn free_text(field: &str, value: &str, max: usize) -> Result<String> {
    if value.len() > max {
        return Err(Error::invalid(field, format!("is longer than {max} bytes")));
    }
    if value.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(value.trim().to_string())
}

/// A page size as requested: 0 means the default, larger than the cap means the cap,
/// and a negative size is refused (it was once silently the default).
pub fn page_size(value: i32) -> Result<i32> {
    if value < 0 {
        return Err(Error::invalid(
            "page_size",
            format!("must not be negative (0 = the default), got {value}"),
        ));
    }
    Ok(value)
}

/// An enum field's value: 0 (unset) is `None`; a number the enum does not define is
/// refused as unknown, never reported as missing.
pub fn known_enum<E: TryFrom<i32>>(field: &str, value: i32) -> Result<Option<E>> {
    if value == 0 {
        return Ok(None);
    }
    E::try_from(value).map(Some).map_err(|_| {
        Error::invalid(
            field,
            format!("{value} is an unknown value (not one this API defines)"),
        )
    })
}

/// A positive contact id.
pub fn contact_id(field: &str, id: i64) -> Result<i64> {
    if id <= 0 {
        return Err(Error::invalid(field, "is required (a positive contact id)"));
    }
    Ok(id)
}

/// An optional region code ("" = none).
pub fn region(field: &str, code: &str) -> Result<Option<Region>> {
    if code.trim().is_empty() {
        return Ok(None);
    }
    Region::parse(code)
        .map(Some)
        .map_err(|reason| Error::invalid(field, reason))
}

/// A contact input message to an unchecked draft (the region is parsed here).
pub fn draft(field: &str, input: Option<pb::ContactInput>) -> Result<ContactDraft> {
    let input = input.ok_or_else(|| Error::invalid(field, "is required"))?;
    Ok(ContactDraft {
        region: region(&format!("{field}.region"), &input.region)?,
        phone: input.phone,
        phone_extension: input.phone_extension,
        first_name: input.first_name,
        last_name: input.last_name,
        email: input.email,
        company: input.company,
        title: input.title,
        custom_fields: input.custom_fields.into_iter().collect(),
        time_zone: input.time_zone,
    })
}

impl From<DncSource> for pb::DncSource {
    fn from(s: DncSource) -> Self {
        match s {
            DncSource::Manual => pb::DncSource::Manual,
            DncSource::CallRequest => pb::DncSource::CallRequest,
            DncSource::Api => pb::DncSource::Api,
            DncSource::Import => pb::DncSource::Import,
        }
    }
}

impl From<ContactStatus> for pb::ContactStatus {
    fn from(s: ContactStatus) -> Self {
        match s {
            ContactStatus::Active => pb::ContactStatus::Active,
            ContactStatus::Dnc => pb::ContactStatus::Dnc,
        }
    }
}

impl From<CallDirection> for pb::CallDirection {
    fn from(d: CallDirection) -> Self {
        match d {
            CallDirection::Inbound => pb::CallDirection::Inbound,
            CallDirection::Outbound => pb::CallDirection::Outbound,
        }
    }
}

/// UNSPECIFIED is no direction.
impl TryFrom<pb::CallDirection> for CallDirection {
    type Error = ();
    fn try_from(d: pb::CallDirection) -> std::result::Result<Self, ()> {
        match d {
            pb::CallDirection::Unspecified => Err(()),
            pb::CallDirection::Inbound => Ok(CallDirection::Inbound),
            pb::CallDirection::Outbound => Ok(CallDirection::Outbound),
        }
    }
}

impl From<CallOutcome> for pb::CallOutcome {
    fn from(o: CallOutcome) -> Self {
        match o {
            CallOutcome::Answered => pb::CallOutcome::Answered,
            CallOutcome::NoAnswer => pb::CallOutcome::NoAnswer,
            CallOutcome::Busy => pb::CallOutcome::Busy,
            CallOutcome::Voicemail => pb::CallOutcome::Voicemail,
            CallOutcome::Failed => pb::CallOutcome::Failed,
            CallOutcome::Rejected => pb::CallOutcome::Rejected,
            CallOutcome::Converted => pb::CallOutcome::Converted,
            CallOutcome::DncRequested => pb::CallOutcome::DncRequested,
            CallOutcome::CallbackRequested => pb::CallOutcome::CallbackRequested,
        }
    }
}

/// UNSPECIFIED is no outcome.
impl TryFrom<pb::CallOutcome> for CallOutcome {
    type Error = ();
    fn try_from(o: pb::CallOutcome) -> std::result::Result<Self, ()> {
        Ok(match o {
            pb::CallOutcome::Unspecified => return Err(()),
            pb::CallOutcome::Answered => CallOutcome::Answered,
            pb::CallOutcome::NoAnswer => CallOutcome::NoAnswer,
            pb::CallOutcome::Busy => CallOutcome::Busy,
            pb::CallOutcome::Voicemail => CallOutcome::Voicemail,
            pb::CallOutcome::Failed => CallOutcome::Failed,
            pb::CallOutcome::Rejected => CallOutcome::Rejected,
            pb::CallOutcome::Converted => CallOutcome::Converted,
            pb::CallOutcome::DncRequested => CallOutcome::DncRequested,
            pb::CallOutcome::CallbackRequested => CallOutcome::CallbackRequested,
        })
    }
}

impl From<ImportStatus> for pb::ImportStatus {
    fn from(s: ImportStatus) -> Self {
        match s {
            ImportStatus::Running => pb::ImportStatus::Running,
            ImportStatus::Completed => pb::ImportStatus::Completed,
            ImportStatus::Failed => pb::ImportStatus::Failed,
            ImportStatus::Cancelled => pb::ImportStatus::Cancelled,
        }
    }
}

impl From<Sentiment> for pb::Sentiment {
    fn from(s: Sentiment) -> Self {
        match s {
            Sentiment::Unspecified => pb::Sentiment::Unspecified,
            Sentiment::Positive => pb::Sentiment::Positive,
            Sentiment::Neutral => pb::Sentiment::Neutral,
            Sentiment::Negative => pb::Sentiment::Negative,
        }
    }
}

impl From<pb::Sentiment> for Sentiment {
    fn from(s: pb::Sentiment) -> Self {
        match s {
            pb::Sentiment::Unspecified => Sentiment::Unspecified,
            pb::Sentiment::Positive => Sentiment::Positive,
            pb::Sentiment::Neutral => Sentiment::Neutral,
            pb::Sentiment::Negative => Sentiment::Negative,
        }
    }
}

/// A contact to its message; `campaign_ids` may be empty when not loaded. (The dialer's
/// leased contacts still arrive as stored rows, turned into [`Contact`]s by `store`:
/// hence `impl Into`.)
pub fn contact(c: impl Into<Contact>, campaign_ids: Vec<String>) -> pb::Contact {
    let c: Contact = c.into();
    let custom = c.custom_fields.into_iter().collect();
    let status = pb::ContactStatus::from(c.status);
    pb::Contact {
        id: c.id,
        account_id: c.account_id,
        phone: c.phone,
        phone_extension: c.phone_extension,
        first_name: c.first_name,
        last_name: c.last_name,
        email: c.email,
        company: c.company,
        title: c.title,
        custom_fields: custom,
        status: status as i32,
        call_stats: Some(pb::CallStats {
            call_count: c.call_count,
            last_called_time: opt_ts(c.last_called_at),
            last_outcome: c
                .last_outcome
                .map_or(pb::CallOutcome::Unspecified, Into::into) as i32,
            total_talk_seconds: c.total_talk_seconds,
        }),
        time_zone: c.time_zone,
        campaign_ids,
        dnc_time: opt_ts(c.dnc_at),
        dnc_source: c.dnc_source.map_or(pb::DncSource::Unspecified, Into::into) as i32,
        import_batch_id: c.import_batch_id.unwrap_or_default(),
        create_time: Some(ts(c.created_at)),
        update_time: Some(ts(c.updated_at)),
    }
}

/// A contact view to its message.
pub fn contact_view(v: ContactView) -> pb::Contact {
    contact(v.contact, v.campaign_ids)
}

/// Bulk counts to their message (reasons with a zero count are left out).
pub fn bulk_result(c: BulkCounts) -> pb::BulkResult {
    pb::BulkResult {
        matched: c.matched,
        changed: c.changed,
        skipped: c
            .skipped
            .into_iter()
            .map(|(reason, count)| pb::SkipCount {
                reason: reason.to_string(),
                count,
            })
            .collect(),
    }
}

/// The list filter; `field` is its path in the request.
pub fn filter(field: &str, f: Option<pb::ContactFilter>) -> Result<ContactFilter> {
    let Some(f) = f else {
        return Ok(ContactFilter::default());
    };
    let status = match pb::ContactStatus::try_from(f.status) {
        Ok(pb::ContactStatus::Unspecified) => None,
        Ok(pb::ContactStatus::Active) => Some(ContactStatus::Active),
        Ok(pb::ContactStatus::Dnc) => Some(ContactStatus::Dnc),
        Err(_) => {
            return Err(Error::invalid(
                format!("{field}.status"),
                format!("{} is not a status", f.status),
            ));
        }
    };
    if f.query.chars().count() > 256 {
        return Err(Error::invalid(
            format!("{field}.query"),
            "is longer than 256 characters",
        ));
    }
    let after = f
        .last_called_after
        .as_ref()
        .map(|t| timestamp(&format!("{field}.last_called_after"), t))
        .transpose()?;
    let before = f
        .last_called_before
        .as_ref()
        .map(|t| timestamp(&format!("{field}.last_called_before"), t))
        .transpose()?;
    if let (Some(a), Some(b)) = (after, before)
        && a >= b
    {
        return Err(Error::invalid(
            format!("{field}.last_called_before"),
            "must be later than last_called_after",
        ));
    }
    if f.never_called && (after.is_some() || before.is_some()) {
        return Err(Error::invalid(
            format!("{field}.never_called"),
            "cannot be combined with a last-called date range",
        ));
    }
    let campaign = f.campaign_id.trim();
    Ok(ContactFilter {
        query: SearchQuery::parse(&f.query),
        status,
        campaign_id: (!campaign.is_empty()).then(|| campaign.to_string()),
        last_called_after: after,
        last_called_before: before,
        never_called: f.never_called,
    })
}

/// A selection (ids, capped, or filter); `None` means "every contact" when `all_if_unset`.
pub fn selection(
    field: &str,
    s: Option<pb::ContactSelection>,
    all_if_unset: bool,
) -> Result<Selection> {
    use pb::contact_selection::Selection as S;
    match s.and_then(|s| s.selection) {
        Some(S::Ids(ids)) => {
            if ids.ids.is_empty() {
                return Err(Error::invalid(format!("{field}.ids"), "is empty"));
            }
            if ids.ids.len() > MAX_SELECTION_IDS {
                return Err(Error::Cap {
                    what: format!("{field}.ids ({} ids)", ids.ids.len()),
                    cap: MAX_SELECTION_IDS as u64,
                });
            }
            if let Some(bad) = ids.ids.iter().find(|id| **id <= 0) {
                return Err(Error::invalid(
                    format!("{field}.ids"),
                    format!("{bad} is not a contact id"),
                ));
            }
            Ok(Selection::Ids(ids.ids))
        }
        Some(S::Filter(f)) => Ok(Selection::Filter(filter(
            &format!("{field}.filter"),
            Some(f),
        )?)),
        None if all_if_unset => Ok(Selection::Filter(ContactFilter::default())),
        None => Err(Error::invalid(field, "is required: give ids or a filter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_including_before_1970() {
        for v in [0, 1, 1_700_000_000_123, -1, -1500] {
            assert_eq!(ms(&ts(v)), v);
        }
    }
}
