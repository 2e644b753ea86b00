//! The `contactd` binary itself: serving with or without the `serve` word. SQLite only:
//! these are about the command line, not the backend.

use crate::helpers::{Backend, ServerProcess, TestDb, free_port};
use contactd::pb;
use tonic_health::pb::health_check_response::ServingStatus;

async fn create_account(server: &ServerProcess) -> Result<String, tonic::Status> {
    let req = pb::CreateAccountRequest {
        name: "Cli Co".into(),
        plan: pb::Plan::Professional as i32,
        ..Default::default()
    };
    let reply = server.client.clone().create_account(req).await?;
    Ok(reply.into_inner().account.unwrap().id)
}

#[tokio::test]
async fn contactd_without_a_subcommand_takes_the_serve_flags() {
    let db = TestDb::new(Backend::Sqlite).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", &listen, "--database-url", &db.url];
    let server = ServerProcess::spawn(&args, &[], port).await;
    assert_eq!(server.health().await, ServingStatus::Serving);
    create_account(&server).await.expect("the API works");
}
