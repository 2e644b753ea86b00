//! Faults: the database going away and coming back, replicas racing for the same rows.
//! The PostgreSQL outage test runs a private server it starts itself (initdb in a temp
//! directory, its own port, as the postgres user) — never the machine's shared instance.

use crate::helpers::{Backend, TestApp, TestDb};
use contactd::domain::SystemClock;
use contactd::pb;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

both!(plan_limits_hold_across_replicas);

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
