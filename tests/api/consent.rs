//! Consent records: recorded and listed per contact with their evidence, checked at the
//! edge, and revoked together with a DNC mark of the number.

use crate::helpers::{TestApp, clock_at, ts_at, violated_fields};
use contactd::pb;
use tonic::Code;

both!(
    consents_are_recorded_and_listed_newest_first_with_their_evidence,
    an_expired_consent_is_listed_as_not_live,
    revoking_consent_marks_the_number_dnc_and_revokes_every_record_together,
    bad_consents_are_invalid_argument_naming_the_field_and_store_nothing,
);

fn consent(kind: pb::ConsentKind, source: &str) -> pb::Consent {
    pb::Consent {
        kind: kind as i32,
        channel: "web form".into(),
        source: source.into(),
        ..Default::default()
    }
}

async fn record(
    app: &TestApp,
    acc: &str,
    contact_id: i64,
    c: pb::Consent,
) -> Result<pb::Consent, tonic::Status> {
    Ok(app
        .client
        .clone()
        .record_consent(pb::RecordConsentRequest {
            account_id: acc.into(),
            contact_id,
            consent: Some(c),
        })
        .await?
        .into_inner()
        .consent
        .unwrap())
}

async fn list(app: &TestApp, acc: &str, contact_id: i64) -> Vec<pb::Consent> {
    app.client
        .clone()
        .list_consents(pb::ListConsentsRequest {
            account_id: acc.into(),
            contact_id,
        })
        .await
        .expect("list consents")
        .into_inner()
        .consents
}

async fn consents_are_recorded_and_listed_newest_first_with_their_evidence(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let mut first = consent(pb::ConsentKind::Express, "https://example.com/form?id=1");
    first.capture_time = Some(ts_at("2026-02-01T10:00:00Z"));
    let a = record(&app, &acc, c.id, first).await.unwrap();
    assert_eq!(a.capture_time, Some(ts_at("2026-02-01T10:00:00Z")));
    assert!(a.live);
    let b = record(
        &app,
        &acc,
        c.id,
        consent(pb::ConsentKind::ExpressWritten, "recording rec_77"),
    )
    .await
    .unwrap();
    assert_eq!(
        b.capture_time,
        Some(ts_at("2026-03-02T18:00:00Z")),
        "now by default"
    );

    let all = list(&app, &acc, c.id).await;
    assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), [b.id, a.id]);
    assert_eq!(all[1].source, "https://example.com/form?id=1");
    assert_eq!(all[0].kind, pb::ConsentKind::ExpressWritten as i32);
    // Another account's contact is not found.
    let other = app.account(pb::Plan::Professional).await;
    let err = record(&app, &other, c.id, consent(pb::ConsentKind::Express, "x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn an_expired_consent_is_listed_as_not_live(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let mut x = consent(pb::ConsentKind::Express, "form");
    x.expire_time = Some(ts_at("2026-03-03T00:00:00Z"));
    assert!(record(&app, &acc, c.id, x).await.unwrap().live);
    clock.set(crate::helpers::ms_at("2026-03-03T00:00:00Z"));
    assert!(!list(&app, &acc, c.id).await[0].live);
}

async fn revoking_consent_marks_the_number_dnc_and_revokes_every_record_together(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[c.id]).await;
    record(&app, &acc, c.id, consent(pb::ConsentKind::Express, "form"))
        .await
        .unwrap();
    record(
        &app,
        &acc,
        c.id,
        consent(pb::ConsentKind::ExpressWritten, "paper"),
    )
    .await
    .unwrap();
    let leased = app.claim(&acc, "camp", "d1", 10, None).await;
    assert_eq!(leased.len(), 1);

    let r = app
        .client
        .clone()
        .revoke_consent(pb::RevokeConsentRequest {
            account_id: acc.clone(),
            contact_id: c.id,
            how: "said stop on a call".into(),
            actor: "agent-7".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.revoked, r.marked_dnc), (2, true));
    let all = list(&app, &acc, c.id).await;
    assert!(all.iter().all(|x| !x.live
        && x.revoke_time == Some(ts_at("2026-03-02T18:00:00Z"))
        && x.revoked_how == "said stop on a call"));
    let contact = app.get_contact(&acc, c.id).await;
    assert_eq!(contact.status, pb::ContactStatus::Dnc as i32);
    let s = app.check_dnc_one(&acc, "+12122345678").await;
    assert_eq!(s.source, pb::DncSource::Api as i32);
    // The lease the dialer held is gone: the holder itself is refused.
    let check = app.check_dialable(&acc, c.id, "camp", "d1", None).await;
    assert_eq!(check.reason, pb::NotDialableReason::Dnc as i32);
}

async fn bad_consents_are_invalid_argument_naming_the_field_and_store_nothing(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let mut future = consent(pb::ConsentKind::Express, "form");
    future.capture_time = Some(ts_at("2026-03-03T00:00:00Z"));
    let mut backwards = consent(pb::ConsentKind::Express, "form");
    backwards.capture_time = Some(ts_at("2026-03-01T00:00:00Z"));
    backwards.expire_time = Some(ts_at("2026-02-01T00:00:00Z"));
    let mut newline = consent(pb::ConsentKind::Express, "form");
    newline.channel = "web\nform".into();
    for (field, x) in [
        (
            "consent.kind",
            consent(pb::ConsentKind::Unspecified, "form"),
        ),
        ("consent.capture_time", future),
        ("consent.expire_time", backwards),
        ("consent.channel", newline),
        (
            "consent.source",
            consent(pb::ConsentKind::Express, &"u".repeat(2049)),
        ),
    ] {
        let err = record(&app, &acc, c.id, x).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}");
        assert_eq!(violated_fields(&err), [field]);
    }
    let err = app
        .client
        .clone()
        .revoke_consent(pb::RevokeConsentRequest {
            account_id: acc.clone(),
            contact_id: c.id,
            how: " ".into(),
            actor: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["how"]);
    assert!(list(&app, &acc, c.id).await.is_empty());
    assert!(!app.check_dnc_one(&acc, "+12122345678").await.dnc);
}
