//! Phone normalization throughput, on 1 and 2 threads, with the `phonenumber` crate's
//! shared default database (one global regex-cache mutex) and with a database per
//! thread (`domain::phone::with_private_database`, what the import worker uses).
//!
//! Run: `cargo run --release --bin bench_phone [-- NUMBERS_PER_THREAD]`.

use contactd::domain::{Phone, Region, Validation, phone};
use std::time::Instant;

/// Spellings as found in real files: E.164, national with punctuation, other countries.
fn inputs(n: usize, seed: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let k = (i * 7919 + seed * 104_729) % 10_000_000;
            match i % 4 {
                0 => format!("+1415{:07}", 2_000_000 + k % 8_000_000),
                1 => format!("(212) {:03}-{:04}", 200 + k % 800, k % 10_000),
                2 => format!("1-646-{:03}-{:04}", 200 + k % 800, k % 10_000),
                _ => format!("+44 20 7{:03} {:04}", k % 1000, k % 10_000),
            }
        })
        .collect()
}

fn normalize_all(numbers: &[String]) -> usize {
    let us = Region::parse("US").ok();
    numbers
        .iter()
        .filter(|n| Phone::parse(n, us, Validation::Strict).is_ok())
        .count()
}

fn run(threads: usize, per_thread: usize, private: bool) -> f64 {
    let sets: Vec<Vec<String>> = (0..threads).map(|t| inputs(per_thread, t)).collect();
    // Warm up (and build the pooled private databases) outside the timing.
    for set in &sets {
        let warm = &set[..1000.min(set.len())];
        if private {
            phone::with_private_database(|| normalize_all(warm));
        } else {
            normalize_all(warm);
        }
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for set in &sets {
            s.spawn(move || {
                if private {
                    phone::with_private_database(|| normalize_all(set))
                } else {
                    normalize_all(set)
                }
            });
        }
    });
    (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let per_thread: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!(
        "phone normalization (STRICT, E.164), {per_thread} numbers per thread, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for (label, private) in [
        ("shared default database", false),
        ("database per thread", true),
    ] {
        for threads in [1, 2] {
            let rate = run(threads, per_thread, private);
            println!("{label:<26} {threads} thread(s): {rate:>10.0} numbers/s");
        }
    }
}
