//! API keys and tenancy: who may act on which account.

use crate::helpers::{Backend, TestApp, TestDb};
use contactd::config::Settings;
use contactd::domain::clock::FixedClock;
use contactd::pb::{self, contact_service_client::ContactServiceClient};
use contactd::service::Services;
use contactd::startup::{Application, StartupError};
use std::sync::Arc;
use tonic::{Code, Request};

/// A server that requires keys, two accounts, and keys for them.
struct Secured {
    app: TestApp,
    svc: Services,
    clock: FixedClock,
    internal: String,
    account_a: String,
    key_a: String,
    account_b: String,
}

/// Built on `app`'s database (already migrated); `app` itself is not used further.
async fn secured(app: TestApp) -> Secured {
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

fn with_key<T>(message: T, key: &str) -> Request<T> {
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
