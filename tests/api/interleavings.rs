//! The randomized interleaving checker (`checker`) as a test: a bounded run per backend
//! with two replicas. `CONTACTD_CHECKER_SEED` replays a seed, `CONTACTD_CHECKER_SECONDS`
//! sets the run's length (default 20). The bench's `safety` suite runs it longer.

use crate::checker::{self, Config};
use crate::helpers::TestApp;
use std::time::Duration;

both!(the_dialer_keeps_its_promises_under_any_interleaving);

async fn the_dialer_keeps_its_promises_under_any_interleaving(app: TestApp) {
    let replica = app.replica().await;
    let seconds = std::env::var("CONTACTD_CHECKER_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let cfg = Config {
        seed: Config::seed_from_env(),
        duration: Duration::from_secs(seconds),
        unary_dialers: 3,
        stream_dialers: 2,
    };
    let backend = format!("{:?}", app.db.backend).to_lowercase();
    println!("interleaving checker ({backend}): seed {}", cfg.seed);
    let out = checker::run(vec![app.client.clone(), replica.client.clone()], cfg).await;
    let summary = format!(
        "interleaving checker ({backend}): seed {}, {} s, {} RPCs, {} hand-outs ({} callbacks), {} DNC marks ({} by named lists), {} violations",
        out.seed,
        seconds,
        out.ops,
        out.handouts,
        out.callbacks,
        out.marks,
        out.list_marks,
        out.violations.len()
    );
    let dir = env!("CARGO_TARGET_TMPDIR");
    let _ = std::fs::write(
        format!("{dir}/checker-{backend}.txt"),
        format!("{summary}\n"),
    );
    assert!(
        out.violations.is_empty(),
        "{summary} (replay: CONTACTD_CHECKER_SEED={}):\n{}\n{}",
        out.seed,
        out.violations.join("\n"),
        out.timelines.join("\n")
    );
    assert!(
        out.handouts >= 20,
        "the run exercised too little: {summary}"
    );
}
