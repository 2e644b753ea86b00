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

/// Declares a PostgreSQL-only test `name` running `name(app)`: for what SQLite has no
/// counterpart of (row locks, collations), ignored without CONTACTD_TEST_PG_URL.
macro_rules! postgres_only {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(pg_tests), ignore = "PostgreSQL only: set CONTACTD_TEST_PG_URL to run it")]
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
    /// A database this harness did not create (and will not drop).
    pub fn external(url: String, backend: Backend) -> TestDb {
        TestDb {
            url,
            backend,
            _dir: None,
            pg_admin: None,
        }
    }

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
    /// The Prometheus endpoint, when the settings enabled it.
    pub metrics_addr: Option<std::net::SocketAddr>,
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
        Self::spawn_configured(db, clock, |_| {}).await
    }

    /// A server on an existing database, with settings adjusted by `tweak`.
    pub async fn spawn_configured(
        db: Arc<TestDb>,
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            contactd::telemetry::init(LogFormat::Text);
        }
        let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
        tweak(&mut settings);
        let app = Application::build_with_clock(settings, clock)
            .await
            .expect("server builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            app.run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        // Lazy: a TLS server refuses this plaintext channel, and TLS tests make their own.
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        TestApp {
            client: ContactServiceClient::new(channel.clone()),
            channel,
            addr,
            metrics_addr,
            db,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Signals shutdown (as SIGTERM would) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        self.begin_shutdown();
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

// ---- direct database access -------------------------------------------------------
//
// Seeding many rows quickly, and fixtures that write exactly the rows an RPC writes but
// with chosen timestamps (the RPCs stamp the server's clock).

impl TestApp {
    /// Runs SQL statements on the test database (values are test-controlled literals).
    pub async fn exec_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait;
        let db = contactd::store::connect(&self.db.url, 2)
            .await
            .expect("open test database");
        db.execute_unprepared(sql).await.expect("test SQL");
        db.close().await.ok();
    }

    /// The first column of the first row of a query, as an integer (None for NULL or no row).
    pub async fn sql_i64(&self, sql: &str) -> Option<i64> {
        use sea_orm::{ConnectionTrait, Statement};
        let db = contactd::store::connect(&self.db.url, 2)
            .await
            .expect("open test database");
        let stmt = Statement::from_string(db.get_database_backend(), sql.to_string());
        let row = db.query_one_raw(stmt).await.expect("test query");
        db.close().await.ok();
        row.and_then(|r| r.try_get_by_index::<Option<i64>>(0).expect("an integer"))
    }

    /// Fixture: writes the rows MarkDnc writes (list entry, contact DNC, source MANUAL)
    /// but at a chosen time, for tests that assert exported timestamps. MarkDnc itself
    /// is tested in `dnc.rs`.
    pub async fn fixture_dnc_at(&self, account: &str, phone: &str, at_ms: i64) {
        self.exec_sql(&format!(
            "INSERT INTO dnc_entries (account_id, phone, source, reason, actor, created_at) \
             VALUES ('{account}', '{phone}', 'MANUAL', 'test', 'test', {at_ms}); \
             UPDATE contacts SET status = 'DNC', dnc_source = 'MANUAL', dnc_at = {at_ms} \
             WHERE account_id = '{account}' AND phone = '{phone}';"
        ))
        .await;
    }

    /// Fixture: stores one call of the contact and sets its call statistics as RecordCall
    /// would after `count` calls, at chosen times. RecordCall itself is tested in
    /// `calls.rs`.
    pub async fn fixture_call_stats(
        &self,
        account: &str,
        contact_id: i64,
        count: i64,
        last_called_ms: i64,
        outcome: &str,
        talk_seconds: i64,
    ) {
        self.exec_sql(&format!(
            "INSERT INTO calls (account_id, external_id, contact_id, phone, direction, \
             started_at, duration_seconds, outcome, created_at) \
             SELECT account_id, 'call-' || id, id, phone, 'OUTBOUND', {last_called_ms}, \
             {talk_seconds}, '{outcome}', {last_called_ms} FROM contacts WHERE id = {contact_id}; \
             UPDATE contacts SET call_count = {count}, last_called_at = {last_called_ms}, \
             last_outcome = '{outcome}', total_talk_seconds = {talk_seconds} \
             WHERE account_id = '{account}' AND id = {contact_id};"
        ))
        .await;
    }

    /// Inserts `n` ACTIVE contacts straight into the database (thousands per second, for
    /// tests that need many rows) and counts them on the account. Phones are
    /// `+1415` and 7 digits (2000000 + i) for i from `first`; first names `Seed<iiiiii>`.
    /// Returns the phones.
    pub async fn seed_contacts(&self, account: &str, first: u32, n: u32) -> Vec<String> {
        let phones: Vec<String> = (first..first + n)
            .map(|i| format!("+1415{:07}", 2_000_000 + i))
            .collect();
        let mut sql = String::from("BEGIN;");
        let rows: Vec<String> = phones
            .iter()
            .zip(first..)
            .map(|(p, i)| {
                let national = &p[2..];
                let name = format!("Seed{i:06}");
                let key = name.to_lowercase();
                format!("('{account}', '{p}', '{national}', '{name}', '{key}', 0, 0)")
            })
            .collect();
        for part in rows.chunks(500) {
            sql.push_str(
                "INSERT INTO contacts (account_id, phone, phone_national, first_name, \
                 name_key, created_at, updated_at) VALUES ",
            );
            sql.push_str(&part.join(","));
            sql.push(';');
        }
        sql.push_str(&format!(
            "UPDATE accounts SET contact_count = contact_count + {n} WHERE id = '{account}';COMMIT;"
        ));
        self.exec_sql(&sql).await;
        phones
    }
}

impl TestApp {
    /// First names of every contact matching `filter`, sorted.
    pub async fn first_names(&self, account: &str, filter: pb::ContactFilter) -> Vec<String> {
        let mut names: Vec<String> = self
            .list_all(account, filter)
            .await
            .into_iter()
            .map(|c| c.first_name)
            .collect();
        names.sort();
        names
    }
}

/// Unix ms of an RFC 3339 time.
pub fn ms_at(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .timestamp_millis()
}

/// A protobuf timestamp of an RFC 3339 time.
pub fn ts_at(rfc3339: &str) -> prost_types::Timestamp {
    let ms = ms_at(rfc3339);
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: 0,
    }
}

/// Ids as a selection.
pub fn ids(ids: &[i64]) -> Option<pb::ContactSelection> {
    Some(pb::ContactSelection {
        selection: Some(pb::contact_selection::Selection::Ids(pb::ContactIds {
            ids: ids.to_vec(),
        })),
    })
}

/// Dialing rules: max attempts, retry seconds, window minutes; the account-wide
/// frequency rules overridden to let every dial through (tests of the campaign's own
/// rules), see [`with_frequency`].
pub fn rules(max_attempts: i32, retry_seconds: i64, window: (i32, i32)) -> pb::DialRules {
    pb::DialRules {
        max_attempts,
        retry_interval_seconds: retry_seconds,
        window: Some(pb::CallingWindow {
            start_minute: window.0,
            end_minute: window.1,
        }),
        max_calls_per_day: Some(50),
        max_calls_per_week: Some(50),
        min_call_spacing_seconds: Some(0),
        ..Default::default()
    }
}

/// A calling window open whatever the hour the test runs at, for US numbers: by the
/// wall clock, and at the fixed clocks tests set (12:00–18:00 UTC). The API refuses the
/// whole day (00:00–24:00); this is the widest window it accepts that is open now in
/// every US zone (00:00–23:59, or 00:01–24:00 during a zone's last minute of the day).
pub fn any_hour() -> (i32, i32) {
    use contactd::domain::timezone::{COUNTRY_ZONES, Window};
    let (_, us) = COUNTRY_ZONES.iter().find(|(c, _)| *c == "US").unwrap();
    let zones: Vec<chrono_tz::Tz> = us.iter().map(|z| z.parse().unwrap()).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let w = Window::widest_open_at(&zones, now);
    (w.start_minute as i32, w.end_minute as i32)
}

/// `rules` with the account's frequency rules in force (no overrides).
pub fn with_frequency(mut r: pb::DialRules) -> pb::DialRules {
    r.max_calls_per_day = None;
    r.max_calls_per_week = None;
    r.min_call_spacing_seconds = None;
    r
}

/// Dialer and DNC conveniences.
impl TestApp {
    /// Another server on this database whose clock starts at 2026-03-01T00:00:00Z, for
    /// tests of call history dated in March 2026: create the account, then move the
    /// returned clock past the calls (a call may not start before its account existed,
    /// nor in the future).
    pub async fn in_march_2026(&self) -> (TestApp, FixedClock) {
        let clock = clock_at("2026-03-01T00:00:00Z");
        (self.with_clock(&clock).await, clock)
    }

    /// Another server on this database whose clock is `clock` (tests move it).
    pub async fn with_clock(&self, clock: &FixedClock) -> TestApp {
        Self::spawn_on(self.db.clone(), Arc::new(clock.clone())).await
    }

    /// Adds contacts to a campaign; returns the counts.
    pub async fn add_to_campaign(
        &self,
        acc: &str,
        campaign: &str,
        contact_ids: &[i64],
    ) -> pb::BulkResult {
        self.add_selection_to_campaign(acc, campaign, ids(contact_ids))
            .await
    }

    /// Adds a selection (ids or filter) to a campaign; returns the counts.
    pub async fn add_selection_to_campaign(
        &self,
        acc: &str,
        campaign: &str,
        selection: Option<pb::ContactSelection>,
    ) -> pb::BulkResult {
        self.try_add_selection_to_campaign(acc, campaign, selection)
            .await
            .expect("add to campaign")
    }

    /// [`Self::add_selection_to_campaign`], returning the status on failure.
    pub async fn try_add_selection_to_campaign(
        &self,
        acc: &str,
        campaign: &str,
        selection: Option<pb::ContactSelection>,
    ) -> Result<pb::BulkResult, tonic::Status> {
        Ok(self
            .client
            .clone()
            .add_to_campaign(pb::AddToCampaignRequest {
                account_id: acc.into(),
                campaign_id: campaign.into(),
                selection,
            })
            .await?
            .into_inner()
            .result
            .unwrap())
    }

    /// Removes a selection (ids or filter) from a campaign; returns the counts.
    pub async fn remove_from_campaign(
        &self,
        acc: &str,
        campaign: &str,
        selection: Option<pb::ContactSelection>,
    ) -> pb::BulkResult {
        self.client
            .clone()
            .remove_from_campaign(pb::RemoveFromCampaignRequest {
                account_id: acc.into(),
                campaign_id: campaign.into(),
                selection,
            })
            .await
            .expect("remove from campaign")
            .into_inner()
            .result
            .unwrap()
    }

    /// Marks contacts and/or numbers DNC; returns the counts.
    pub async fn mark_dnc(
        &self,
        acc: &str,
        contact_ids: &[i64],
        phones: &[&str],
        source: pb::DncSource,
    ) -> pb::BulkResult {
        self.client
            .clone()
            .mark_dnc(pb::MarkDncRequest {
                account_id: acc.into(),
                targets: Some(pb::DncTargets {
                    selection: if contact_ids.is_empty() {
                        None
                    } else {
                        ids(contact_ids)
                    },
                    phones: phones.iter().map(|p| p.to_string()).collect(),
                    region: String::new(),
                }),
                source: source as i32,
                reason: "test".into(),
                actor: "tester".into(),
            })
            .await
            .expect("mark dnc")
            .into_inner()
            .result
            .unwrap()
    }

    /// Claims up to `n` contacts of a campaign for a dialer.
    pub async fn claim(
        &self,
        acc: &str,
        campaign: &str,
        dialer: &str,
        n: i32,
        rules: Option<pb::DialRules>,
    ) -> Vec<pb::DialableContact> {
        self.client
            .clone()
            .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                account_id: acc.into(),
                campaign_id: campaign.into(),
                dialer_id: dialer.into(),
                max_contacts: n,
                lease_seconds: 60,
                rules,
            })
            .await
            .expect("claim")
            .into_inner()
            .contacts
    }

    /// Gives back a dialer's leases in campaign "camp", named by contact and by lease id
    /// (all of them when both are empty); how many ended.
    pub async fn release_leases(
        &self,
        acc: &str,
        dialer: &str,
        contact_ids: &[i64],
        lease_ids: &[String],
    ) -> i64 {
        self.client
            .clone()
            .release_leases(pb::ReleaseLeasesRequest {
                account_id: acc.into(),
                campaign_id: "camp".into(),
                dialer_id: dialer.into(),
                contact_ids: contact_ids.to_vec(),
                lease_ids: lease_ids.to_vec(),
            })
            .await
            .expect("release")
            .into_inner()
            .released
    }

    /// CheckDialable for a contact (in a campaign when given).
    pub async fn check_dialable(
        &self,
        acc: &str,
        contact_id: i64,
        campaign: &str,
        dialer: &str,
        rules: Option<pb::DialRules>,
    ) -> pb::CheckDialableResponse {
        self.client
            .clone()
            .check_dialable(pb::CheckDialableRequest {
                account_id: acc.into(),
                contact_id,
                campaign_id: campaign.into(),
                dialer_id: dialer.into(),
                rules,
                ..Default::default()
            })
            .await
            .expect("check dialable")
            .into_inner()
    }

    /// CheckDnc of one number (any format, the account's region).
    pub async fn check_dnc_one(&self, acc: &str, phone: &str) -> pb::DncStatus {
        self.client
            .clone()
            .check_dnc(pb::CheckDncRequest {
                account_id: acc.into(),
                phones: vec![phone.into()],
                region: String::new(),
            })
            .await
            .expect("check dnc")
            .into_inner()
            .results
            .remove(0)
    }

    /// PreviewDialable of a campaign.
    pub async fn preview(
        &self,
        acc: &str,
        campaign: &str,
        rules: Option<pb::DialRules>,
    ) -> pb::PreviewDialableResponse {
        self.client
            .clone()
            .preview_dialable(pb::PreviewDialableRequest {
                account_id: acc.into(),
                campaign_id: campaign.into(),
                rules,
            })
            .await
            .expect("preview dialable")
            .into_inner()
    }

    /// Records a call.
    pub async fn record_call(
        &self,
        acc: &str,
        call: pb::Call,
    ) -> Result<pb::RecordCallResponse, tonic::Status> {
        self.client
            .clone()
            .record_call(pb::RecordCallRequest {
                account_id: acc.into(),
                call: Some(call),
                region: String::new(),
                callback: None,
            })
            .await
            .map(|r| r.into_inner())
    }

    /// BulkDeleteContacts of `selection` (None: the request names no selection).
    pub async fn bulk_delete(
        &self,
        account: &str,
        selection: Option<pb::contact_selection::Selection>,
    ) -> Result<pb::BulkResult, tonic::Status> {
        self.client
            .clone()
            .bulk_delete_contacts(pb::BulkDeleteContactsRequest {
                account_id: account.into(),
                selection: selection.map(|s| pb::ContactSelection { selection: Some(s) }),
            })
            .await
            .map(|r| r.into_inner().result.unwrap())
    }

    /// DeleteContact, which must succeed.
    pub async fn delete_contact(&self, acc: &str, id: i64) {
        self.client
            .clone()
            .delete_contact(pb::DeleteContactRequest {
                account_id: acc.into(),
                contact_id: id,
            })
            .await
            .expect("delete contact");
    }

    /// One contact as stored now.
    pub async fn get_contact(&self, acc: &str, id: i64) -> pb::Contact {
        self.client
            .clone()
            .get_contact(pb::GetContactRequest {
                account_id: acc.into(),
                contact_id: id,
            })
            .await
            .expect("get contact")
            .into_inner()
            .contact
            .unwrap()
    }
}

/// An outbound call to a contact with an outcome, at a time.
pub fn outbound(
    external_id: &str,
    contact_id: i64,
    campaign: &str,
    at: &str,
    outcome: pb::CallOutcome,
) -> pb::Call {
    pb::Call {
        external_id: external_id.into(),
        contact_id,
        direction: pb::CallDirection::Outbound as i32,
        campaign_id: campaign.into(),
        start_time: Some(ts_at(at)),
        duration_seconds: 30,
        outcome: outcome as i32,
        dialer_id: "d1".into(),
        ..Default::default()
    }
}

/// Every item of a paged list: `fetch(page_token)` returns a page and the next token
/// (empty after the last page).
pub async fn all_pages<T>(mut fetch: impl AsyncFnMut(String) -> (Vec<T>, String)) -> Vec<T> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = fetch(token).await;
        all.extend(items);
        if next.is_empty() {
            return all;
        }
        token = next;
    }
}

// ---- the real binary --------------------------------------------------------------

/// A free TCP port on 127.0.0.1 (free when asked; a test binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `contactd` binary with `args` and extra environment, its output captured.
pub fn contactd_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_contactd"));
    cmd.args(args).envs(env.iter().copied());
    cmd
}

/// A `contactd` server child process; killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub channel: Channel,
    pub client: ContactServiceClient<Channel>,
}

impl ServerProcess {
    /// Starts `contactd serve` on a free port over `database_url` and waits until it answers.
    pub async fn start(database_url: &str, extra: &[&str]) -> ServerProcess {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let args = [
            &["serve", "--listen", &listen, "--database-url", database_url],
            extra,
        ];
        Self::spawn(&args.concat(), &[], port).await
    }

    /// Runs the binary with `args` and extra environment, which must make it serve on
    /// 127.0.0.1:`port`, and waits until it accepts connections there.
    pub async fn spawn(args: &[&str], env: &[(&str, &str)], port: u16) -> ServerProcess {
        use std::time::{Duration, Instant};
        let quiet = std::env::var("TEST_LOG").is_err();
        let out = || {
            if quiet {
                std::process::Stdio::null()
            } else {
                std::process::Stdio::inherit()
            }
        };
        let mut child = contactd_command(args, env)
            .stdout(out())
            .stderr(out())
            .spawn()
            .expect("contactd starts");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let channel = loop {
            match Channel::from_shared(url.clone()).unwrap().connect().await {
                Ok(c) => break c,
                Err(e) => {
                    if let Some(exit) = child.try_wait().expect("child status") {
                        panic!("contactd {args:?} exited ({exit}) instead of serving on {port}");
                    }
                    assert!(start.elapsed() < Duration::from_secs(60), "no server: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        ServerProcess {
            child,
            client: ContactServiceClient::new(channel.clone())
                .max_decoding_message_size(64 * 1024 * 1024),
            channel,
        }
    }

    /// The overall health status the server reports.
    pub async fn health(&self) -> tonic_health::pb::health_check_response::ServingStatus {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let reply = HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health answers");
        reply.into_inner().status()
    }

    /// kill -9.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dialer's side of StreamDialableContacts: it sends demand and releases, and reads
/// the batches the server leased for it.
pub struct DialerStream {
    tx: tokio::sync::mpsc::UnboundedSender<pb::StreamDialableContactsRequest>,
    pub rx: tonic::Streaming<pb::StreamDialableContactsResponse>,
}

impl DialerStream {
    /// Asks for `n` more contacts.
    pub fn demand(&self, n: i32) {
        let _ = self.tx.send(pb::StreamDialableContactsRequest {
            demand: n,
            ..Default::default()
        });
    }

    /// Gives leases back.
    pub fn release(&self, ids: Vec<i64>) {
        let _ = self.tx.send(pb::StreamDialableContactsRequest {
            release_contact_ids: ids,
            ..Default::default()
        });
    }

    /// Gives leases back by their ids.
    pub fn release_leases(&self, lease_ids: Vec<String>) {
        let _ = self.tx.send(pb::StreamDialableContactsRequest {
            release_lease_ids: lease_ids,
            ..Default::default()
        });
    }

    /// Sends a raw message.
    pub fn send(&self, m: pb::StreamDialableContactsRequest) {
        let _ = self.tx.send(m);
    }

    /// The next batch (None when the server ended the stream).
    pub async fn next(&mut self) -> Option<Result<Vec<pb::DialableContact>, tonic::Status>> {
        use tokio_stream::StreamExt;
        self.rx.next().await.map(|r| r.map(|m| m.contacts))
    }

    /// Closes the dialer's side (no more demand).
    pub fn close(self) -> tonic::Streaming<pb::StreamDialableContactsResponse> {
        self.rx
    }
}

impl TestApp {
    /// Opens a claim stream with `demand` contacts asked for at once.
    pub async fn open_stream(
        &self,
        claim: pb::ClaimDialableContactsRequest,
        demand: i32,
        poll_interval_ms: i32,
    ) -> Result<DialerStream, tonic::Status> {
        open_stream_on(self.client.clone(), claim, demand, poll_interval_ms, None).await
    }
}

/// Opens a claim stream over `client`, sending `key` as the bearer token when given.
pub async fn open_stream_on(
    mut client: ContactServiceClient<Channel>,
    claim: pb::ClaimDialableContactsRequest,
    demand: i32,
    poll_interval_ms: i32,
    key: Option<&str>,
) -> Result<DialerStream, tonic::Status> {
    {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(pb::StreamDialableContactsRequest {
            claim: Some(claim),
            poll_interval_ms,
            demand,
            release_contact_ids: vec![],
            release_lease_ids: vec![],
        })
        .unwrap();
        let mut request =
            tonic::Request::new(tokio_stream::wrappers::UnboundedReceiverStream::new(rx));
        if let Some(key) = key {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        let rx = client.stream_dialable_contacts(request).await?.into_inner();
        Ok(DialerStream { tx, rx })
    }
}

/// A codec that sends and receives raw message bytes, so one loop can call every RPC.
#[derive(Debug, Clone, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes_buf::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes_buf::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

mod bytes_buf {
    pub use prost::bytes::{Buf, BufMut};
}

/// xorshift64*: tiny, deterministic, good enough to pick shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Between 1 and `max` random bytes.
    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.next() as u8).collect()
    }
}
