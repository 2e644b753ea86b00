//! Bulk DNC: MarkDnc by filter ("everything matching") over a 50,000-contact account,
//! through gRPC; the service walks the selection 1,000 contacts per transaction.

use crate::harness::{Backend, BenchDb, Report, Row, Server, Target};
use contactd::pb;
use std::time::Instant;

pub async fn run(
    report: &mut Report,
    backend: Backend,
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let contacts = if quick { 2_000 } else { 50_000 };
    println!(
        "bulk suite on {}: MarkDnc by filter over {contacts} contacts…",
        backend.name()
    );
    let account = "bench_bulk";
    let db = BenchDb::with_account(backend, pg_url, account, contacts).await?;
    crate::claims::seed(&db.url, account, contacts).await?;
    let server = Server::start(&db.url)?;
    let mut client = server.client().await?;
    let start = Instant::now();
    let result = client
        .mark_dnc(pb::MarkDncRequest {
            account_id: account.into(),
            targets: Some(pb::DncTargets {
                selection: Some(pb::ContactSelection {
                    selection: Some(pb::contact_selection::Selection::Filter(
                        pb::ContactFilter::default(),
                    )),
                }),
                phones: vec![],
                region: String::new(),
            }),
            source: pb::DncSource::Api as i32,
            reason: "bench".into(),
            actor: "bench".into(),
        })
        .await?
        .into_inner()
        .result
        .unwrap_or_default();
    let took = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        result.changed as usize == contacts,
        "changed {} of {contacts}",
        result.changed
    );
    report.add(Row {
        figure: format!(
            "bulk MarkDnc by filter, {contacts} contacts ({})",
            backend.name()
        ),
        value: took,
        unit: "s",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    drop(server);
    db.drop_db().await;
    Ok(())
}
