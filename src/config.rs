//! Configuration: one struct per command, filled by clap from flags, then `CONTACTD_*`
//! environment variables, then defaults — in that order of precedence.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

/// contactd: the contact database of the voice-calling platform.
#[derive(Debug, Parser)]
#[command(name = "contactd", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "CONTACTD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// Import a CSV file into an account through a running server, with progress.
    Import(ImportArgs),
    /// Show what importing a CSV file would do (mapping, sample, counts); stores nothing.
    Preview(ImportArgs),
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

/// Arguments of `import` and `preview`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file (UTF-8, UTF-16 with BOM or Windows-1252; `,` `;` or tab separated).
    pub file: std::path::PathBuf,
    /// The account to import into.
    #[arg(long)]
    pub account: String,
    /// Add the imported (and already stored) contacts to this campaign; DNC ones are not.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Region for local-format numbers (ISO 3166, e.g. US); default: the account's.
    #[arg(long)]
    pub region: Option<String>,
    /// Accept numbers of a possible length even if not in an assigned range.
    #[arg(long)]
    pub lenient: bool,
    /// Map a column explicitly, FIELD=COLUMN (repeatable): phone, first_name, last_name,
    /// full_name, email, company, title, time_zone, ignore, custom.KEY.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Keep columns that map to no field as custom fields.
    #[arg(long)]
    pub custom_fields: bool,
    /// What to do with numbers already stored.
    #[arg(long, value_enum, default_value_t = OnDuplicate::Skip)]
    pub on_duplicate: OnDuplicate,
    /// Field delimiter: `,` `;` or `tab`; detected when omitted.
    #[arg(long)]
    pub delimiter: Option<String>,
    /// Idempotency key: a retry with the same id does not import twice (default: random).
    #[arg(long)]
    pub request_id: Option<String>,
    /// Write the rejected rows (with a `reason` column) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<std::path::PathBuf>,
    /// The server's URL.
    #[arg(
        long,
        env = "CONTACTD_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
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
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, env = "CONTACTD_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

impl Settings {
    /// Settings for a server on `listen` over `database_url`, everything else default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Settings {
            listen,
            database: DatabaseArgs {
                database_url: database_url.into(),
                db_max_connections: 16,
            },
            no_migrate: false,
            shutdown_grace_secs: 10,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let cli = Cli::parse_from(["contactd", "serve"]);
        match cli.command {
            Some(Command::Serve(s)) => s,
            _ => unreachable!("serve parses to Serve"),
        }
    }
}
