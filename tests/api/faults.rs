//! Faults: the database going away and coming back, replicas racing for the same rows.
//! The PostgreSQL outage test runs a private server it starts itself (initdb in a temp
//! directory, its own port, as the postgres user) — never the machine's shared instance.

use crate::helpers::{Backend, ServerProcess, TestApp, TestDb};
use contactd::domain::SystemClock;
use contactd::pb;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

both!(
    plan_limits_hold_across_replicas,
    a_live_import_is_never_failed_by_another_replicas_sweep,
);

async fn plan_limits_hold_across_replicas(app: TestApp) {
    let replica = app.replica().await;
    let account = app.account_with_limit(30).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let mut client = if i % 2 == 0 {
            app.new_client().await
        } else {
            replica.new_client().await
        };
        let account = account.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_contact(pb::CreateContactRequest {
                    account_id: account,
                    contact: Some(pb::ContactInput {
                        phone: format!("+1415555{:04}", 1000 + i),
                        ..Default::default()
                    }),
                })
                .await
                .map(|_| ())
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => created += 1,
            Err(e) => assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}"),
        }
    }
    assert_eq!(created, 30);
    assert_eq!(app.get_account(&account).await.contact_count, 30);
    assert_eq!(
        replica.list_all(&account, Default::default()).await.len(),
        30
    );
}

async fn a_live_import_is_never_failed_by_another_replicas_sweep(app: TestApp) {
    use pb::import_contacts_request::Payload;
    use pb::import_contacts_response::Event;
    // The other replica counts a batch as interrupted after 5 s without a heartbeat
    // and sweeps every 2.5 s.
    let sweeper = TestApp::spawn_configured(app.db.clone(), Arc::new(SystemClock), |s| {
        s.import_stale_secs = 5
    })
    .await;
    let account = app.account(pb::Plan::Professional).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let send = async |payload| {
        tx.send(pb::ImportContactsRequest {
            payload: Some(payload),
        })
        .await
        .unwrap()
    };
    send(Payload::Options(pb::ImportOptions {
        account_id: account.clone(),
        ..Default::default()
    }))
    .await;
    send(Payload::Chunk(b"phone\n+14155552671\n".to_vec())).await;
    let mut resp = app
        .client
        .clone()
        .import_contacts(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(Event::Started(batch)) = resp.message().await.unwrap().and_then(|m| m.event) else {
        panic!("started first");
    };
    // A slow upload: nothing arrives for longer than the stale timeout.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let get = pb::GetImportBatchRequest {
        account_id: account.clone(),
        batch_id: batch.id.clone(),
    };
    let seen = sweeper.client.clone().get_import_batch(get.clone()).await;
    let seen = seen.unwrap().into_inner().batch.unwrap();
    assert_eq!(seen.status, pb::ImportStatus::Running as i32, "{seen:?}");
    send(Payload::Chunk(b"+14155552672\n".to_vec())).await;
    drop(tx);
    let mut last = None;
    while let Some(m) = resp.message().await.unwrap() {
        last = m.event;
    }
    let Some(Event::Finished(done)) = last else {
        panic!("no finished batch: {last:?}");
    };
    assert_eq!(done.status, pb::ImportStatus::Completed as i32);
    assert_eq!(done.counts.unwrap().imported, 2);
}

/// A PostgreSQL server of our own in a temporary directory.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl PrivatePg {
    fn start() -> PrivatePg {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix("contactd-pg-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        run(
            "chown",
            &["postgres:postgres", dir.path().to_str().unwrap()],
        );
        let data = dir.path().join("data");
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        let pg = PrivatePg { dir, bin, port };
        pg.ctl("start");
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
        ];
        if action == "stop" {
            args.extend(["-m", "immediate"]);
        }
        args.push(action);
        as_postgres(&self.bin.join("pg_ctl"), &args);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_postgres(program: &std::path::Path, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn health(app: &TestApp) -> i32 {
    HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
)]
async fn postgres_outage_is_unavailable_then_recovers_by_itself() {
    let pg = PrivatePg::start();
    let db = Arc::new(TestDb::external(pg.url(), Backend::Postgres));
    let app = TestApp::spawn_on(db, Arc::new(SystemClock)).await;
    let account = app.account(pb::Plan::Professional).await;
    let kept = app.contact(&account, "+14155552671", "Ann").await;

    // Load: readers and writers going on through the outage.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..4 {
        let mut client = app.new_client().await;
        let (stop, account) = (stop.clone(), account.clone());
        load.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = if w % 2 == 0 {
                    client
                        .get_contact(pb::GetContactRequest {
                            account_id: account.clone(),
                            contact_id: kept.id,
                        })
                        .await
                        .map(|_| ())
                } else {
                    i += 1;
                    client
                        .create_contact(pb::CreateContactRequest {
                            account_id: account.clone(),
                            contact: Some(pb::ContactInput {
                                phone: format!("+1212555{:04}", w * 1000 + i),
                                ..Default::default()
                            }),
                        })
                        .await
                        .map(|_| ())
                };
                codes.push(r.map_or_else(|e| e.code(), |_| Code::Ok));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            codes
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    pg.ctl("stop");
    let mut client = app.client.clone();
    wait_for(
        "UNAVAILABLE while the database is down",
        Duration::from_secs(30),
        async || {
            let r = client
                .get_account(pb::GetAccountRequest {
                    account_id: account.clone(),
                })
                .await;
            matches!(r, Err(ref e) if e.code() == Code::Unavailable)
        },
    )
    .await;
    wait_for("health NOT_SERVING", Duration::from_secs(15), async || {
        health(&app).await == ServingStatus::NotServing as i32
    })
    .await;

    pg.ctl("start");
    wait_for(
        "requests succeed again",
        Duration::from_secs(60),
        async || {
            client
                .get_account(pb::GetAccountRequest {
                    account_id: account.clone(),
                })
                .await
                .is_ok()
        },
    )
    .await;
    wait_for(
        "health SERVING again",
        Duration::from_secs(15),
        async || health(&app).await == ServingStatus::Serving as i32,
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        for code in task.await.unwrap() {
            assert!(
                matches!(code, Code::Ok | Code::Unavailable),
                "a request failed with {code:?}"
            );
        }
    }
    let got = client
        .get_contact(pb::GetContactRequest {
            account_id: account.clone(),
            contact_id: kept.id,
        })
        .await
        .unwrap();
    assert_eq!(got.into_inner().contact.unwrap().phone, "+14155552671");
}

const KILL_ROWS: usize = 200_000;

/// `phone,first_name` with KILL_ROWS distinct valid numbers.
fn kill_file() -> Vec<u8> {
    let mut f = String::from("phone,first_name\n");
    for i in 0..KILL_ROWS {
        f.push_str(&format!("+1415{:07},Row{i}\n", 2_000_000 + i));
    }
    f.into_bytes()
}

/// Streams `file` in 64 KiB pieces; calls `on_progress` with each committed `imported`
/// count while the upload is live (returning true stops reading and drops the stream).
/// Returns the batch id and how the stream ended.
async fn import_watching(
    client: &mut pb::contact_service_client::ContactServiceClient<tonic::transport::Channel>,
    opts: pb::ImportOptions,
    file: Arc<Vec<u8>>,
    mut on_progress: impl FnMut(i64) -> bool,
) -> (String, Result<pb::ImportBatch, tonic::Status>) {
    use pb::import_contacts_request::Payload;
    use pb::import_contacts_response::Event;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        let mut msgs = vec![Payload::Options(opts)];
        msgs.extend(file.chunks(64 * 1024).map(|c| Payload::Chunk(c.to_vec())));
        for payload in msgs {
            let msg = pb::ImportContactsRequest {
                payload: Some(payload),
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    let mut resp = client
        .import_contacts(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("import accepted")
        .into_inner();
    let mut batch = String::new();
    loop {
        match resp.message().await {
            Ok(Some(m)) => match m.event {
                Some(Event::Started(b)) => batch = b.id,
                Some(Event::Progress(p)) if on_progress(p.counts.unwrap_or_default().imported) => {
                    return (batch, Err(tonic::Status::aborted("stopped watching")));
                }
                Some(Event::Finished(b)) => return (batch, Ok(b)),
                Some(Event::Progress(_)) | None => {}
            },
            Ok(None) => return (batch, Err(tonic::Status::unknown("no finished batch"))),
            Err(e) => return (batch, Err(e)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
)]
async fn kill_9_mid_import_leaves_a_failed_batch_with_exact_counts_and_a_reimport_completes_it() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut first = ServerProcess::start(&db.url, &[]).await;
    let account = first
        .client
        .create_account(pb::CreateAccountRequest {
            name: "Kill Co".into(),
            plan: pb::Plan::Custom as i32,
            contact_limit: 250_000,
            default_region: "US".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap()
        .id;
    let file = Arc::new(kill_file());
    let opts = |rid: &str| pb::ImportOptions {
        account_id: account.clone(),
        file_name: "big.csv".into(),
        client_request_id: rid.into(),
        ..Default::default()
    };

    let mut client = first.client.clone();
    // The SIGKILL lands while the upload is live (the response stream is dropped only
    // after it), so the server dies mid-import instead of first seeing the client leave
    // and cancelling the batch.
    let (batch_id, ended) = import_watching(&mut client, opts("first"), file.clone(), |imported| {
        let kill = imported >= 20_000;
        if kill {
            first.kill();
        }
        kill
    })
    .await;
    assert!(
        ended.is_err(),
        "the import finished before the kill: {ended:?}"
    );

    let mut second = ServerProcess::start(&db.url, &["--import-stale-secs", "5"]).await;
    let get_batch = async |c: &mut pb::contact_service_client::ContactServiceClient<_>| {
        c.get_import_batch(pb::GetImportBatchRequest {
            account_id: account.clone(),
            batch_id: batch_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap()
    };
    let mut client = second.client.clone();
    let start = Instant::now();
    let batch = loop {
        let b = get_batch(&mut client).await;
        if b.status != pb::ImportStatus::Running as i32 {
            break b;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the killed import is still running"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(batch.status, pb::ImportStatus::Failed as i32);
    assert!(
        batch.error_message.contains("interrupted"),
        "{}",
        batch.error_message
    );
    let c = batch.counts.unwrap();
    let stored = contact_count(&mut client, &account).await;
    let counted = stored_rows(&db.url, &account).await;
    assert_eq!(stored, counted, "the account's count vs the rows stored");
    assert_eq!(
        c.imported, stored,
        "the batch counts exactly what was committed"
    );
    assert_eq!(
        c.rows, c.imported,
        "every committed row was new and valid: {c:?}"
    );
    assert!(
        (20_000..KILL_ROWS as i64).contains(&stored),
        "committed before the kill: {stored}"
    );

    let (_, again) = import_watching(&mut client, opts("second"), file, |_| false).await;
    let again = again.expect("the re-import completes");
    let a = again.counts.unwrap();
    println!(
        "kill -9: {stored} rows committed before the kill; re-import: {} imported, {} \
         duplicates of stored rows",
        a.imported, a.duplicates_existing
    );
    assert_eq!(again.status, pb::ImportStatus::Completed as i32);
    assert_eq!(a.imported, KILL_ROWS as i64 - stored);
    assert_eq!(a.duplicates_existing, stored);
    assert_eq!(
        a.invalid + a.over_limit + a.duplicates_in_file + a.updated,
        0
    );
    let total = contact_count(&mut client, &account).await;
    assert_eq!(total, KILL_ROWS as i64);
    second.kill();
}

/// The account's stored contact count, as the API reports it.
async fn contact_count(
    client: &mut pb::contact_service_client::ContactServiceClient<tonic::transport::Channel>,
    account: &str,
) -> i64 {
    let req = pb::GetAccountRequest {
        account_id: account.into(),
    };
    let account = client.get_account(req).await.unwrap().into_inner().account;
    account.unwrap().contact_count
}

/// The account's contact rows, counted in the database itself.
async fn stored_rows(url: &str, account: &str) -> i64 {
    use sea_orm::sqlx::{Connection, PgConnection};
    let mut c = PgConnection::connect(url).await.unwrap();
    let n: i64 = sea_orm::sqlx::query_scalar("SELECT count(*) FROM contacts WHERE account_id = $1")
        .bind(account)
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.ok();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
)]
/// While the database is down, requests are answered UNAVAILABLE within a client's
/// 4-second deadline (the acquire timeout is 2 s, not 10 s), so a client can tell an
/// outage from a slow server; and an import the outage broke says so on its batch once
/// the database is back, instead of "the server stopped".
async fn an_outage_is_answered_unavailable_within_a_short_deadline_and_recorded_truthfully() {
    use pb::import_contacts_request::Payload;
    use pb::import_contacts_response::Event;
    let pg = PrivatePg::start();
    let db = Arc::new(TestDb::external(pg.url(), Backend::Postgres));
    let app = TestApp::spawn_on(db, Arc::new(SystemClock)).await;
    let account = app.account(pb::Plan::Professional).await;
    // An import under way: options and a first part, the upload held open.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut first = String::from("phone\n");
    for i in 0..20 {
        first.push_str(&format!("+1415555{:04}\n", 2000 + i));
    }
    for payload in [
        Payload::Options(pb::ImportOptions {
            account_id: account.clone(),
            ..Default::default()
        }),
        Payload::Chunk(first.into_bytes()),
    ] {
        tx.send(pb::ImportContactsRequest {
            payload: Some(payload),
        })
        .await
        .unwrap();
    }
    let mut import = app
        .client
        .clone()
        .import_contacts(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(Event::Started(batch)) = import.message().await.unwrap().and_then(|m| m.event) else {
        panic!("started first");
    };

    pg.ctl("stop");
    let mut client = app.client.clone();
    for i in 0..4 {
        let mut request = tonic::Request::new(pb::GetAccountRequest {
            account_id: account.clone(),
        });
        request.set_timeout(Duration::from_secs(4));
        let err = client.get_account(request).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "request {i}: {err:?}");
    }
    // The import's next chunk cannot commit; its stream ends UNAVAILABLE.
    let mut more = String::new();
    for i in 0..20 {
        more.push_str(&format!("+1415555{:04}\n", 3000 + i));
    }
    let _ = tx
        .send(pb::ImportContactsRequest {
            payload: Some(Payload::Chunk(more.into_bytes())),
        })
        .await;
    drop(tx);
    let ended = loop {
        match import.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the import completed without its database"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");

    pg.ctl("start");
    let mut recorded = None;
    wait_for(
        "the batch's end recorded",
        Duration::from_secs(30),
        async || {
            let b = client
                .get_import_batch(pb::GetImportBatchRequest {
                    account_id: account.clone(),
                    batch_id: batch.id.clone(),
                })
                .await;
            match b {
                Ok(b) => {
                    let b = b.into_inner().batch.unwrap();
                    let done = b.status != pb::ImportStatus::Running as i32;
                    recorded = Some(b);
                    done
                }
                Err(_) => false,
            }
        },
    )
    .await;
    let b = recorded.unwrap();
    assert_eq!(b.status, pb::ImportStatus::Failed as i32, "{b:?}");
    assert!(
        b.error_message.contains("database became unavailable"),
        "{}",
        b.error_message
    );
}
