//! The server itself: health, reflection, shutdown.

use crate::helpers::TestApp;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

both!(
    health_is_serving_once_migrated,
    reflection_lists_the_services,
    reflection_v1alpha_lists_the_services_for_grpcurl_1_8,
    health_turns_not_serving_when_shutdown_begins,
    metrics_count_requests_by_method_and_code,
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

async fn metrics_count_requests_by_method_and_code(app: TestApp) {
    use contactd::pb;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await;
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

    let mut socket = tokio::net::TcpStream::connect(app.metrics_addr.unwrap())
        .await
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
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
