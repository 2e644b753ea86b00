//! Search and GetContact latency in a 50,000-contact account among 1,000,000 rows, and
//! unary GetContact throughput with concurrent clients. The reference is the same store
//! query run directly on the database (no gRPC, no server) in the same run.

use crate::harness::{Backend, BenchDb, Latencies, Report, Row, Server, Target};
use contactd::domain::filter::{ContactFilter, SearchQuery};
use contactd::pb;
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::time::{Duration, Instant};

const FIRST: [&str; 20] = [
    "John",
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
];
const LAST: [&str; 20] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
];
const AREAS: [&str; 8] = ["212", "415", "312", "617", "303", "206", "512", "404"];

/// Deterministic pseudo-random index (an LCG step; the seed is the row number).
fn pick(i: u64, salt: u64, n: usize) -> usize {
    ((i.wrapping_mul(6364136223846793005)
        .wrapping_add(salt.wrapping_mul(1442695040888963407))
        >> 33)
        % n as u64) as usize
}

/// Fills `accounts` accounts of `per_account` contacts each (account 0 is the one measured).
async fn generate(
    db: &sea_orm::DatabaseConnection,
    accounts: u64,
    per_account: u64,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    for a in 0..accounts {
        db.execute_unprepared(&format!(
            "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, created_at, updated_at) \
             VALUES ('bench_acc_{a}', 'Bench {a}', 'CUSTOM', {per_account}, {per_account}, 'US', {now}, {now})"
        ))
        .await?;
    }
    let total = accounts * per_account;
    let batch = 2_000u64;
    let mut i = 0u64;
    while i < total {
        let txn = db.begin().await?;
        let end = (i + batch).min(total);
        let mut sql = String::with_capacity(300 * batch as usize);
        sql.push_str(
            "INSERT INTO contacts (account_id, phone, phone_national, first_name, last_name, email, name_key, last_key, \
             created_at, updated_at) VALUES ",
        );
        for k in i..end {
            let account = k % accounts;
            let j = k / accounts;
            let national = format!("{}{:07}", AREAS[(j % 8) as usize], 5_550_000 + j);
            let first = FIRST[pick(k, 1, FIRST.len())];
            let last = LAST[pick(k, 2, LAST.len())];
            if k > i {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('bench_acc_{account}','+1{national}','{national}','{first}','{last}','{f}.{l}{k}@example.com','{f} {l}','{l}',{now},{now})",
                f = first.to_lowercase(),
                l = last.to_lowercase(),
            ));
        }
        txn.execute_unprepared(&sql).await?;
        txn.commit().await?;
        i = end;
    }
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}

pub async fn run(
    report: &mut Report,
    backend: Backend,
    pg_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let (accounts, per_account, iterations, seconds) = if quick {
        (4, 5_000, 20, 1)
    } else {
        (20, 50_000, 200, 5)
    };
    let total = accounts * per_account;
    println!(
        "search suite on {}: generating {total} contacts in {accounts} accounts…",
        backend.name()
    );
    let db_handle = BenchDb::create(backend, pg_url).await?;
    contactd::store::migrate(&db_handle.url).await?;
    let db = contactd::store::connect(&db_handle.url, 4).await?;
    let t = Instant::now();
    generate(&db, accounts, per_account).await?;
    println!("  generated in {:.1}s", t.elapsed().as_secs_f64());

    let server = Server::start(&db_handle.url)?;
    let mut client = server.client().await?;
    let account = "bench_acc_0".to_string();
    let queries = ["joh", "smith", "mary j", "415-555", "212", "+1 617 555"];
    let where_ = format!("{per_account} of {total}");

    // Warm up: server pool connections, plan caches.
    for q in queries {
        let filter = pb::ContactFilter {
            query: q.into(),
            ..Default::default()
        };
        for _ in 0..5 {
            client
                .list_contacts(pb::ListContactsRequest {
                    account_id: account.clone(),
                    filter: Some(filter.clone()),
                    page_size: 50,
                    page_token: String::new(),
                })
                .await?;
        }
    }
    // Search through gRPC, and the same store query directly.
    let mut via_grpc = Latencies::default();
    let mut direct = Latencies::default();
    // The direct query's latencies by search, to see which one makes the tail.
    let mut by_query: Vec<Latencies> = queries.iter().map(|_| Latencies::default()).collect();
    for round in 0..iterations {
        let q = queries[round % queries.len()];
        let t = Instant::now();
        let page = client
            .list_contacts(pb::ListContactsRequest {
                account_id: account.clone(),
                filter: Some(pb::ContactFilter {
                    query: q.into(),
                    ..Default::default()
                }),
                page_size: 50,
                page_token: String::new(),
            })
            .await?
            .into_inner();
        via_grpc.push(t.elapsed());
        anyhow::ensure!(!page.contacts.is_empty(), "search {q:?} found nothing");
        let filter = ContactFilter {
            query: SearchQuery::parse(q),
            ..Default::default()
        };
        let t = Instant::now();
        contactd::store::contacts::list(&db, &account, &filter, None, 51).await?;
        direct.push(t.elapsed());
        by_query[round % queries.len()].push(t.elapsed());
    }
    for (name, q, target) in [
        ("p50", 0.5, Target::None),
        ("p99", 0.99, Target::AtMost(20.0)),
    ] {
        report.add(Row {
            figure: format!("search {name} ({}, account of {where_})", backend.name()),
            value: via_grpc.quantile_ms(q),
            unit: "ms",
            reference: Some((format!("store query {name}"), direct.quantile_ms(q))),
            ratio_target: Target::None,
            target,
        });
    }

    for (q, mut lat) in queries.iter().zip(by_query) {
        report.add(Row {
            figure: format!("store query p99 for search {q:?} ({})", backend.name()),
            value: lat.quantile_ms(0.99),
            unit: "ms",
            reference: None,
            ratio_target: Target::None,
            target: Target::None,
        });
    }

    // GetContact latency on random ids of the account.
    let ids: Vec<i64> = {
        let rows =
            contactd::store::contacts::list(&db, &account, &ContactFilter::default(), None, 1000)
                .await?;
        rows.into_iter().map(|c| c.id).collect()
    };
    let mut get = Latencies::default();
    let mut get_direct = Latencies::default();
    for k in 0..iterations * 5 {
        let id = ids[pick(k as u64, 3, ids.len())];
        let t = Instant::now();
        client
            .get_contact(pb::GetContactRequest {
                account_id: account.clone(),
                contact_id: id,
            })
            .await?;
        get.push(t.elapsed());
        let t = Instant::now();
        contactd::store::contacts::get(&db, &account, id).await?;
        get_direct.push(t.elapsed());
    }
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        report.add(Row {
            figure: format!("GetContact {name} ({})", backend.name()),
            value: get.quantile_ms(q),
            unit: "ms",
            reference: Some((format!("store query {name}"), get_direct.quantile_ms(q))),
            ratio_target: Target::None,
            target: Target::None,
        });
    }

    // Throughput: 4 connections × 16 requests in flight each.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..4u64 {
        let client = server.client().await?;
        for w in 0..16u64 {
            let mut client = client.clone();
            let account = account.clone();
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let id = ids[pick(n * 64 + c * 16 + w, 4, ids.len())];
                    client
                        .get_contact(pb::GetContactRequest {
                            account_id: account.clone(),
                            contact_id: id,
                        })
                        .await?;
                    n += 1;
                }
                anyhow::Ok(n)
            }));
        }
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    report.add(Row {
        figure: format!("GetContact throughput ({}, 64 in flight)", backend.name()),
        value: done as f64 / seconds as f64,
        unit: "req/s",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    let (rss, peak) = server.rss_kib();
    report.add(Row {
        figure: format!(
            "server RSS after the search suite ({}, peak {} MiB)",
            backend.name(),
            peak / 1024
        ),
        value: rss as f64 / 1024.0,
        unit: "MiB",
        reference: None,
        ratio_target: Target::None,
        target: Target::None,
    });
    drop(server);
    db.close().await.ok();
    db_handle.drop_db().await;
    Ok(())
}
