//! The `contactd` command line: the server, `migrate`, and client subcommands that talk
//! to a running server over gRPC.

pub mod import;

use crate::config::{Cli, Command, Settings};
use crate::startup::{Application, shutdown_signal};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli
        .command
        .unwrap_or_else(|| Command::Serve(Settings::default()))
    {
        Command::Serve(settings) => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await?;
        }
        Command::Migrate(db) => {
            crate::store::migrate(&db.database_url).await?;
            println!("migrations applied");
        }
        Command::Import(args) => import::import(args).await?,
        Command::Preview(args) => import::preview(args).await?,
    }
    Ok(())
}
