//! Test harness: [`TestApp`] spawns a server on port 0 over a fresh database (a temp
//! SQLite file, or a new PostgreSQL database created from `CONTACTD_TEST_PG_URL`) and
//! hands out a connected client. Logs are quiet unless `TEST_LOG` is set.

#![allow(dead_code)]

use contactd::config::{LogFormat, Settings};
use contactd::domain::clock::FixedClock;
use contactd::domain::{Clock, SystemClock};
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use contactd::startup::Application;
use sea_orm::sqlx::{Connection, PgConnection};
use std::sync::Arc;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The environment variable naming the PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "CONTACTD_TEST_PG_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares tests that run on both backends: for each `async fn name(app: TestApp)` given,
/// generates `name::sqlite` and `name::postgres`.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(pg_tests), ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it")]
            async fn postgres() {
                super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await
            }
        }
    )+};
}

/// A fresh database for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("contactd.db").display());
                TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
            Backend::Postgres => {
                let base = std::env::var(PG_URL_VAR)
                    .unwrap_or_else(|_| panic!("{PG_URL_VAR} must be set for PostgreSQL tests"));
                let name = format!("contactd_t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base}: {e}"));
                sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name}"
                )))
                .execute(&mut admin)
                .await
                .expect("create test database");
                admin.close().await.ok();
                let url = replace_db_name(&base, &name);
                TestDb {
                    url,
                    backend,
                    _dir: None,
                    pg_admin: Some((base, name)),
                }
            }
        }
    }
}

/// `postgres://u@h:5432/test?x=y` with the database name replaced.
fn replace_db_name(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = head[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(head.len());
    format!("{}/{name}{query}", &head[..path_start])
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg_admin.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = PgConnection::connect(&base).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(sql))
                            .execute(&mut c)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server and a client connected to it.
pub struct TestApp {
    pub client: ContactServiceClient<Channel>,
    pub channel: Channel,
    pub addr: std::net::SocketAddr,
    pub db: Arc<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// A server over a fresh database on `backend`, with the wall clock.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with_clock(backend, Arc::new(SystemClock)).await
    }

    /// A server over a fresh database, with a given clock.
    pub async fn spawn_with_clock(backend: Backend, clock: Arc<dyn Clock>) -> TestApp {
        let db = Arc::new(TestDb::new(backend).await);
        Self::spawn_on(db, clock).await
    }

    /// Another server (a replica) on this server's database.
    pub async fn replica(&self) -> TestApp {
        Self::spawn_on(self.db.clone(), Arc::new(SystemClock)).await
    }

    /// A server on an existing database.
    pub async fn spawn_on(db: Arc<TestDb>, clock: Arc<dyn Clock>) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            contactd::telemetry::init(LogFormat::Text);
        }
        let settings = Settings::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
        let app = Application::build_with_clock(settings, clock)
            .await
            .expect("server builds");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("client connects");
        TestApp {
            client: ContactServiceClient::new(channel.clone()),
            channel,
            addr,
            db,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    /// A fresh client (its own HTTP/2 connection).
    pub async fn new_client(&self) -> ContactServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("client connects");
        ContactServiceClient::new(channel)
    }

    // ---- conveniences used across the suite ----

    /// Creates an account on a plan; returns its id.
    pub async fn account(&self, plan: pb::Plan) -> String {
        self.account_with(plan, 0, "US").await
    }

    /// Creates an account with a custom limit; returns its id.
    pub async fn account_with_limit(&self, limit: i64) -> String {
        self.account_with(pb::Plan::Custom, limit, "US").await
    }

    /// Creates an account; returns its id.
    pub async fn account_with(&self, plan: pb::Plan, limit: i64, region: &str) -> String {
        self.client
            .clone()
            .create_account(pb::CreateAccountRequest {
                name: "Test Co".into(),
                plan: plan as i32,
                contact_limit: limit,
                default_region: region.into(),
            })
            .await
            .expect("create account")
            .into_inner()
            .account
            .unwrap()
            .id
    }

    /// Creates a contact with a phone and first name; returns it.
    pub async fn contact(&self, account: &str, phone: &str, first: &str) -> pb::Contact {
        self.try_contact(
            pb::ContactInput {
                phone: phone.into(),
                first_name: first.into(),
                ..Default::default()
            },
            account,
        )
        .await
        .expect("create contact")
    }

    /// Creates a contact from an input.
    pub async fn try_contact(
        &self,
        input: pb::ContactInput,
        account: &str,
    ) -> Result<pb::Contact, tonic::Status> {
        self.client
            .clone()
            .create_contact(pb::CreateContactRequest {
                account_id: account.into(),
                contact: Some(input),
            })
            .await
            .map(|r| r.into_inner().contact.unwrap())
    }

    /// The account as stored now.
    pub async fn get_account(&self, account: &str) -> pb::Account {
        self.client
            .clone()
            .get_account(pb::GetAccountRequest {
                account_id: account.into(),
            })
            .await
            .expect("get account")
            .into_inner()
            .account
            .unwrap()
    }

    /// Lists every contact matching `filter`, following page tokens.
    pub async fn list_all(&self, account: &str, filter: pb::ContactFilter) -> Vec<pb::Contact> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_contacts(pb::ListContactsRequest {
                    account_id: account.into(),
                    filter: Some(filter.clone()),
                    page_size: 100,
                    page_token: token,
                })
                .await
                .expect("list")
                .into_inner();
            out.extend(page.contacts);
            if page.next_page_token.is_empty() {
                return out;
            }
            token = page.next_page_token;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The fields named in a status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A fixed clock at a given UTC time, e.g. "2026-03-02T15:00:00Z".
pub fn clock_at(rfc3339: &str) -> FixedClock {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("time");
    FixedClock::at(t.timestamp_millis())
}

impl TestApp {
    /// STAND-IN until MarkDnc lands: puts `phone` (E.164) on the account's DNC list by
    /// writing the test database directly, and marks a stored contact with that number
    /// DNC, as MarkDnc will (keeping `status = DNC` iff the number is on the list).
    /// Replace calls with the MarkDnc RPC once it exists.
    pub async fn put_on_dnc_directly(&self, account: &str, phone: &str) {
        use contactd::entity::{contact, dnc_entry};
        use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let db = contactd::store::connect(&self.db.url, 1)
            .await
            .expect("test database");
        dnc_entry::ActiveModel::from(dnc_entry::Model {
            account_id: account.into(),
            phone: phone.into(),
            source: "MANUAL".into(),
            reason: "test stand-in".into(),
            actor: "test".into(),
            created_at: 1,
        })
        .insert(&db)
        .await
        .expect("insert dnc entry");
        contact::Entity::update_many()
            .col_expr(contact::Column::Status, Expr::value("DNC"))
            .col_expr(contact::Column::DncSource, Expr::value("MANUAL"))
            .col_expr(contact::Column::DncAt, Expr::value(1i64))
            .filter(contact::Column::AccountId.eq(account))
            .filter(contact::Column::Phone.eq(phone))
            .exec(&db)
            .await
            .expect("mark contact DNC");
        db.close().await.ok();
    }
}
