//! The `contactd` binary: parse the command line, start logging, run the command.

use contactd::{cli, config::Cli, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    telemetry::init(cli.log_format);
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("contactd: {err:#}");
            ExitCode::FAILURE
        }
    }
}
