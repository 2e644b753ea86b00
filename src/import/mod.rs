//! The import pipeline, streaming in bounded memory: [`decode`] turns bytes of any
//! supported encoding into UTF-8, [`records`] splits RFC 4180 records (knowing each
//! one's line), [`spreadsheet`] reads Excel and OpenDocument workbooks into the same
//! rows, [`mapping`] decides which column fills which field (by the names in
//! [`synonyms`]; a [`country`] column places each row's local number), and [`pipeline`]
//! runs them on a worker thread, checking every row and handing chunks of rows to the
//! writer in `service::import`.

pub mod country;
pub mod decode;
pub mod dnc_file;
pub mod mapping;
pub mod pipeline;
pub mod records;
pub mod rejection;
pub mod seen;
pub mod spreadsheet;
pub mod synonyms;

pub use mapping::{ColumnMap, Field};
pub use pipeline::{Header, Input, Outcome, ParseOptions, Parsed, Row, RowError};
pub use rejection::Rejection;

/// Per-outcome row counts of an import (or of what a preview says it would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: i64,
    pub imported: i64,
    pub updated: i64,
    pub duplicates_in_file: i64,
    pub duplicates_existing: i64,
    pub invalid: i64,
    pub over_limit: i64,
    pub dnc: i64,
    pub dnc_excluded: i64,
    pub added_to_campaign: i64,
    /// Rejected rows counted above but not kept in the batch's rejected-row list (it
    /// keeps at most `service::import::MAX_STORED_REJECTED_ROWS`).
    pub rejected_not_stored: i64,
    /// The rejected rows (`invalid` and `over_limit`) by kind: exact, kept or not.
    pub rejected: rejection::ByKind,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.rows += other.rows;
        self.imported += other.imported;
        self.updated += other.updated;
        self.duplicates_in_file += other.duplicates_in_file;
        self.duplicates_existing += other.duplicates_existing;
        self.invalid += other.invalid;
        self.over_limit += other.over_limit;
        self.dnc += other.dnc;
        self.dnc_excluded += other.dnc_excluded;
        self.added_to_campaign += other.added_to_campaign;
        self.rejected_not_stored += other.rejected_not_stored;
        for (n, d) in self.rejected.iter_mut().zip(other.rejected) {
            *n += d;
        }
    }

    /// Counts one rejected row of `kind`, as `invalid` or `over_limit`.
    pub fn reject(&mut self, kind: Rejection) {
        if kind.is_invalid() {
            self.invalid += 1;
        } else {
            self.over_limit += 1;
        }
        self.rejected[kind.index()] += 1;
    }
}
