//! `safety`: the interleaving checker of the test suite (`tests/api/checker.rs`, the same
//! file) run longer, against two server processes on one database: misbehaving dialers,
//! streams, DNC and Call Now desks, late call reports. Reports the operations run, the
//! contacts handed out and the violations found, which must be 0 (any fails the run, with
//! the seed to replay: `CONTACTD_CHECKER_SEED`).

use crate::checker::{self, Config};
use crate::harness::{Backend, BenchDb, Report, Row, Server, Target};
use std::time::Duration;

pub async fn run(
    report: &mut Report,
    backend: Backend,
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let seconds = if quick { 10 } else { 120 };
    let cfg = Config {
        seed: Config::seed_from_env(),
        duration: Duration::from_secs(seconds),
        unary_dialers: 4,
        stream_dialers: 3,
    };
    println!(
        "safety suite on {}: {seconds} s, seed {}…",
        backend.name(),
        cfg.seed
    );
    let db = BenchDb::create(backend, pg_url).await?;
    contactd::store::migrate(&db.url).await?;
    let (a, b) = (Server::start(&db.url)?, Server::start(&db.url)?);
    let out = checker::run(vec![a.client().await?, b.client().await?], cfg).await;
    let name = backend.name();
    for (figure, value, target) in [
        (
            format!(
                "safety: RPCs in {seconds} s against 2 replicas, seed {} ({name})",
                out.seed
            ),
            out.ops as f64,
            Target::None,
        ),
        (
            format!("safety: contacts handed out ({name})"),
            out.handouts as f64,
            Target::None,
        ),
        (
            format!("safety: of those, callbacks delivered ({name})"),
            out.callbacks as f64,
            Target::None,
        ),
        (
            format!("safety: DNC marks acknowledged ({name})"),
            out.marks as f64,
            Target::None,
        ),
        (
            format!("safety: of those, by a named list's import ({name})"),
            out.list_marks as f64,
            Target::None,
        ),
        (
            format!(
                "safety: violations found (DNC hand-outs, two leases on a person, frequency, over-demand streams, INTERNAL) ({name})"
            ),
            out.violations.len() as f64,
            Target::AtMost(0.0),
        ),
    ] {
        report.add(Row {
            figure,
            value,
            unit: "",
            reference: None,
            ratio_target: Target::None,
            target,
        });
    }
    drop((a, b));
    db.drop_db().await;
    anyhow::ensure!(
        out.violations.is_empty(),
        "safety ({name}), seed {}: {} violations:\n{}\n{}",
        out.seed,
        out.violations.len(),
        out.violations.join("\n"),
        out.timelines.join("\n")
    );
    Ok(())
}
