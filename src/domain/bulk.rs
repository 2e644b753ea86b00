//! What a bulk action did (add to campaign, DNC, delete, export): a value shared by the
//! services that act and the export that reports, below both.

use std::collections::BTreeMap;

/// What a bulk action did: matched, changed, and skipped by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkCounts {
    pub matched: i64,
    pub changed: i64,
    pub skipped: BTreeMap<&'static str, i64>,
}

impl BulkCounts {
    /// Counts `n` items skipped for `reason`.
    pub fn skip(&mut self, reason: &'static str, n: i64) {
        if n > 0 {
            *self.skipped.entry(reason).or_default() += n;
        }
    }
}
