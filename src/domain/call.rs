//! What a call record says: its direction, its outcome and the callee's sentiment. Each
//! is one enum from the database to the wire: stored by the explicit value below (what the
//! `calls` table has held since the first migration), converted to and from the proto's
//! enums at the grpc edge only, so renaming a proto value never changes stored data.

use super::Region;
use sea_orm::entity::prelude::*;

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CallDirection {
    /// The contact called in.
    #[sea_orm(string_value = "INBOUND")]
    Inbound,
    /// An agent called the contact.
    #[sea_orm(string_value = "OUTBOUND")]
    Outbound,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CallOutcome {
    /// Someone answered.
    #[sea_orm(string_value = "ANSWERED")]
    Answered,
    /// Nobody answered.
    #[sea_orm(string_value = "NO_ANSWER")]
    NoAnswer,
    /// The line was busy.
    #[sea_orm(string_value = "BUSY")]
    Busy,
    /// A voicemail answered.
    #[sea_orm(string_value = "VOICEMAIL")]
    Voicemail,
    /// The call could not be placed.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// The callee rejected it.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    /// The call reached its goal.
    #[sea_orm(string_value = "CONVERTED")]
    Converted,
    /// The callee asked not to be called again: the number goes on the DNC list.
    #[sea_orm(string_value = "DNC_REQUESTED")]
    DncRequested,
    /// The callee asked to be called back at a time (see `domain::callback`).
    #[sea_orm(string_value = "CALLBACK_REQUESTED")]
    CallbackRequested,
}

impl CallOutcome {
    /// A stored outcome (`contacts.last_outcome` keeps it as text, "" before any call).
    pub fn from_stored(stored: &str) -> Option<CallOutcome> {
        CallOutcome::try_from_value(&stored.to_string()).ok()
    }

    /// The stored value.
    pub fn stored(self) -> String {
        self.to_value()
    }
}

/// The callee's sentiment, as the call service judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum Sentiment {
    /// Not given (stored as "").
    #[sea_orm(string_value = "")]
    Unspecified,
    /// Positive.
    #[sea_orm(string_value = "POSITIVE")]
    Positive,
    /// Neutral.
    #[sea_orm(string_value = "NEUTRAL")]
    Neutral,
    /// Negative.
    #[sea_orm(string_value = "NEGATIVE")]
    Negative,
}

/// Where a "Call Now" request stands, stored in `call_requests.status` by the explicit
/// value below (what the table has held since the first migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum CallRequestStatus {
    /// Waiting for a telephony worker.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Leased to a worker.
    #[sea_orm(string_value = "CLAIMED")]
    Claimed,
    /// Its call was recorded.
    #[sea_orm(string_value = "DONE")]
    Done,
    /// Dropped: the contact became DNC (or its calling window closed).
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// A call as posted by the call service (enums already checked).
#[derive(Debug, Clone)]
pub struct CallInput {
    pub external_id: String,
    pub contact_id: Option<i64>,
    /// The other party's number as given ("" when only the contact is given).
    pub phone: String,
    pub region: Option<Region>,
    pub direction: CallDirection,
    pub campaign_id: String,
    pub started_at: i64,
    pub duration_seconds: i64,
    pub outcome: CallOutcome,
    pub sentiment: Sentiment,
    pub recording_url: String,
    pub transcript: String,
    pub transcript_url: String,
    pub dnc_requested: bool,
    pub dialer_id: String,
    /// When the callee asked to be called back (`CallbackRequested` only).
    pub callback: Option<super::callback::CallbackTime>,
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub id: i64,
    pub account_id: String,
    pub external_id: String,
    pub contact_id: Option<i64>,
    /// E.164, or "" when no number is known.
    pub phone: String,
    pub direction: CallDirection,
    pub campaign_id: String,
    pub started_at: i64,
    pub duration_seconds: i64,
    pub outcome: CallOutcome,
    pub sentiment: Sentiment,
    pub recording_url: String,
    pub transcript: String,
    pub transcript_url: String,
    pub dnc_requested: bool,
    pub dialer_id: String,
    pub created_at: i64,
}

/// A "Call Now" request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    pub id: i64,
    pub account_id: String,
    pub contact_id: i64,
    /// E.164.
    pub phone: String,
    pub requested_by: String,
    pub status: CallRequestStatus,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
    pub done_at: Option<i64>,
    /// A person placed it outside the calling window on purpose (`requested_by`).
    pub window_override: bool,
    /// The calling hours it was accepted under, in their stored form (`None`: the
    /// default window).
    pub calling_rules: Option<String>,
    /// The contact's extension when the request was made ("" when none).
    pub phone_extension: String,
}

/// A new "Call Now" request, pending from its creation.
#[derive(Debug, Clone)]
pub struct NewCallRequest<'a> {
    pub account_id: &'a str,
    pub contact_id: i64,
    /// E.164.
    pub phone: &'a str,
    /// Digits to send after connect ("" when none).
    pub phone_extension: &'a str,
    pub requested_by: &'a str,
    pub window_override: bool,
    /// The calling hours it is accepted under, stored form (`None`: the default window).
    pub calling_rules: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    /// The stored values are the data already in `calls`: changing one needs a migration.
    #[test]
    fn stored_values_are_the_ones_in_the_database() {
        let stored = |v: Vec<String>| v.join(",");
        assert_eq!(
            stored(CallDirection::iter().map(|d| d.to_value()).collect()),
            "INBOUND,OUTBOUND"
        );
        assert_eq!(
            stored(CallOutcome::iter().map(|o| o.to_value()).collect()),
            "ANSWERED,NO_ANSWER,BUSY,VOICEMAIL,FAILED,REJECTED,CONVERTED,DNC_REQUESTED,\
             CALLBACK_REQUESTED"
        );
        assert_eq!(
            stored(Sentiment::iter().map(|s| s.to_value()).collect()),
            ",POSITIVE,NEUTRAL,NEGATIVE"
        );
        assert_eq!(
            stored(CallRequestStatus::iter().map(|s| s.to_value()).collect()),
            "PENDING,CLAIMED,DONE,CANCELLED"
        );
        assert_eq!(CallOutcome::from_stored(""), None);
        assert_eq!(CallOutcome::from_stored("BUSY"), Some(CallOutcome::Busy));
    }
}
