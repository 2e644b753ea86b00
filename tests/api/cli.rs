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

/// A server process over a fresh SQLite database, its URL and an account in it.
async fn server_with_account() -> (TestDb, ServerProcess, String, String) {
    let db = TestDb::new(Backend::Sqlite).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["serve", "--listen", &listen, "--database-url", &db.url];
    let server = ServerProcess::spawn(&args, &[], port).await;
    let account = create_account(&server).await.expect("an account");
    (db, server, format!("http://{listen}"), account)
}

/// Runs `contactd` with `args`; returns (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = contactd_command(args, &[]).output().expect("contactd runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `contactd COMMAND FILE --account ACC --server URL EXTRA…`; (success, stdout, stderr).
fn client_command(
    command: &str,
    file: &std::path::Path,
    acc: &str,
    url: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let file = file.to_str().unwrap();
    let args = [command, file, "--account", acc, "--server", url];
    run(&[&args[..], extra].concat())
}

/// The README's sample file under the default STRICT check: every row is rejected, the
/// output says `--lenient` is what helps, and the exit code says nothing was imported.
#[tokio::test]
async fn importing_the_docs_sample_names_lenient_and_exits_non_zero() {
    let (_db, _server, url, acc) = server_with_account().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed_example.csv");
    std::fs::write(
        &file,
        "phone,first_name,last_name,email,company\n\
+15551234567,John,Smith,john@example.com,Acme Corp\n\
+15559876543,Jane,Doe,jane@example.com,Beta Inc\n",
    )
    .unwrap();
    let rejected = dir.path().join("rejected.csv");
    let (ok, stdout, stderr) = client_command(
        "import",
        &file,
        &acc,
        &url,
        &["--rejected", rejected.to_str().unwrap()],
    );
    assert!(
        !ok,
        "zero rows of a non-empty file imported, yet exit 0:\n{stdout}"
    );
    assert!(stdout.contains("--lenient"), "{stdout}");
    assert!(stderr.contains("no row of"), "{stderr}");
    assert!(
        !stdout.contains("use --rejected FILE"),
        "--rejected was given: {stdout}"
    );
    let bytes = std::fs::read(&rejected).expect("the rejected rows are written");
    assert_eq!(&bytes[..3], [0xEF, 0xBB, 0xBF], "UTF-8 with BOM for Excel");
    let (ok, stdout, _) = client_command("preview", &file, &acc, &url, &[]);
    assert!(ok);
    assert!(stdout.contains("--lenient"), "{stdout}");
    assert!(
        stdout.contains("LENIENT validation accepts them)"),
        "reasons are wrapped, never cut:\n{stdout}"
    );
}

/// A German Excel file (Windows-1252, semicolons) imports without `--map`; its
/// rejected rows come back the way Excel wrote the file; a file with nothing rejected
/// writes no rejected-rows file.
#[tokio::test]
async fn a_german_excel_file_imports_and_its_rejected_rows_keep_its_encoding() {
    let (_db, _server, url, acc) = server_with_account().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kontakte.csv");
    let text = "Telefon;Vorname;Nachname;E-Mail;Firma;Position;Land\r\n\
0151 23456789;Jürgen;Müller;j@example.de;Müller GmbH;Geschäftsführer;Deutschland\r\n\
12;Anna;Groß;a@example.de;Groß AG;Leiterin;Deutschland\r\n";
    std::fs::write(&file, encoding_rs::WINDOWS_1252.encode(text).0).unwrap();
    let rejected = dir.path().join("abgelehnt.csv");
    let (ok, stdout, stderr) = client_command(
        "import",
        &file,
        &acc,
        &url,
        &["--rejected", rejected.to_str().unwrap()],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("imported      1"), "{stdout}");
    let bytes = std::fs::read(&rejected).unwrap();
    let (written, _, bad) = encoding_rs::WINDOWS_1252.decode(&bytes);
    assert!(!bad);
    assert!(
        written.starts_with("Telefon;Vorname;Nachname;E-Mail;Firma;Position;Land;reason"),
        "{written}"
    );
    assert!(written.contains("12;Anna;Groß;"), "{written}");

    let clean = dir.path().join("clean.csv");
    std::fs::write(&clean, "phone\n(415) 555-0100\n").unwrap();
    let none = dir.path().join("none.csv");
    let (ok, stdout, _) = client_command(
        "import",
        &clean,
        &acc,
        &url,
        &["--rejected", none.to_str().unwrap()],
    );
    assert!(ok);
    assert!(stdout.contains("not written"), "{stdout}");
    assert!(!none.exists(), "a header-only rejected file was written");
}

/// A refusal reads as the server's message, not as gRPC status text.
#[tokio::test]
async fn a_refused_import_prints_the_reason_not_grpc_text() {
    let (_db, _server, url, acc) = server_with_account().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no_phone.csv");
    std::fs::write(&file, "Vorname;Nachname\nAnna;Groß\n").unwrap();
    let (ok, _, stderr) = client_command("import", &file, &acc, &url, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("no column holds the phone number"),
        "{stderr}"
    );
    assert!(stderr.contains("--map phone="), "{stderr}");
    assert!(
        !stderr.contains("status:") && !stderr.contains("Client specified"),
        "{stderr}"
    );
}
