//! Shared machinery: benchmark databases, the child server, latency statistics and the
//! result table.

use anyhow::{Context, bail};
use contactd::pb::contact_service_client::ContactServiceClient;
use std::io::{BufRead, BufReader};
use std::process::{Child as Process, Command, Stdio};
use std::time::Duration;
use tonic::transport::Channel;

/// Which database a figure was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        }
    }
}

/// A fresh benchmark database, dropped (PostgreSQL) or deleted (SQLite) at the end.
pub struct BenchDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl BenchDb {
    /// The PostgreSQL database's name (None on SQLite).
    pub fn pg_name(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, name)| name.as_str())
    }

    pub async fn create(backend: Backend, pg_url: &str) -> anyhow::Result<BenchDb> {
        use sea_orm::sqlx::{AssertSqlSafe, Connection, PgConnection, raw_sql};
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("bench.db");
                Ok(BenchDb {
                    url: format!("sqlite:{}", path.display()),
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Backend::Postgres => {
                static CREATED: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("contactd_bench_{}_{n}", std::process::id());
                let mut admin = PgConnection::connect(pg_url)
                    .await
                    .with_context(|| format!("PostgreSQL at {pg_url}"))?;
                raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await?;
                let url = match pg_url.rsplit_once('/') {
                    Some((head, _)) => format!("{head}/{name}"),
                    None => bail!("cannot place a database name in {pg_url}"),
                };
                Ok(BenchDb {
                    url,
                    _dir: None,
                    pg: Some((pg_url.to_string(), name)),
                })
            }
        }
    }

    /// A fresh, migrated database holding one empty account `account` with room for
    /// `limit` contacts.
    pub async fn with_account(
        backend: Backend,
        pg_url: &str,
        account: &str,
        limit: usize,
    ) -> anyhow::Result<BenchDb> {
        let db = BenchDb::create(backend, pg_url).await?;
        contactd::store::migrate(&db.url).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let conn = contactd::store::connect(&db.url, 1).await?;
        sea_orm::ConnectionTrait::execute_unprepared(
            &conn,
            &format!(
                "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, created_at, updated_at) \
                 VALUES ('{account}', 'bench', 'CUSTOM', {limit}, 0, 'US', {now}, {now})"
            ),
        )
        .await?;
        conn.close().await.ok();
        Ok(db)
    }

    /// Drops the PostgreSQL database — unless `CONTACTD_BENCH_KEEP_DB` is set, for a
    /// look at the data and the plans afterwards (its name is printed then).
    pub async fn drop_db(mut self) {
        use sea_orm::sqlx::{AssertSqlSafe, Connection, PgConnection, raw_sql};
        if std::env::var_os("CONTACTD_BENCH_KEEP_DB").is_some() {
            if let Some((_, name)) = self.pg.take() {
                println!("kept the PostgreSQL database {name} (CONTACTD_BENCH_KEEP_DB)");
            }
            return;
        }
        if let Some((admin, name)) = self.pg.take()
            && let Ok(mut c) = PgConnection::connect(&admin).await
        {
            let _ = raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await;
        }
    }
}

/// Internal `serve-child`: runs the server on port 0 and prints `PORT <n>`.
pub async fn serve_child(database_url: &str) -> anyhow::Result<()> {
    use contactd::{config::Settings, startup::Application};
    // On stderr, at CONTACTD_LOG's level (the parent sets "warn" unless told otherwise).
    contactd::telemetry::init(contactd::config::LogFormat::Text);
    let app = Application::build(Settings::new("127.0.0.1:0".parse()?, database_url)).await?;
    println!("PORT {}", app.port());
    app.run_until_stopped(contactd::startup::shutdown_signal())
        .await?;
    Ok(())
}

/// The server under test, in its own process.
pub struct Server {
    process: Process,
    pub port: u16,
}

impl Server {
    pub fn start(database_url: &str) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut process = Command::new(exe)
            .args(["serve-child", database_url])
            // CONTACTD_BENCH_SERVER_LOG=info shows e.g. the import's phase timings on stderr.
            .env(
                "CONTACTD_LOG",
                std::env::var("CONTACTD_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = process.stdout.take().context("child stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("server did not start: {line:?}"))?;
        Ok(Server { process, port })
    }

    pub async fn client(&self) -> anyhow::Result<ContactServiceClient<Channel>> {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", self.port))?
            .connect()
            .await?;
        Ok(ContactServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
    }

    /// Resident set size now and at its peak (VmRSS, VmHWM), in KiB.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU time the server process has used so far.
    pub fn cpu(&self) -> Duration {
        process_cpu(self.process.id()).unwrap_or_default()
    }
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses; utime and
    // stime are the 14th and 15th fields of the line, in clock ticks.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ: 100 ticks per second in Linux's user-space ABI on every architecture.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used so far by the PostgreSQL processes that work for database `db`: its
/// backends (and autovacuum workers), and the server-wide writers (WAL writer,
/// checkpointer, background writer) whose work the phase's writes cause. Backends of
/// other databases (another test run on this machine) are left out, so the difference
/// across a measured phase is what that phase cost PostgreSQL even on a busy machine,
/// less whatever other databases' writes added to the shared writers.
pub fn postgres_cpu(db: &str) -> Duration {
    // No database name (a SQLite run): no PostgreSQL process is ours. (An empty name
    // would match the empty words of every process title.)
    if db.is_empty() {
        return Duration::ZERO;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let ours = |pid: u32| {
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&title);
        let shared = ["walwriter", "checkpointer", "background writer"];
        title.split([' ', '\0']).any(|w| w == db) || shared.iter().any(|s| title.contains(s))
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter(|&pid| ours(pid))
        .filter_map(process_cpu)
        .sum()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Latency samples.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The q-quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let idx = ((self.0.len() as f64 - 1.0) * q).round() as usize;
        self.0[idx].as_secs_f64() * 1000.0
    }
}

/// How a figure compares with its target.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The value must be at most this.
    AtMost(f64),
    /// The value must be at least this.
    AtLeast(f64),
    /// No target; informational.
    None,
}

/// One row of the table.
pub struct Row {
    pub figure: String,
    pub value: f64,
    pub unit: &'static str,
    pub reference: Option<(String, f64)>,
    pub ratio_target: Target,
    pub target: Target,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        self.reference.as_ref().map(|(_, r)| self.value / r)
    }

    pub fn pass(&self) -> Option<bool> {
        let check = |t: Target, v: f64| match t {
            Target::AtMost(x) => Some(v <= x),
            Target::AtLeast(x) => Some(v >= x),
            Target::None => None,
        };
        match (
            check(self.target, self.value),
            self.ratio().and_then(|r| check(self.ratio_target, r)),
        ) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
        }
    }

    fn target_text(&self) -> String {
        let fmt = |t: Target, suffix: &str| match t {
            Target::AtMost(x) => format!("≤ {}{suffix}", trim(x)),
            Target::AtLeast(x) => format!("≥ {}{suffix}", trim(x)),
            Target::None => String::new(),
        };
        [
            fmt(self.target, &format!(" {}", self.unit)),
            fmt(self.ratio_target, "×"),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    }
}

fn trim(x: f64) -> String {
    if x >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// All rows of a run.
pub struct Report {
    pub rows: Vec<Row>,
    quick: bool,
}

impl Report {
    pub fn new(quick: bool) -> Self {
        Report {
            rows: Vec::new(),
            quick,
        }
    }

    pub fn add(&mut self, row: Row) {
        println!("  {:<58} {:>12} {}", row.figure, trim(row.value), row.unit);
        self.rows.push(row);
    }

    fn lines(&self) -> Vec<[String; 6]> {
        self.rows
            .iter()
            .map(|r| {
                [
                    r.figure.clone(),
                    format!("{} {}", trim(r.value), r.unit),
                    r.reference
                        .as_ref()
                        .map(|(name, v)| format!("{name}: {} {}", trim(*v), r.unit))
                        .unwrap_or_default(),
                    r.ratio().map(|x| format!("{x:.2}×")).unwrap_or_default(),
                    r.target_text(),
                    match r.pass() {
                        Some(true) => "pass".into(),
                        Some(false) => "MISS".into(),
                        None => String::new(),
                    },
                ]
            })
            .collect()
    }

    pub fn print(&self) {
        println!();
        for l in self.lines() {
            println!(
                "{:<58} | {:>16} | {:>34} | {:>7} | {:>16} | {}",
                l[0], l[1], l[2], l[3], l[4], l[5]
            );
        }
    }

    /// Replaces the section between the generated markers of `path` with this run's table.
    pub fn write_markdown(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let mut table = String::new();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .next()
                    .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
            })
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
            .unwrap_or_default();
        let argv: Vec<String> = std::env::args().collect();
        table.push_str(&format!(
            "Machine: {cores} cores, {mem} memory. Command: `cargo run --release --bin bench -- {}`{}. Date: {}.\n\n",
            argv[1..].join(" "),
            if self.quick { " (quick sizes)" } else { "" },
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ));
        table.push_str("| figure | value | reference (same run) | ratio | target | result |\n|---|---|---|---|---|---|\n");
        for l in self.lines() {
            table.push_str(&format!("| {} |\n", l.join(" | ")));
        }
        const BEGIN: &str = "<!-- bench:begin -->";
        const END: &str = "<!-- bench:end -->";
        let current = std::fs::read_to_string(path).unwrap_or_default();
        let new = match (current.find(BEGIN), current.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{BEGIN}\n{table}{}", &current[..b], &current[e..])
            }
            _ => format!("{current}\n{BEGIN}\n{table}{END}\n"),
        };
        std::fs::write(path, new)?;
        Ok(())
    }
}
