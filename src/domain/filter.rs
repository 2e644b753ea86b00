//! Which contacts a list, export or bulk action applies to.

use sea_orm::entity::prelude::*;

/// A contact's status, stored in `contacts.status` by the explicit value below (what the
/// table has held since the first migration), converted to and from the proto's
/// `ContactStatus` at the grpc edge only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum ContactStatus {
    /// May be called.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// On the Do-Not-Call list.
    #[sea_orm(string_value = "DNC")]
    Dnc,
}

impl ContactStatus {
    /// The stored value (for statements and SQL written by hand).
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStatus::Active => "ACTIVE",
            ContactStatus::Dnc => "DNC",
        }
    }

    /// From a stored value read as text (rows the dialer decodes by hand); anything
    /// unknown reads as DNC: fail closed.
    pub fn from_stored(s: &str) -> Self {
        ContactStatus::try_from_value(&s.to_string()).unwrap_or(ContactStatus::Dnc)
    }
}

/// What the user typed into the search box, classified once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchQuery {
    /// Digits of a phone number, as typed in any format ("415-555" → "415555").
    Digits(String),
    /// A name prefix, lowercased with single spaces ("john sm").
    Name(String),
}

impl SearchQuery {
    /// Classifies a query; `None` for an empty one.
    pub fn parse(raw: &str) -> Option<SearchQuery> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return None;
        }
        let phone_like = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if phone_like && !digits.is_empty() {
            Some(SearchQuery::Digits(digits))
        } else {
            Some(SearchQuery::Name(name_key(trimmed, "")))
        }
    }
}

/// The lowercased "first last" search key of a name, with single spaces.
pub fn name_key(first: &str, last: &str) -> String {
    let joined = format!("{first} {last}").to_lowercase();
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The contacts filter shared by ListContacts, ExportContacts and the bulk actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Name or phone prefix.
    pub query: Option<SearchQuery>,
    /// ACTIVE or DNC.
    pub status: Option<ContactStatus>,
    /// Member of this campaign.
    pub campaign_id: Option<String>,
    /// Last called at or after (Unix ms).
    pub last_called_after: Option<i64>,
    /// Last called before (Unix ms).
    pub last_called_before: Option<i64>,
    /// Only contacts never called.
    pub never_called: bool,
}

/// Explicit ids or everything matching a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These contacts.
    Ids(Vec<i64>),
    /// Everything matching.
    Filter(ContactFilter),
}

/// The smallest string greater than every string starting with `prefix`, for a
/// byte-ordered range scan `prefix <= col < upper`. `None` when there is none.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_typed_in_any_format_becomes_digits() {
        assert_eq!(
            SearchQuery::parse("415-555"),
            Some(SearchQuery::Digits("415555".into()))
        );
        assert_eq!(
            SearchQuery::parse("+1 (415) 555"),
            Some(SearchQuery::Digits("1415555".into()))
        );
    }

    #[test]
    fn names_are_lowercased_and_spaces_collapsed() {
        assert_eq!(
            SearchQuery::parse("  John   SM "),
            Some(SearchQuery::Name("john sm".into()))
        );
        assert_eq!(SearchQuery::parse(""), None);
    }

    #[test]
    fn upper_bound_is_the_next_prefix() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound("41555").as_deref(), Some("41556"));
        assert!(prefix_upper_bound("").is_none());
    }
}
