//! API keys and tenancy: who may act on which account.

use crate::helpers::{Backend, RawCodec, TestApp, TestDb};
use contactd::config::Settings;
use contactd::domain::clock::FixedClock;
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use contactd::service::Services;
use contactd::startup::{Application, StartupError};
use std::sync::Arc;
use tonic::{Code, Request};

/// A server that requires keys, two accounts, and keys for them.
pub(crate) struct Secured {
    pub app: TestApp,
    pub svc: Services,
    pub clock: FixedClock,
    pub internal: String,
    pub account_a: String,
    pub key_a: String,
    pub account_b: String,
}

/// Built on `app`'s database (already migrated); `app` itself is not used further.
pub(crate) async fn secured(app: TestApp) -> Secured {
    let db = app.db.clone();
    let clock = FixedClock::at(1_800_000_000_000);
    let svc = Services::new(
        contactd::store::connect(&db.url, 2).await.unwrap(),
        Arc::new(clock.clone()),
    );
    let (_, internal) = svc.create_key(None, "dialer").await.unwrap();
    let new = |name: &str| contactd::service::accounts::NewAccount {
        name: name.into(),
        plan: contactd::domain::Plan::Professional,
        default_region: contactd::domain::Region::parse("US").unwrap(),
    };
    let account_a = svc.create_account(new("A")).await.unwrap().id;
    let account_b = svc.create_account(new("B")).await.unwrap().id;
    let (_, key_a) = svc.create_key(Some(&account_a), "a").await.unwrap();
    let app =
        TestApp::spawn_configured(db, Arc::new(clock.clone()), |s| s.require_auth = true).await;
    Secured {
        app,
        svc,
        clock,
        internal,
        account_a,
        key_a,
        account_b,
    }
}

pub(crate) fn with_key<T>(message: T, key: &str) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    r
}

fn get_account(id: &str) -> pb::GetAccountRequest {
    pb::GetAccountRequest {
        account_id: id.into(),
    }
}

async fn client(s: &Secured) -> ContactServiceClient<tonic::transport::Channel> {
    s.app.client.clone()
}

both!(
    requests_without_a_valid_key_are_unauthenticated,
    a_scoped_key_acts_only_on_its_account,
    an_internal_key_acts_on_any_account,
    a_revoked_key_stops_working,
    the_keys_command_creates_lists_and_revokes_keys,
);

async fn requests_without_a_valid_key_are_unauthenticated(app: TestApp) {
    let s = secured(app).await;
    let mut c = client(&s).await;
    let none = c.get_account(get_account(&s.account_a)).await.unwrap_err();
    assert_eq!(none.code(), Code::Unauthenticated);
    assert!(none.message().contains("Bearer"), "{}", none.message());
    let wrong = c
        .get_account(with_key(get_account(&s.account_a), "cdk_nope"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let mut raw = Request::new(get_account(&s.account_a));
    raw.metadata_mut()
        .insert("authorization", s.key_a.parse().unwrap());
    assert_eq!(
        c.get_account(raw).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

async fn a_scoped_key_acts_only_on_its_account(app: TestApp) {
    let s = secured(app).await;
    let mut c = client(&s).await;
    let own = c
        .get_account(with_key(get_account(&s.account_a), &s.key_a))
        .await
        .unwrap();
    assert_eq!(own.into_inner().account.unwrap().id, s.account_a);
    let created = c
        .create_contact(with_key(
            pb::CreateContactRequest {
                account_id: s.account_a.clone(),
                contact: Some(pb::ContactInput {
                    phone: "+14155552671".into(),
                    ..Default::default()
                }),
            },
            &s.key_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();

    let other = c
        .get_account(with_key(get_account(&s.account_b), &s.key_a))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    // A made-up account is refused the same way: existence does not leak.
    let made_up = c
        .get_account(with_key(get_account("acc_nope"), &s.key_a))
        .await
        .unwrap_err();
    assert_eq!(made_up.code(), Code::PermissionDenied);
    // Reaching A's contact through B's id is refused too.
    let cross = c
        .get_contact(with_key(
            pb::GetContactRequest {
                account_id: s.account_b.clone(),
                contact_id: created.id,
            },
            &s.key_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(cross.code(), Code::PermissionDenied);
    let create = c
        .create_account(with_key(
            pb::CreateAccountRequest {
                name: "x".into(),
                plan: pb::Plan::Dental as i32,
                ..Default::default()
            },
            &s.key_a,
        ))
        .await
        .unwrap_err();
    assert_eq!(create.code(), Code::PermissionDenied);
}

async fn an_internal_key_acts_on_any_account(app: TestApp) {
    let s = secured(app).await;
    let mut c = client(&s).await;
    for account in [&s.account_a, &s.account_b] {
        c.get_account(with_key(get_account(account), &s.internal))
            .await
            .unwrap();
    }
    c.create_account(with_key(
        pb::CreateAccountRequest {
            name: "x".into(),
            plan: pb::Plan::Dental as i32,
            ..Default::default()
        },
        &s.internal,
    ))
    .await
    .unwrap();
}

async fn a_revoked_key_stops_working(app: TestApp) {
    let s = secured(app).await;
    let mut c = client(&s).await;
    c.get_account(with_key(get_account(&s.account_a), &s.key_a))
        .await
        .unwrap();
    let id = s.svc.list_keys(Some(&s.account_a)).await.unwrap()[0]
        .id
        .clone();
    s.svc.revoke_key(&id).await.unwrap();
    // Verdicts are cached for at most 30 s on each replica.
    s.clock
        .advance_ms(contactd::service::keys::CACHE_TTL_MS + 1);
    let err = c
        .get_account(with_key(get_account(&s.account_a), &s.key_a))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_public_address_without_keys_refuses_to_start() {
    let db = TestDb::new(Backend::Sqlite).await;
    let settings = Settings::new("0.0.0.0:0".parse().unwrap(), db.url.clone());
    match Application::build(settings.clone()).await {
        Err(StartupError::NoApiKeys(_)) => {}
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("started without keys on a public address"),
    }
    let insecure = Settings {
        insecure: true,
        ..settings
    };
    assert!(Application::build(insecure).await.is_ok());
}

/// The field numbers leading from `message` to a string field named `account_id`.
fn account_id_path(
    fds: &prost_types::FileDescriptorSet,
    message: &str,
    depth: usize,
) -> Option<Vec<i32>> {
    use prost_types::field_descriptor_proto::Type;
    let name = message.trim_start_matches(".contacts.v1.");
    let desc = fds
        .file
        .iter()
        .flat_map(|f| &f.message_type)
        .find(|m| m.name() == name)?;
    if let Some(f) = desc.field.iter().find(|f| f.name() == "account_id") {
        return Some(vec![f.number()]);
    }
    if depth == 0 {
        return None;
    }
    desc.field
        .iter()
        .filter(|f| f.r#type() == Type::Message)
        .find_map(|f| {
            let mut rest = account_id_path(fds, f.type_name(), depth - 1)?;
            rest.insert(0, f.number());
            Some(rest)
        })
}

/// Encodes `value` at the nested field path (each level a length-delimited field).
fn encode_at(path: &[i32], value: &[u8]) -> Vec<u8> {
    let mut inner = value.to_vec();
    for number in path.iter().rev() {
        let mut outer = Vec::new();
        prost::encoding::encode_key(
            *number as u32,
            prost::encoding::WireType::LengthDelimited,
            &mut outer,
        );
        prost::encoding::encode_varint(inner.len() as u64, &mut outer);
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    inner
}

both!(every_rpc_checks_the_account_of_its_key);

/// Walks the service descriptor, so an RPC added without an account check fails here.
async fn every_rpc_checks_the_account_of_its_key(app: TestApp) {
    use prost::Message;
    let s = secured(app).await;
    let fds = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let service = fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "ContactService")
        .unwrap();
    assert!(service.method.len() >= 30);
    let mut grpc = tonic::client::Grpc::new(s.app.channel.clone());
    for method in &service.method {
        let body = match account_id_path(&fds, method.input_type(), 2) {
            Some(path) => encode_at(&path, s.account_b.as_bytes()),
            None => Vec::new(),
        };
        let path: http::uri::PathAndQuery =
            format!("/contacts.v1.ContactService/{}", method.name())
                .parse()
                .unwrap();
        let request = with_key(tokio_stream::iter([body]), &s.key_a);
        grpc.ready().await.unwrap();
        let status = match grpc.streaming(request, path, RawCodec).await {
            Err(status) => status,
            Ok(response) => match response.into_inner().message().await {
                Err(status) => status,
                Ok(answer) => panic!(
                    "{} answered {answer:?} to a key of another account",
                    method.name()
                ),
            },
        };
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{}: {status:?}",
            method.name()
        );
    }
}

/// Runs `contactd keys ARGS` (the real binary) on `database_url`; returns its stdout and
/// stderr, failing the test if it fails.
async fn keys_command(database_url: &str, args: &[&str]) -> (String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .arg("keys")
        .args(args)
        .env("CONTACTD_DATABASE_URL", database_url)
        .output()
        .await
        .expect("contactd runs");
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "keys {args:?}: {stdout}{stderr}");
    (stdout, stderr)
}

/// The value of a `name:   value` line of `keys create`.
fn field<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} line in {output:?}"))
        .trim()
}

async fn the_keys_command_creates_lists_and_revokes_keys(app: TestApp) {
    let url = app.db.url.clone();
    // A server that requires keys refuses to start without one: the first comes first.
    let (out, note) = keys_command(&url, &["create", "--internal", "--name", "dialer"]).await;
    assert_eq!(field(&out, "scope"), "internal (any account)");
    let internal = field(&out, "secret").to_string();
    assert!(note.contains("shown once"), "{note}");
    let clock = FixedClock::at(1_800_000_000_000);
    let app = TestApp::spawn_configured(app.db.clone(), Arc::new(clock.clone()), |s| {
        s.require_auth = true
    })
    .await;
    let mut c = app.client.clone();

    let create = pb::CreateAccountRequest {
        name: "Keyed Co".into(),
        plan: pb::Plan::Professional as i32,
        default_region: "US".into(),
        ..Default::default()
    };
    let account = c.create_account(with_key(create, &internal)).await.unwrap();
    let account = account.into_inner().account.unwrap().id;

    let (out, _) = keys_command(&url, &["create", "--account", &account, "--name", "web"]).await;
    let (id, secret) = (
        field(&out, "id").to_string(),
        field(&out, "secret").to_string(),
    );
    assert_eq!(field(&out, "scope"), account);
    assert!(
        id.starts_with("key_") && secret.starts_with("cdk_"),
        "{out}"
    );
    assert_eq!(
        out.matches(&secret).count(),
        1,
        "the secret is printed once: {out}"
    );

    let (listed, _) = keys_command(&url, &["list", "--account", &account]).await;
    let row = listed.lines().find(|l| l.starts_with(&id)).expect(&listed);
    assert!(
        row.contains(&account) && row.contains("web") && row.ends_with("live"),
        "{row}"
    );
    let (all, _) = keys_command(&url, &["list"]).await;
    assert!(all.contains(&id) && all.contains("dialer"), "{all}");
    for secret in [&secret, &internal] {
        assert!(!all.contains(secret.as_str()), "a secret is listed: {all}");
    }

    let got = c
        .get_account(with_key(get_account(&account), &secret))
        .await;
    assert_eq!(got.unwrap().into_inner().account.unwrap().id, account);

    let (out, _) = keys_command(&url, &["revoke", &id]).await;
    assert!(out.contains(&id), "{out}");
    let (listed, _) = keys_command(&url, &["list", "--account", &account]).await;
    let row = listed.lines().find(|l| l.starts_with(&id)).expect(&listed);
    assert!(row.ends_with("revoked"), "{row}");
    // The server learns of the revocation when its cached verdict expires.
    clock.advance_ms(contactd::service::keys::CACHE_TTL_MS);
    let refused = c
        .get_account(with_key(get_account(&account), &secret))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    c.get_account(with_key(get_account(&account), &internal))
        .await
        .expect("the internal key still works");
}
