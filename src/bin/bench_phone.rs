//! Phone normalization throughput, on 1 and 2 threads: `Phone::parse` on an import
//! worker's thread (`domain::phone::with_private_database`, fast path first), and for
//! comparison the `phonenumber` crate's parser alone (`Phone::parse_with_crate`) with its
//! shared default database (one global regex-cache mutex) and with a database per thread.
//!
//! Run: `cargo run --release --bin bench_phone [-- NUMBERS_PER_THREAD]`.

use contactd::domain::{Phone, Region, Validation, phone};
use std::sync::Barrier;
use std::time::{Duration, Instant};

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

/// A way of normalizing one number.
type Parser = fn(&str, Option<Region>, Validation) -> Result<Phone, contactd::domain::PhoneError>;

fn normalize_all(numbers: &[String], parse: Parser) -> usize {
    let us = Region::parse("US").ok();
    numbers
        .iter()
        .filter(|n| parse(n, us, Validation::Strict).is_ok())
        .count()
}

/// Numbers per second over `threads` threads, each normalizing its own distinct numbers.
/// Each thread first warms up (pooled databases, per-thread compiled patterns) outside
/// the timing; that one-time cost is returned separately (the slowest thread's).
fn run(threads: usize, per_thread: usize, parse: Parser, private: bool) -> (f64, Duration) {
    let sets: Vec<Vec<String>> = (0..threads).map(|t| inputs(per_thread, t)).collect();
    let warm_sets: Vec<Vec<String>> = (0..threads).map(|t| inputs(1000, t + 100)).collect();
    let work = |numbers: &[String]| {
        if private {
            phone::with_private_database(|| normalize_all(numbers, parse))
        } else {
            normalize_all(numbers, parse)
        }
    };
    let ready = Barrier::new(threads + 1);
    let go = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = sets
            .iter()
            .zip(&warm_sets)
            .map(|(set, warm)| {
                let (ready, go) = (&ready, &go);
                s.spawn(move || {
                    let warming = Instant::now();
                    work(warm);
                    let warm_up = warming.elapsed();
                    ready.wait();
                    go.wait();
                    work(set);
                    warm_up
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        go.wait();
        let warm_up = workers
            .into_iter()
            .map(|w| w.join().expect("bench thread"))
            .max()
            .unwrap_or_default();
        let rate = (threads * per_thread) as f64 / start.elapsed().as_secs_f64();
        (rate, warm_up)
    })
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
    let runs: [(&str, Parser, bool); 3] = [
        ("Phone::parse (import)", Phone::parse, true),
        ("crate, database per thread", Phone::parse_with_crate, true),
        ("crate, shared database", Phone::parse_with_crate, false),
    ];
    for (label, parse, private) in runs {
        for threads in [1, 2] {
            let (rate, warm_up) = run(threads, per_thread, parse, private);
            println!(
                "{label:<28} {threads} thread(s): {rate:>10.0} numbers/s \
                 (first 1000 on a fresh thread: {} ms)",
                warm_up.as_millis()
            );
        }
    }
}
