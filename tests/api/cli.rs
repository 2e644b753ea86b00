//! The `contactd` binary itself: serving with or without the `serve` word, `migrate`,
//! `--no-migrate`, and flags over environment variables. SQLite only: these are about
//! the command line, not the backend.

use crate::helpers::{Backend, ServerProcess, TestDb, contactd_command, free_port};
use contactd::pb;
use tonic_health::pb::health_check_response::ServingStatus;

/// Whether the database has the `accounts` table (the schema's first).
async fn has_schema(url: &str) -> bool {
    use sea_orm::{ConnectionTrait, Statement};
    let db = contactd::store::connect(url, 2)
        .await
        .expect("open database");
    let sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'accounts'";
    let stmt = Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(stmt).await.expect("query sqlite_master");
    db.close().await.ok();
    row.expect("a count").try_get_by_index::<i64>(0).unwrap() == 1
}

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

#[tokio::test]
async fn migrate_creates_the_schema_that_serve_no_migrate_then_uses() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = contactd_command(&["migrate", "--database-url", &db.url], &[])
        .output()
        .expect("contactd migrate runs");
    assert!(
        out.status.success(),
        "contactd migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "migrations applied\n");
    assert!(has_schema(&db.url).await, "migrate created no tables");

    let server = ServerProcess::start(&db.url, &["--no-migrate"]).await;
    assert_eq!(server.health().await, ServingStatus::Serving);
    create_account(&server)
        .await
        .expect("the migrated schema serves");
}

/// `--no-migrate` really skips migrations: on a fresh database the server starts, but
/// the schema is absent, requests fail and health says NOT_SERVING (a load balancer
/// sends it nothing). Once `contactd migrate` has run, health turns SERVING by itself.
#[tokio::test]
async fn serve_no_migrate_is_not_serving_until_the_database_is_migrated() {
    use std::time::{Duration, Instant};
    let db = TestDb::new(Backend::Sqlite).await;
    let server = ServerProcess::start(&db.url, &["--no-migrate"]).await;
    assert_eq!(server.health().await, ServingStatus::NotServing);
    let refused = create_account(&server).await;
    assert!(refused.is_err(), "an account was stored: {refused:?}");
    assert!(!has_schema(&db.url).await, "--no-migrate migrated");

    let out = contactd_command(&["migrate", "--database-url", &db.url], &[])
        .output()
        .expect("contactd migrate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    while server.health().await != ServingStatus::Serving {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still NOT_SERVING after the migration"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    create_account(&server).await.expect("serves once migrated");
}

#[tokio::test]
async fn a_flag_beats_its_environment_variable() {
    let db = TestDb::new(Backend::Sqlite).await;
    let (env_port, flag_port) = (free_port(), free_port());
    let env_listen = format!("127.0.0.1:{env_port}");
    let flag_listen = format!("127.0.0.1:{flag_port}");
    let env = [
        ("CONTACTD_LISTEN", env_listen.as_str()),
        ("CONTACTD_DATABASE_URL", db.url.as_str()),
    ];
    let server = ServerProcess::spawn(&["serve", "--listen", &flag_listen], &env, flag_port).await;
    create_account(&server)
        .await
        .expect("serves on the flag's address");
    assert!(
        has_schema(&db.url).await,
        "CONTACTD_DATABASE_URL (no flag given) was not used"
    );
    assert!(
        tokio::net::TcpStream::connect(&env_listen).await.is_err(),
        "also listening on CONTACTD_LISTEN's address"
    );
}
