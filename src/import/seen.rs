//! The numbers seen so far in an import file, for in-file duplicates: the one piece of
//! import state that grows with the file.
//!
//! A sorted run of every number merged so far, plus a hash set of the most recent ones
//! that is merged into the run whenever it fills. The run costs 8 bytes a number and
//! grows in place (a backward merge after an exact reserve, which the allocator serves
//! by remapping), where a `HashSet<u64>` of 1,000,000 numbers holds 2,097,152 buckets
//! (18 MiB) and, while it doubles, both tables at once (27 MiB).

use std::collections::HashSet;

/// Recent numbers kept in the hash set before a merge.
const RECENT: usize = 1 << 16;

/// A set of numbers (E.164 digits as integers).
#[derive(Debug, Default)]
pub struct SeenNumbers {
    sorted: Vec<u64>,
    recent: HashSet<u64>,
}

impl SeenNumbers {
    /// Adds `n`; false when it was already there.
    pub fn insert(&mut self, n: u64) -> bool {
        if self.sorted.binary_search(&n).is_ok() || !self.recent.insert(n) {
            return false;
        }
        if self.recent.len() >= RECENT {
            self.merge();
        }
        true
    }

    /// How many numbers are in the set.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves the recent numbers into the sorted run (they are never in it already).
    fn merge(&mut self) {
        let mut recent: Vec<u64> = self.recent.drain().collect();
        recent.sort_unstable();
        let old = self.sorted.len();
        self.sorted.reserve_exact(recent.len());
        self.sorted.resize(old + recent.len(), 0);
        // Backward merge: fill from the end, taking the larger head of the two runs.
        let (mut i, mut j, mut k) = (old, recent.len(), old + recent.len());
        while j > 0 {
            if i > 0 && self.sorted[i - 1] > recent[j - 1] {
                self.sorted[k - 1] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k - 1] = recent[j - 1];
                j -= 1;
            }
            k -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_hash_set_across_many_merges() {
        let mut seen = SeenNumbers::default();
        let mut reference = HashSet::new();
        // A deterministic scramble with repeats: 300,000 draws from 200,000 values.
        let mut x: u64 = 12_345;
        for _ in 0..300_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = 14_155_550_000 + (x >> 33) % 200_000;
            assert_eq!(seen.insert(n), reference.insert(n), "number {n}");
        }
        assert_eq!(seen.len(), reference.len());
        assert!(
            seen.sorted.windows(2).all(|w| w[0] < w[1]),
            "run stays sorted"
        );
        assert!(seen.sorted.len() >= RECENT, "merged at least once");
    }

    #[test]
    fn a_number_merged_long_ago_is_still_seen() {
        let mut seen = SeenNumbers::default();
        assert!(seen.insert(7));
        for n in 100..100 + RECENT as u64 * 2 {
            assert!(seen.insert(n));
        }
        assert!(!seen.insert(7));
        assert!(!seen.insert(100));
        assert!(seen.insert(8));
    }
}
