//! Why an import rejected a row: one kind per reason, the same everywhere — on each
//! rejected row (`import_errors.kind`, `ImportError.kind`), in the batch's exact count
//! per kind (`import_batches.rejected_*`, `ImportCounts.rejected_by_kind`), and in the
//! CLI's advice. A row whose number is a duplicate (earlier in the file, or already
//! stored) is not rejected: `duplicates_in_file` and `duplicates_existing` count those.

/// The reason a row was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// The phone cell holds something that is no phone number.
    InvalidPhone,
    /// The row has no phone number.
    MissingPhone,
    /// The email address is not valid.
    InvalidEmail,
    /// The country column names no country the import knows (for a local number).
    InvalidCountry,
    /// Another field is not valid (a time zone, a custom field …).
    InvalidField,
    /// More or fewer fields than the header.
    RaggedRow,
    /// A field or record over the size caps (often an unclosed quote).
    FieldTooLong,
    /// Binary data (a NUL byte) in a field.
    MalformedCsv,
    /// The account was at its plan limit.
    OverLimit,
}

/// Rows per [`Rejection`], indexed by [`Rejection::index`].
pub type ByKind = [i64; Rejection::ALL.len()];

impl Rejection {
    /// Every kind, in the order of the API's enum.
    pub const ALL: [Rejection; 9] = [
        Rejection::InvalidPhone,
        Rejection::MissingPhone,
        Rejection::InvalidEmail,
        Rejection::InvalidCountry,
        Rejection::InvalidField,
        Rejection::RaggedRow,
        Rejection::FieldTooLong,
        Rejection::MalformedCsv,
        Rejection::OverLimit,
    ];

    /// The kind as stored and sent in `ImportError.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::InvalidPhone => "invalid_phone",
            Rejection::MissingPhone => "missing_phone",
            Rejection::InvalidEmail => "invalid_email",
            Rejection::InvalidCountry => "invalid_country",
            Rejection::InvalidField => "invalid_field",
            Rejection::RaggedRow => "ragged_row",
            Rejection::FieldTooLong => "field_too_long",
            Rejection::MalformedCsv => "malformed_csv",
            Rejection::OverLimit => "over_limit",
        }
    }

    /// The kind stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Rejection> {
        Rejection::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Its place in [`Rejection::ALL`] and in a [`ByKind`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Counted as `invalid` (every kind but [`Rejection::OverLimit`]).
    pub fn is_invalid(self) -> bool {
        self != Rejection::OverLimit
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_stored_text_at_its_index() {
        for (i, kind) in Rejection::ALL.into_iter().enumerate() {
            assert_eq!(Rejection::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.index(), i);
        }
        assert_eq!(Rejection::parse("duplicate"), None);
    }
}
