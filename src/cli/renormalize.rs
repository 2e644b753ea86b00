//! `contactd renormalize [--dry-run]`: re-reads stored numbers with today's parser (on
//! the database directly, like `migrate`) and prints what changed, what collided and
//! what it could not read. See [`crate::service::renormalize`].

use crate::config::RenormalizeArgs;
use crate::domain::SystemClock;
use crate::service::Services;
use crate::service::renormalize::{Change, Suspect};
use std::sync::Arc;

fn row(account_id: &str, contact_id: Option<i64>) -> String {
    match contact_id {
        Some(id) => format!("contact {id} (account {account_id})"),
        None => format!("DNC entry (account {account_id})"),
    }
}

fn change(c: &Change) -> String {
    format!(
        "{}: {} -> {}",
        row(&c.account_id, c.contact_id),
        c.old,
        c.new
    )
}

fn suspect(s: &Suspect) -> String {
    format!(
        "{}: {}: {}",
        row(&s.account_id, s.contact_id),
        s.phone,
        s.reason
    )
}

/// Runs the command and prints its report.
pub async fn run(args: RenormalizeArgs) -> anyhow::Result<()> {
    crate::store::migrate(&args.database.database_url).await?;
    let db = crate::store::connect(&args.database.database_url, 2).await?;
    let svc = Services::new(db, Arc::new(SystemClock));
    let report = svc.renormalize(args.dry_run).await?;
    println!(
        "read {} contacts and {} DNC entries",
        report.contacts_read, report.dnc_entries_read
    );
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    println!("{verb}: {}", report.changed.len());
    for c in &report.changed {
        println!("  {}", change(c));
    }
    println!("collisions, left unchanged: {}", report.collisions.len());
    for c in &report.collisions {
        let holder = match c.holder {
            Some(id) => format!("contact {id}"),
            None if c.change.contact_id.is_none() => "the DNC list".to_string(),
            None => "another contact moving there".to_string(),
        };
        println!("  {}, held by {holder}", change(&c.change));
    }
    println!("unreadable, left unchanged: {}", report.unreadable.len());
    for s in &report.unreadable {
        println!("  {}", suspect(s));
    }
    println!(
        "not valid today, left unchanged (compare with the source file): {}",
        report.not_valid.len()
    );
    for s in &report.not_valid {
        println!("  {}", suspect(s));
    }
    Ok(())
}
