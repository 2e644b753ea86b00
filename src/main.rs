//! The `contactd` binary: parse the command line, start logging, run the command.

use clap::Parser;
use contactd::{cli, config::Cli, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("contactd: {err:#}");
            ExitCode::FAILURE
        }
    }
}
