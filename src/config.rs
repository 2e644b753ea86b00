//! Configuration: one struct per command, filled by clap from flags, then `CONTACTD_*`
//! environment variables, then defaults — in that order of precedence.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// contactd: the contact database of the voice-calling platform.
///
/// With no subcommand it serves, and takes the serve flags directly:
/// `contactd --listen ADDR` is `contactd serve --listen ADDR`.
#[derive(Debug, Parser)]
#[command(name = "contactd", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "CONTACTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// The server's settings when no subcommand is given (a subcommand's flags come after
    /// its name, so these cannot be mixed with one).
    #[command(flatten)]
    pub serve: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses a command line. The serve flags at the top level belong to a bare
    /// `contactd`: given together with a subcommand they are an error, not ignored.
    /// (clap's `args_conflicts_with_subcommands` would also refuse the global
    /// `--log-format` before a subcommand, which has always worked.)
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let mut cmd = Cli::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        if let Some((name, _)) = matches.subcommand() {
            let serve = Settings::augment_args(clap::Command::new("serve"));
            let misplaced = serve.get_arguments().find(|a| {
                matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
            });
            if let Some(arg) = misplaced {
                let flag = arg.get_long().unwrap_or(arg.get_id().as_str());
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{flag} is a flag of the server: give it after `serve` or with \
                         no subcommand, not before `{name}`"
                    ),
                ));
            }
        }
        Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC server (the default).
    Serve(Settings),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Re-read every stored number (contacts, DNC list) with today's phone parser and
    /// rewrite those it writes differently; collisions are reported, never merged.
    Renormalize(RenormalizeArgs),
    /// Manage API keys (works on the database directly).
    Keys(KeysArgs),
    /// Export contacts as CSV from a running server (`-o -` writes to stdout).
    Export(ExportArgs),
    /// Import a CSV file or Excel workbook into an account through a running server,
    /// with progress.
    Import(ImportArgs),
    /// Show what importing a CSV file or workbook would do (mapping, sample, counts,
    /// rejected rows); stores nothing.
    Preview(SourceArgs),
}

/// `contactd renormalize …`
#[derive(Debug, Args)]
pub struct RenormalizeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Report what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `contactd keys …`: the database flags may come before or after the action
/// (`keys --database-url U create` or `keys create --internal --database-url U`).
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// `sqlite:PATH` (created if missing) or `postgres://user@host/db`.
    #[arg(
        id = "keys_database_url",
        long = "database-url",
        env = "CONTACTD_DATABASE_URL",
        default_value = "sqlite:contactd.db",
        global = true
    )]
    pub database_url: String,
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What to do with keys.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print its secret (shown this once only).
    Create {
        /// The account the key may act on.
        #[arg(
            long,
            required_unless_present = "internal",
            conflicts_with = "internal"
        )]
        account: Option<String>,
        /// An internal key (campaign dialer, call service): may act on any account.
        #[arg(long)]
        internal: bool,
        /// A label, e.g. "campaign-dialer".
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never their secrets).
    List {
        /// Only this account's keys.
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key by id; it stops working within 30 seconds on every replica.
    Revoke {
        /// The key id (`key_…`).
        id: String,
    },
}

/// Which server a client subcommand talks to.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The contactd server's URL.
    #[arg(
        long,
        env = "CONTACTD_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The API key to send (`authorization: Bearer …`); not needed on a loopback server
    /// that does not require keys.
    #[arg(long, env = "CONTACTD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Contact status in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// May be called.
    Active,
    /// On the Do-Not-Call list.
    Dnc,
}

/// `contactd export` settings: the ListContacts filter, columns and output.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The account to export.
    #[arg(long)]
    pub account: String,
    /// Name or phone-digits prefix (as ListContacts' `filter.query`; email is not searched).
    #[arg(long)]
    pub query: Option<String>,
    /// Only ACTIVE or only DNC contacts.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only members of this campaign.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Only contacts last called at or after this RFC 3339 time.
    #[arg(long, value_parser = rfc3339)]
    pub called_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Only contacts last called before this RFC 3339 time.
    #[arg(long, value_parser = rfc3339)]
    pub called_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only contacts never called.
    #[arg(long)]
    pub never_called: bool,
    /// Columns in order, comma-separated (default: all), e.g. `phone,first_name,custom.Notes`.
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// The CSV file to write, or `-` for stdout. A file appears only once complete.
    #[arg(short = 'o', long = "output")]
    pub output: String,
}

fn rfc3339(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2026-03-02T15:00:00Z): {e}"))
}

/// What to do with a row whose number is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnDuplicate {
    /// Leave the stored contact unchanged.
    Skip,
    /// Fill the stored contact's empty fields.
    UpdateEmpty,
    /// Overwrite the stored contact's fields with the row's non-empty values.
    UpdateAll,
}

/// The file and how to read it: the arguments `import` and `preview` share.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The file: CSV (UTF-8, UTF-16 with BOM or Windows-1252; `,` `;` or tab separated)
    /// or an Excel/OpenDocument workbook (.xlsx, .xls, .ods; its first sheet).
    pub file: std::path::PathBuf,
    /// The account to import into.
    #[arg(long)]
    pub account: String,
    /// Region for local-format numbers of rows without a country column (ISO 3166,
    /// e.g. US); default: the account's.
    #[arg(long)]
    pub region: Option<String>,
    /// Accept numbers of a possible length even if not in an assigned range (e.g. the
    /// fictional +1 555 01xx).
    #[arg(long)]
    pub lenient: bool,
    /// Map a column explicitly, FIELD=COLUMN (repeatable): phone, phone_extension,
    /// first_name, middle_name, last_name, full_name, email, company, title, time_zone,
    /// country, consent_kind, consent_channel, consent_source, consent_captured_at,
    /// consent_expires_at, ignore, custom.KEY.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Keep columns that map to no field as custom fields.
    #[arg(long)]
    pub custom_fields: bool,
    /// Field delimiter: `,` `;` or `tab`; detected when omitted.
    #[arg(long)]
    pub delimiter: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Arguments of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Add the imported (and already stored) contacts to this campaign; DNC ones are not.
    #[arg(long)]
    pub campaign: Option<String>,
    /// What to do with numbers already stored.
    #[arg(long, value_enum, default_value_t = OnDuplicate::Skip)]
    pub on_duplicate: OnDuplicate,
    /// Idempotency key: a retry with the same id does not import twice (default: random).
    #[arg(long)]
    pub request_id: Option<String>,
    /// Write the rejected rows (with a `reason` column) to this CSV file, in the source
    /// file's encoding and delimiter (a workbook's as UTF-8 with BOM). Not written when
    /// no row was rejected.
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<std::path::PathBuf>,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite:PATH` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "CONTACTD_DATABASE_URL",
        default_value = "sqlite:contactd.db"
    )]
    pub database_url: String,
    /// Connection pool size.
    #[arg(long, env = "CONTACTD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// PostgreSQL: the longest a request waits for a database connection (and a new
    /// connection takes to open), in ms; then it fails with UNAVAILABLE. Keep it below
    /// clients' deadlines, so that an outage is reported as one.
    #[arg(
        long,
        env = "CONTACTD_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = crate::store::DEFAULT_ACQUIRE_TIMEOUT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(100..=60_000)
    )]
    pub db_acquire_timeout_ms: u64,
}

/// Server settings.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "CONTACTD_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Do not run migrations at start-up (run `contactd migrate` instead).
    #[arg(long, env = "CONTACTD_NO_MIGRATE")]
    pub no_migrate: bool,
    /// TLS: the server's certificate chain (PEM). With --tls-key, gRPC is served over TLS.
    #[arg(long, env = "CONTACTD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS: the server's private key (PEM).
    #[arg(long, env = "CONTACTD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by this CA (PEM).
    #[arg(long, env = "CONTACTD_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off when not given).
    #[arg(long, env = "CONTACTD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Demand an API key on every request, even on a loopback address.
    #[arg(long, env = "CONTACTD_REQUIRE_AUTH")]
    pub require_auth: bool,
    /// Serve a non-loopback address without API keys (trusted networks only).
    #[arg(long, env = "CONTACTD_INSECURE", conflicts_with = "require_auth")]
    pub insecure: bool,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "CONTACTD_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Seconds without a heartbeat after which a running import counts as interrupted
    /// (its server died) and is marked failed. Every replica sweeps for these; a live
    /// import refreshes its heartbeat every 2 s, so keep this well above that.
    #[arg(
        long,
        env = "CONTACTD_IMPORT_STALE_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(5..)
    )]
    pub import_stale_secs: u64,
    /// The largest file (CSV or workbook) one import accepts, in bytes (beyond it the import fails with
    /// RESOURCE_EXHAUSTED; rows already committed stay, counted on the batch).
    #[arg(long, env = "CONTACTD_MAX_IMPORT_BYTES", default_value_t = crate::service::DEFAULT_MAX_IMPORT_BYTES)]
    pub max_import_bytes: u64,
    /// Exports that may run at once on this server; one more is refused with
    /// RESOURCE_EXHAUSTED. Each holds a read-pool connection while it runs.
    #[arg(
        long,
        env = "CONTACTD_MAX_CONCURRENT_EXPORTS",
        default_value_t = crate::service::DEFAULT_MAX_CONCURRENT_EXPORTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_concurrent_exports: usize,
    /// Imports and previews that may run at once on this server; one more is refused with
    /// RESOURCE_EXHAUSTED before anything is stored. Each holds a parsing thread and
    /// about 40 MiB while it runs.
    #[arg(
        long,
        env = "CONTACTD_MAX_CONCURRENT_IMPORTS",
        default_value_t = crate::service::DEFAULT_MAX_CONCURRENT_IMPORTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_concurrent_imports: usize,
    /// Exports of one account that may run at once on this server (below
    /// --max-concurrent-exports, so one tenant never takes every slot); one more is
    /// refused with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "CONTACTD_MAX_ACCOUNT_EXPORTS",
        default_value_t = crate::service::DEFAULT_MAX_ACCOUNT_EXPORTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_account_exports: usize,
    /// Imports and previews of one account that may run at once on this server; one more
    /// is refused with RESOURCE_EXHAUSTED before anything is stored.
    #[arg(
        long,
        env = "CONTACTD_MAX_ACCOUNT_IMPORTS",
        default_value_t = crate::service::DEFAULT_MAX_ACCOUNT_IMPORTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_account_imports: usize,
    /// Seconds an export waits for its client to read before it gives up: the export
    /// ends with DEADLINE_EXCEEDED and frees its slot, connection and snapshot.
    #[arg(
        long,
        env = "CONTACTD_EXPORT_STALL_SECS",
        default_value_t = crate::service::DEFAULT_EXPORT_STALL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub export_stall_secs: u64,
}

impl Settings {
    /// Settings for a server on `listen` over `database_url`, everything else default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Settings {
            listen,
            database: DatabaseArgs {
                database_url: database_url.into(),
                db_max_connections: 16,
                db_acquire_timeout_ms: crate::store::DEFAULT_ACQUIRE_TIMEOUT.as_millis() as u64,
            },
            no_migrate: false,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            metrics_listen: None,
            require_auth: false,
            insecure: false,
            shutdown_grace_secs: 10,
            import_stale_secs: 60,
            max_import_bytes: crate::service::DEFAULT_MAX_IMPORT_BYTES,
            max_concurrent_exports: crate::service::DEFAULT_MAX_CONCURRENT_EXPORTS,
            max_concurrent_imports: crate::service::DEFAULT_MAX_CONCURRENT_IMPORTS,
            max_account_exports: crate::service::DEFAULT_MAX_ACCOUNT_EXPORTS,
            max_account_imports: crate::service::DEFAULT_MAX_ACCOUNT_IMPORTS,
            export_stall_secs: crate::service::DEFAULT_EXPORT_STALL.as_secs(),
        }
    }
}

impl Settings {
    /// Whether requests must carry an API key: on request, and always on a non-loopback
    /// address unless `--insecure`.
    pub fn auth_required(&self) -> bool {
        self.require_auth || (!self.listen.ip().is_loopback() && !self.insecure)
    }
}

impl Default for Settings {
    /// The settings of a bare `contactd`: environment, then defaults.
    fn default() -> Self {
        Cli::parse_from(["contactd"]).serve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args(std::iter::once("contactd").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_flags_work_with_or_without_the_serve_word() {
        let flags = ["--listen", "127.0.0.1:7", "--database-url", "sqlite:x.db"];
        let bare = parse(&flags).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.serve.listen, "127.0.0.1:7".parse().unwrap());
        assert_eq!(bare.serve.database.database_url, "sqlite:x.db");
        let with_word = parse(&[&["serve"][..], &flags].concat()).unwrap();
        let Some(Command::Serve(s)) = with_word.command else {
            panic!("serve parses to Serve");
        };
        assert_eq!(s.listen, "127.0.0.1:7".parse().unwrap());
    }

    #[test]
    fn a_serve_flag_before_another_subcommand_is_refused() {
        let err = parse(&["--listen", "127.0.0.1:7", "migrate"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(err.to_string().contains("--listen"), "{err}");
    }

    #[test]
    fn keys_take_the_database_url_after_the_action() {
        let cli = parse(&[
            "keys",
            "create",
            "--internal",
            "--database-url",
            "sqlite:k.db",
        ])
        .unwrap();
        let Some(Command::Keys(k)) = cli.command else {
            panic!("keys parses to Keys");
        };
        assert_eq!(k.database_url, "sqlite:k.db");
        let cli = parse(&["keys", "--database-url", "sqlite:k.db", "list"]).unwrap();
        let Some(Command::Keys(k)) = cli.command else {
            panic!("keys parses to Keys");
        };
        assert_eq!(k.database_url, "sqlite:k.db");
    }

    #[test]
    fn preview_refuses_the_options_only_an_import_has() {
        for flag in ["--rejected", "--campaign", "--on-duplicate", "--request-id"] {
            let err = parse(&["preview", "f.csv", "--account", "a", flag, "x"]).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{flag}"
            );
        }
        parse(&["import", "f.csv", "--account", "a", "--rejected", "r.csv"]).unwrap();
    }

    #[test]
    fn the_global_log_format_may_precede_a_subcommand() {
        let cli = parse(&["--log-format", "json", "migrate"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(matches!(cli.command, Some(Command::Migrate(_))));
        let cli = parse(&["migrate", "--log-format", "json"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json, "and may follow it");
    }
}
