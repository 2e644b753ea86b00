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
