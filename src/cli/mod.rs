//! The `contactd` command line: the server, `migrate`, `renormalize`, and client
//! subcommands that talk to a running server over gRPC.

pub mod advice;
pub mod export;
pub mod import;
pub mod keys;
pub mod rejected;
pub mod renormalize;
pub mod table;

use crate::config::{Cli, Command, ServerArgs};
use crate::pb::contact_service_client::ContactServiceClient;
use tonic::{
    metadata::MetadataValue, service::interceptor::InterceptedService, transport::Channel,
};

/// Adds `authorization: Bearer <key>` to every request when a key is configured.
#[derive(Debug, Clone)]
pub struct BearerKey(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for BearerKey {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// The client the CLI's subcommands use.
pub type Client = ContactServiceClient<InterceptedService<Channel, BearerKey>>;

/// Connects to the server named by `args`, sending its API key if one is given.
pub async fn connect(args: &ServerArgs) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(args.server.clone())?
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", args.server))?;
    let key = match &args.api_key {
        Some(k) => Some(
            format!("Bearer {k}")
                .parse()
                .map_err(|_| anyhow::anyhow!("the API key is not valid ASCII"))?,
        ),
        None => None,
    };
    Ok(
        ContactServiceClient::with_interceptor(channel, BearerKey(key))
            .max_decoding_message_size(crate::grpc::MAX_MESSAGE_BYTES),
    )
}
use crate::startup::{Application, shutdown_signal};

/// Runs the parsed command line. A server's refusal is reported by its message (which
/// names the field and what to do), not as gRPC status text.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    run_command(cli).await.map_err(readable)
}

/// `err` with a gRPC status in its chain replaced by the status's message.
pub(crate) fn readable(err: anyhow::Error) -> anyhow::Error {
    let Some(status) = err.chain().find_map(|e| e.downcast_ref::<tonic::Status>()) else {
        return err;
    };
    let mut parts: Vec<String> = err
        .chain()
        .take_while(|e| e.downcast_ref::<tonic::Status>().is_none())
        .map(|e| e.to_string())
        .collect();
    parts.push(if status.message().is_empty() {
        format!("the server answered {:?}", status.code())
    } else {
        status.message().to_string()
    });
    anyhow::anyhow!(parts.join(": "))
}

async fn run_command(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(settings) => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await?;
        }
        Command::Migrate(db) => {
            crate::store::migrate(&db.database_url).await?;
            println!("migrations applied");
        }
        Command::Renormalize(args) => renormalize::run(args).await?,
        Command::Keys(args) => keys::run(args).await?,
        Command::Export(args) => export::run(args).await?,
        Command::Import(args) => import::import(args).await?,
        Command::Preview(args) => import::preview(args).await?,
    }
    Ok(())
}
