//! Claim latency benchmark: a 50,000-member campaign on PostgreSQL, 4 dialers claiming
//! batches of 100 concurrently over gRPC until the campaign is drained. Prints p50/p99
//! latency and checks that no contact was handed out twice.
//!
//! ```sh
//! cargo run --release --bin claim_bench -- [BASE_URL] [MEMBERS] [DIALERS] [BATCH]
//! ```
//! BASE_URL (default `postgres://postgres@127.0.0.1:5432/postgres`) names a server; the
//! benchmark creates a fresh database on it and drops it at the end.

use contactd::config::Settings;
use contactd::domain::{NewContact, Phone};
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use contactd::service::contacts::new_row;
use contactd::startup::Application;
use sea_orm::sqlx::{self, Connection, PgConnection};
use sea_orm::{EntityTrait, TransactionTrait};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let members: usize = args.get(2).map_or(Ok(50_000), |s| s.parse())?;
    let dialers: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let batch: i32 = args.get(4).map_or(Ok(100), |s| s.parse())?;

    let name = format!("contactd_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&base).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let url = match base.rsplit_once('/') {
        Some((head, _)) => format!("{head}/{name}"),
        None => anyhow::bail!("BASE_URL must end in /<database>"),
    };
    let result = run(&url, members, dialers, batch).await;
    if std::env::var("CLAIM_BENCH_KEEP").is_ok() {
        println!("kept database {name}");
        return result;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    result
}

async fn run(url: &str, members: usize, dialers: usize, batch: i32) -> anyhow::Result<()> {
    let app = Application::build(Settings::new("127.0.0.1:0".parse()?, url)).await?;
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending::<()>()));
    let mut client = ContactServiceClient::connect(format!("http://{addr}")).await?;
    let account = client
        .create_account(pb::CreateAccountRequest {
            name: "bench".into(),
            plan: pb::Plan::Custom as i32,
            contact_limit: members as i64,
            default_region: "US".into(),
        })
        .await?
        .into_inner()
        .account
        .unwrap()
        .id;

    let started = Instant::now();
    seed(url, &account, members).await?;
    let analyze = std::env::var("CLAIM_BENCH_NO_ANALYZE").is_err();
    let filter = pb::ContactSelection {
        selection: Some(pb::contact_selection::Selection::Filter(
            pb::ContactFilter::default(),
        )),
    };
    let added = client
        .add_to_campaign(pb::AddToCampaignRequest {
            account_id: account.clone(),
            campaign_id: "bench".into(),
            selection: Some(filter),
        })
        .await?
        .into_inner()
        .result
        .unwrap()
        .changed;
    if analyze {
        // What autovacuum does within a minute of a bulk load; CLAIM_BENCH_NO_ANALYZE=1
        // measures the minute before it.
        let db = contactd::store::connect(url, 1).await?;
        sea_orm::ConnectionTrait::execute_unprepared(&db, "ANALYZE").await?;
    }
    println!(
        "seeded {members} contacts, {added} campaign members in {:.1?} (analyzed: {analyze})",
        started.elapsed()
    );

    let mut tasks = Vec::new();
    for d in 0..dialers {
        let mut client = ContactServiceClient::connect(format!("http://{addr}")).await?;
        let account = account.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut got = Vec::new();
            loop {
                let t = Instant::now();
                let contacts = client
                    .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                        account_id: account.clone(),
                        campaign_id: "bench".into(),
                        dialer_id: format!("dialer-{d}"),
                        max_contacts: batch,
                        lease_seconds: 3600,
                        rules: Some(pb::DialRules {
                            window: Some(pb::CallingWindow {
                                start_minute: 0,
                                end_minute: 1440,
                            }),
                            ..Default::default()
                        }),
                    })
                    .await
                    .expect("claim")
                    .into_inner()
                    .contacts;
                latencies.push(t.elapsed());
                if contacts.is_empty() {
                    return (latencies, got);
                }
                got.extend(contacts.into_iter().map(|c| c.contact.unwrap().id));
            }
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    let mut seen = HashSet::new();
    let mut twice = 0;
    for t in tasks {
        let (lat, got) = t.await?;
        all.extend(lat);
        for id in got {
            if !seen.insert(id) {
                twice += 1;
            }
        }
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "{} claims of up to {batch} by {dialers} concurrent dialers over {members} members: \
         p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        all.len(),
        pct(0.50),
        pct(0.99),
        all[all.len() - 1]
    );
    println!(
        "handed out {} distinct contacts; {twice} handed out twice",
        seen.len()
    );
    anyhow::ensure!(twice == 0, "a contact was handed out twice");
    anyhow::ensure!(seen.len() == members, "not every member was handed out");
    Ok(())
}

/// Inserts `n` contacts straight through the store's row builder (the API path is not
/// what is measured here), 1,000 per statement.
async fn seed(url: &str, account: &str, n: usize) -> anyhow::Result<()> {
    let db = contactd::store::connect(url, 2).await?;
    let now = chrono::Utc::now().timestamp_millis();
    for start in (0..n).step_by(1000) {
        let rows = (start..(start + 1000).min(n)).map(|i| {
            let national = format!("212{:07}", 2_000_000 + i);
            let phone = Phone::from_stored(format!("+1{national}"), national, 1);
            let c = NewContact {
                phone,
                first_name: format!("C{i}"),
                last_name: String::new(),
                email: None,
                company: String::new(),
                title: String::new(),
                custom_fields: Default::default(),
                time_zone: String::new(),
            };
            new_row(account, &c, None, None, now)
        });
        let txn = db.begin().await?;
        contactd::entity::contact::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    contactd::entity::account::Entity::update_many()
        .col_expr(
            contactd::entity::account::Column::ContactCount,
            sea_orm::sea_query::Expr::value(n as i64),
        )
        .exec(&db)
        .await?;
    Ok(())
}
