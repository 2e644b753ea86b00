//! `bench`: every performance figure of contactd, measured against a reference taken in
//! the same run on the same machine, printed as a table and optionally written into
//! BENCHMARKS.md.
//!
//! The server under test runs as a child process (this binary re-executed with the
//! hidden `serve-child` command), so its peak RSS is its own. Data is generated with a
//! fixed seed. `--quick` shrinks every size so the harness runs in CI in about a minute;
//! timings never fail a run, only errors do.
//!
//! ```text
//! cargo run --release --bin bench -- [--quick] [--suite NAME]… [--backend pg|sqlite|both] [--write BENCHMARKS.md]
//! ```
//!
//! Suites: `normalize` (phone numbers/s on 1 and 2 threads), `import` (1,000,000 CSV rows
//! via gRPC vs the database's bulk loader), `search` (search and GetContact latency in a
//! 50,000-contact account among 1,000,000 rows, unary throughput), `claims` (dialer claim
//! latency, open loop at 200 claims/s and closed loop, and CPU per leased contact, over a
//! 50,000-member campaign), `bulk` (MarkDnc by
//! filter over 50,000 contacts), `export` (1,000,000
//! contacts vs `psql \copy … TO STDOUT`), `bounds` (a 20 MiB all-invalid import: time,
//! rejected rows stored, database growth; an export beside four stalled exports of
//! another account), `safety` (the interleaving checker against two replicas: violations
//! must be 0), `dnc` (PostgreSQL: ImportDncList of 1,000,000 numbers, registry file and
//! plain text, vs `psql \copy` of the same numbers into the same table; RSS growth).

mod bounds;
mod bulk;
#[path = "../../tests/api/checker.rs"]
mod checker;
mod claims;
mod dnc;
mod export;
mod harness;
mod import;
mod normalize;
mod safety;
mod search;

use harness::{Backend, Report};

#[derive(Debug, clap::Parser)]
#[command(name = "bench", about = "contactd benchmarks")]
struct Args {
    /// Small sizes (CI smoke run: checks the harness, not the numbers).
    #[arg(long)]
    quick: bool,
    /// Which suites (repeatable); default all.
    #[arg(long)]
    suite: Vec<String>,
    /// Backends to run on.
    #[arg(long, default_value = "both")]
    backend: String,
    /// PostgreSQL server to create the benchmark database on.
    #[arg(
        long,
        env = "CONTACTD_BENCH_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pg_url: String,
    /// Write the table as Markdown into this file (replacing the generated section).
    #[arg(long)]
    write: Option<std::path::PathBuf>,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Debug, clap::Subcommand)]
enum Child {
    /// Internal: run the server on a database and print its port.
    #[command(hide = true)]
    ServeChild { database_url: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use clap::Parser;
    let args = Args::parse();
    if let Some(Child::ServeChild { database_url }) = args.child {
        return harness::serve_child(&database_url).await;
    }
    let backends: Vec<Backend> = match args.backend.as_str() {
        "pg" | "postgres" => vec![Backend::Postgres],
        "sqlite" => vec![Backend::Sqlite],
        _ => vec![Backend::Postgres, Backend::Sqlite],
    };
    let wants = |name: &str| args.suite.is_empty() || args.suite.iter().any(|s| s == name);
    let mut report = Report::new(args.quick);
    if wants("normalize") {
        normalize::run(&mut report, args.quick);
    }
    for backend in backends.iter().copied() {
        if wants("import") {
            import::run(&mut report, backend, &args.pg_url, args.quick).await?;
        }
    }
    for backend in backends.iter().copied() {
        if wants("search") {
            search::run(&mut report, backend, &args.pg_url, args.quick).await?;
        }
    }
    for backend in backends.iter().copied() {
        if wants("claims") {
            claims::run(&mut report, backend, &args.pg_url, args.quick).await?;
        }
        if wants("bulk") {
            bulk::run(&mut report, backend, &args.pg_url, args.quick).await?;
        }
        if wants("safety") {
            safety::run(&mut report, backend, &args.pg_url, args.quick).await?;
        }
    }
    if wants("export") && backends.contains(&Backend::Postgres) {
        export::run(&mut report, &args.pg_url, args.quick).await?;
    }
    if wants("dnc") && backends.contains(&Backend::Postgres) {
        dnc::run(&mut report, &args.pg_url, args.quick).await?;
    }
    if wants("bounds") {
        bounds::run(&mut report, &backends, &args.pg_url, args.quick).await?;
    }
    report.print();
    if let Some(path) = args.write {
        report.write_markdown(&path)?;
        println!("written to {}", path.display());
    }
    Ok(())
}
