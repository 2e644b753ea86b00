//! Do-Not-Call sources.

use sea_orm::entity::prelude::*;

/// How a number came onto the DNC list, stored in `dnc_entries.source` and
/// `dnc_events.source` by the explicit value below (the values stored since the first
/// migration), and as text in `contacts.dnc_source` ("" while the contact is not DNC).
/// Converted to and from the proto's `DncSource` at the grpc edge only: renaming a
/// proto value never changes stored data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum DncSource {
    /// A user marked it.
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    /// The callee asked during a call.
    #[sea_orm(string_value = "CALL_REQUEST")]
    CallRequest,
    /// An integration through the API.
    #[sea_orm(string_value = "API")]
    Api,
    /// Imported from a DNC list file (no longer written; older entries may say so).
    #[sea_orm(string_value = "IMPORT")]
    Import,
}

impl DncSource {
    /// The stored value (for `contacts.dnc_source`, a text column).
    pub fn as_str(self) -> &'static str {
        match self {
            DncSource::Manual => "MANUAL",
            DncSource::CallRequest => "CALL_REQUEST",
            DncSource::Api => "API",
            DncSource::Import => "IMPORT",
        }
    }

    /// A stored value read as text (`contacts.dnc_source`); `None` for "" or unknown.
    pub fn from_stored(s: &str) -> Option<Self> {
        DncSource::try_from_value(&s.to_string()).ok()
    }
}

impl std::fmt::Display for DncSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number on an account's DNC list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEntry {
    pub account_id: String,
    /// E.164.
    pub phone: String,
    pub source: DncSource,
    pub reason: String,
    pub actor: String,
    pub created_at: i64,
}

/// One change of an account's DNC list (its history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEvent {
    pub id: i64,
    pub account_id: String,
    /// E.164.
    pub phone: String,
    /// Put on the list (`false`: taken off).
    pub added: bool,
    pub source: DncSource,
    pub reason: String,
    pub actor: String,
    /// The contact holding the number then, if any.
    pub contact_id: Option<i64>,
    pub created_at: i64,
}

/// A named DNC list of an account (a registry's file, a partner's list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncList {
    pub id: i64,
    pub account_id: String,
    pub name: String,
    pub source: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields of a list a request sets (None = unchanged).
#[derive(Debug, Clone, Default)]
pub struct DncListFields {
    pub name: Option<String>,
    pub source: Option<String>,
    pub description: Option<String>,
}

/// One import of a file into a named list: its counts and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncListImport {
    pub id: i64,
    pub account_id: String,
    pub list_id: i64,
    pub request_id: Option<String>,
    /// "running", "completed" or "failed".
    pub status: String,
    pub replace_list: bool,
    pub lines_read: i64,
    pub added: i64,
    pub already_listed: i64,
    pub invalid: i64,
    pub removed: i64,
    /// The first invalid lines, one `LINE\tREASON` per line.
    pub first_invalid: String,
    pub error: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContactStatus;
    use sea_orm::Iterable;

    /// The stored values are the data already in the tables: changing one needs a
    /// migration.
    #[test]
    fn stored_values_are_the_ones_in_the_database() {
        let sources: Vec<String> = DncSource::iter().map(|s| s.to_value()).collect();
        assert_eq!(sources.join(","), "MANUAL,CALL_REQUEST,API,IMPORT");
        for s in DncSource::iter() {
            assert_eq!(s.as_str(), s.to_value());
            assert_eq!(DncSource::from_stored(s.as_str()), Some(s));
        }
        assert_eq!(DncSource::from_stored(""), None);
        let statuses: Vec<String> = ContactStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(statuses.join(","), "ACTIVE,DNC");
        for s in ContactStatus::iter() {
            assert_eq!(s.as_str(), s.to_value());
            assert_eq!(ContactStatus::from_stored(s.as_str()), s);
        }
        assert_eq!(ContactStatus::from_stored("?"), ContactStatus::Dnc);
    }
}
