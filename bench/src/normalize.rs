//! Phone normalization throughput (STRICT, to E.164) on 1 and 2 threads, as the import
//! worker runs it (see `run` for why the main thread parses first).

use crate::harness::{Report, Row, Target};
use contactd::domain::{Phone, Region, Validation};
use std::time::Instant;

/// A realistic import mix under a US default region: mostly local numbers spelled as
/// spreadsheets hold them, some `+1`, some other countries' `+CC` numbers.
fn inputs(n: usize, seed: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let k = (i * 7919 + seed * 104_729) % 10_000_000;
            let (x, line) = (200 + k % 800, k % 10_000);
            match i % 10 {
                0 | 1 => format!("({:03}) {x:03}-{line:04}", [212, 415, 646, 312][i % 4]),
                2 => format!("212-{x:03}-{line:04}"),
                3 => format!("1-646-{x:03}-{line:04}"),
                4 => format!("415.{x:03}.{line:04}"),
                5 => format!("312{x:03}{line:04}"),
                6 | 7 => format!("+1415{:07}", 2_000_000 + k % 8_000_000),
                8 => format!("+44 20 7{:03} {line:04}", k % 1000),
                _ => match i % 3 {
                    0 => format!("+49 151 {:08}", k % 100_000_000),
                    1 => format!(
                        "+33 6 {:02} {:02} {:02} {:02}",
                        k % 100,
                        x % 100,
                        line % 100,
                        i % 100
                    ),
                    _ => format!("+52 55 {:04} {line:04}", k % 10_000),
                },
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

/// Nanoseconds this thread has run on a CPU (the scheduler's own count, not sampled).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Numbers per second of wall time, and per second of the threads' own CPU time (which
/// a busy or oversubscribed machine does not lower: it tells whether the parser itself
/// scales across threads when the wall figure does not).
fn rate(threads: usize, per_thread: usize) -> (f64, f64) {
    let sets: Vec<Vec<String>> = (0..threads).map(|t| inputs(per_thread, t)).collect();
    // Each thread warms its own pattern cache, then all start together with the clock.
    let ready = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let ready = &ready;
        let handles: Vec<_> = sets
            .iter()
            .map(|set| {
                s.spawn(move || {
                    normalize_all(&set[..1000.min(set.len())]);
                    ready.wait();
                    let cpu = thread_cpu_ns();
                    normalize_all(set);
                    thread_cpu_ns() - cpu
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        let cpu_ns: u64 = handles
            .into_iter()
            .map(|h| h.join().expect("normalization thread"))
            .sum();
        let n = (threads * per_thread) as f64;
        (
            n / start.elapsed().as_secs_f64(),
            n / (cpu_ns.max(1) as f64 / 1e9),
        )
    })
}

pub fn run(report: &mut Report, quick: bool) {
    let per_thread = if quick { 20_000 } else { 200_000 };
    println!("normalization suite: {per_thread} numbers per thread…");
    // The parser's regexes give the first thread that uses each one a private match
    // cache and pool the caches of every other thread. In a server the import threads
    // are never that first thread, so it is this one, and both runs measure the pooled
    // path the import worker takes.
    normalize_all(&inputs(2_000, 99));
    let (one, one_cpu) = rate(1, per_thread);
    let (two, two_cpu) = rate(2, per_thread);
    report.add(Row {
        figure: "phone normalization, 1 thread".into(),
        value: one,
        unit: "numbers/s",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    report.add(Row {
        figure: "phone normalization, 2 threads".into(),
        value: two,
        unit: "numbers/s",
        reference: Some(("1 thread".into(), one)),
        ratio_target: Target::AtLeast(1.8),
        target: Target::AtLeast(500_000.0),
    });
    report.add(Row {
        figure: "phone normalization, 2 threads, per second of the threads' CPU time".into(),
        value: two_cpu,
        unit: "numbers/CPU-s",
        reference: Some(("1 thread".into(), one_cpu)),
        ratio_target: Target::None,
        target: Target::None,
    });
}
