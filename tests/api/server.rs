//! The server itself: health, reflection, shutdown.

use crate::helpers::TestApp;
use crate::import::{import, list_batches};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

both!(
    health_is_serving_once_migrated,
    every_migration_is_applied_and_memberships_leave_room_for_in_place_updates,
    the_claim_read_pool_reuses_generic_plans,
    reflection_lists_the_services,
    reflection_v1alpha_lists_the_services_for_grpcurl_1_8,
    health_turns_not_serving_when_shutdown_begins,
    metrics_count_requests_by_method_and_code,
    metrics_count_import_rows_by_outcome_and_live_leases,
    a_message_over_the_8_mib_cap_is_resource_exhausted_and_stores_nothing,
);

async fn health_is_serving_once_migrated(app: TestApp) {
    let mut health = HealthClient::new(app.channel.clone());
    for service in ["", "contacts.v1.ContactService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

/// Start-up applied every migration of this build; on PostgreSQL campaign_members keeps
/// half of each page free (fill factor 50, migration 0003), so a lease or an attempt
/// rewrites a member in place instead of adding index entries.
async fn every_migration_is_applied_and_memberships_leave_room_for_in_place_updates(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = contactd::store::connect(&app.db.url, 1).await.unwrap();
    assert_eq!(contactd::store::pending_migrations(&db).await, 0);
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = "SELECT coalesce(array_to_string(reloptions, ','), '') AS o \
                   FROM pg_class WHERE relname = 'campaign_members'";
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .expect("campaign_members exists");
        assert_eq!(row.try_get::<String>("", "o").unwrap(), "fillfactor=50");
    }
    db.close().await.ok();
}

/// The dialer's candidate reads run on a pool of their own whose PostgreSQL sessions reuse
/// a statement's generic plan; the main pool keeps PostgreSQL's default (plans per value).
/// SQLite has no such setting: the claim pool is the main pool.
async fn the_claim_read_pool_reuses_generic_plans(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = contactd::store::connect(&app.db.url, 1).await.unwrap();
    let claims = contactd::store::generic_plans(&db);
    if db.get_database_backend() == DbBackend::Postgres {
        let mode = |conn: sea_orm::DatabaseConnection| async move {
            let sql = "SELECT current_setting('plan_cache_mode') AS m";
            let row = conn
                .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await
                .unwrap()
                .expect("a row");
            row.try_get::<String>("", "m").unwrap()
        };
        assert_eq!(mode(claims.clone()).await, "force_generic_plan");
        assert_eq!(mode(db.clone()).await, "auto");
        claims.close().await.ok();
    }
    db.close().await.ok();
}

/// The service names a reflection client of protocol version `$version` (`v1` or
/// `v1alpha`, which grpcurl before 1.9 speaks) lists over `$channel`.
macro_rules! reflected_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect(concat!("reflection ", stringify!($version), " is served"))
            .into_inner();
        let response = stream
            .message()
            .await
            .unwrap()
            .expect("a reflection answer");
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer: {response:?}");
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<String>>()
    }};
}

fn assert_lists_our_services(names: &[String]) {
    for wanted in ["contacts.v1.ContactService", "grpc.health.v1.Health"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
}

async fn reflection_lists_the_services(app: TestApp) {
    assert_lists_our_services(&reflected_services!(v1, app.channel.clone()));
}

async fn reflection_v1alpha_lists_the_services_for_grpcurl_1_8(app: TestApp) {
    assert_lists_our_services(&reflected_services!(v1alpha, app.channel.clone()));
}

async fn health_turns_not_serving_when_shutdown_begins(mut app: TestApp) {
    let mut health = HealthClient::new(app.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "contacts.v1.ContactService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    app.begin_shutdown();
    let next = watch
        .message()
        .await
        .unwrap()
        .expect("a status change before the stream ends");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
}

/// A server like `app`'s, on its database, with the metrics endpoint on.
async fn with_metrics(app: &TestApp) -> TestApp {
    TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await
}

/// `GET /metrics` on the server's metrics port: the exposition text.
async fn scrape(app: &TestApp) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(app.metrics_addr.unwrap())
        .await
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

async fn metrics_count_requests_by_method_and_code(app: TestApp) {
    use contactd::pb;
    let app = with_metrics(&app).await;
    let account = app.account(pb::Plan::Professional).await;
    app.get_account(&account).await;
    let missing = app
        .client
        .clone()
        .get_account(pb::GetAccountRequest {
            account_id: "acc_missing".into(),
        })
        .await;
    assert!(missing.is_err());

    let text = scrape(&app).await;
    for line in [
        "contactd_rpc_requests_total{code=\"Ok\",method=\"GetAccount\"} 1",
        "contactd_rpc_requests_total{code=\"NotFound\",method=\"GetAccount\"} 1",
        "contactd_rpc_requests_total{code=\"Ok\",method=\"CreateAccount\"} 1",
        "contactd_rpc_duration_seconds_count{method=\"GetAccount\"} 2",
        "contactd_active_leases 0",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
}

async fn metrics_count_import_rows_by_outcome_and_live_leases(app: TestApp) {
    use contactd::pb;
    let app = with_metrics(&app).await;
    let account = app.account_with_limit(2).await;
    let opts = |policy: pb::DuplicatePolicy| pb::ImportOptions {
        account_id: account.clone(),
        duplicate_policy: policy as i32,
        ..Default::default()
    };
    // imported, duplicate in the file, invalid, imported.
    let first = "phone,first_name\n+14155552671,Ann\n+14155552671,Ann\nnot a number,Bob\n\
                 +14155552672,Cy\n";
    let b = import(&app, opts(pb::DuplicatePolicy::Skip), first.as_bytes()).await;
    assert_eq!(b.status(), pb::ImportStatus::Completed);
    // updated, unchanged duplicate of a stored contact, over the limit of 2.
    let second = "phone,first_name\n+14155552671,Anna\n+14155552672,Cy\n+14155552673,Di\n";
    let b = import(
        &app,
        opts(pb::DuplicatePolicy::UpdateAll),
        second.as_bytes(),
    )
    .await;
    assert_eq!(b.status(), pb::ImportStatus::Completed);

    let ids: Vec<i64> = app
        .list_all(&account, Default::default())
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    app.add_to_campaign(&account, "camp", &ids).await;
    let all_day = crate::helpers::rules(0, 0, crate::helpers::any_hour());
    let leased = app.claim(&account, "camp", "d1", 10, Some(all_day)).await;
    assert_eq!(leased.len(), 2);

    let text = scrape(&app).await;
    for line in [
        "contactd_import_rows_total{outcome=\"imported\"} 2",
        "contactd_import_rows_total{outcome=\"duplicate_in_file\"} 1",
        "contactd_import_rows_total{outcome=\"invalid\"} 1",
        "contactd_import_rows_total{outcome=\"updated\"} 1",
        "contactd_import_rows_total{outcome=\"duplicate_existing\"} 1",
        "contactd_import_rows_total{outcome=\"over_limit\"} 1",
        "contactd_active_leases 2",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
}

/// `MAX_MESSAGE_BYTES`: a unary request or an import chunk over 8 MiB is refused with
/// RESOURCE_EXHAUSTED naming the cap, and nothing is stored.
async fn a_message_over_the_8_mib_cap_is_resource_exhausted_and_stores_nothing(app: TestApp) {
    use contactd::grpc::MAX_MESSAGE_BYTES;
    use contactd::pb::{self, import_contacts_request::Payload};
    let account = app.account(pb::Plan::Professional).await;
    let cap = MAX_MESSAGE_BYTES.to_string();

    let huge = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let input = pb::ContactInput {
        phone: "+14155552671".into(),
        custom_fields: [("notes".to_string(), huge)].into(),
        ..Default::default()
    };
    let err = app.try_contact(input, &account).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains(&cap), "{}", err.message());

    let mut file = b"phone\n".to_vec();
    file.resize(MAX_MESSAGE_BYTES + 1, b'1');
    let msgs = [
        Payload::Options(pb::ImportOptions {
            account_id: account.clone(),
            ..Default::default()
        }),
        Payload::Chunk(file),
    ]
    .map(|p| pb::ImportContactsRequest { payload: Some(p) });
    let mut client = app.client.clone();
    let err = match client.import_contacts(tokio_stream::iter(msgs)).await {
        Err(err) => err,
        Ok(resp) => {
            let mut resp = resp.into_inner();
            loop {
                match resp.message().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("the import of an oversized chunk succeeded"),
                    Err(err) => break err,
                }
            }
        }
    };
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains(&cap), "{}", err.message());

    assert_eq!(app.get_account(&account).await.contact_count, 0);
    assert!(app.list_all(&account, Default::default()).await.is_empty());
    let batches = list_batches(&app, &account).await;
    assert!(batches.is_empty(), "{batches:?}");
}
