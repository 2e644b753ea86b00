//! `contactd keys create|list|revoke`: API keys, managed on the database directly (the
//! operator runs it where the database is reachable; keys are never served over gRPC).

use crate::config::{KeysAction, KeysArgs};
use crate::domain::SystemClock;
use crate::service::Services;
use std::sync::Arc;

/// Runs a keys subcommand.
pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    crate::store::migrate(&args.database_url).await?;
    let db = crate::store::connect(&args.database_url, 2).await?;
    let svc = Services::new(db, Arc::new(SystemClock));
    match args.action {
        KeysAction::Create {
            account,
            internal,
            name,
        } => {
            let scope = if internal { None } else { account.as_deref() };
            let (key, token) = svc.create_key(scope, &name).await?;
            println!("id:      {}", key.id);
            println!(
                "scope:   {}",
                key.account_id
                    .as_deref()
                    .unwrap_or("internal (any account)")
            );
            println!("secret:  {token}");
            eprintln!(
                "The secret is shown once; store it now. Send it as `authorization: Bearer <secret>`."
            );
        }
        KeysAction::List { account } => {
            println!(
                "{:<18} {:<40} {:<20} {:<24} status",
                "id", "scope", "name", "created"
            );
            for k in svc.list_keys(account.as_deref()).await? {
                let created = chrono::DateTime::from_timestamp_millis(k.created_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                println!(
                    "{:<18} {:<40} {:<20} {:<24} {}",
                    k.id,
                    k.account_id.as_deref().unwrap_or("internal"),
                    k.name,
                    created,
                    if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    }
                );
            }
        }
        KeysAction::Revoke { id } => {
            svc.revoke_key(&id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}
