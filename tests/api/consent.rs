//! Consent records: recorded and listed per contact with their evidence, checked at the
//! edge, and revoked together with a DNC mark of the number — by RevokeConsent or by a
//! call whose callee asked not to be called. A campaign's `require_consent` keeps
//! contacts without a live consent of an accepted kind from its dialers.

use crate::helpers::{TestApp, any_hour, clock_at, ms_at, outbound, rules, ts_at, violated_fields};
use contactd::pb;
use contactd::pb::contact_service_client::ContactServiceClient;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tonic::Code;

type Client = ContactServiceClient<tonic::transport::Channel>;

both!(
    consents_are_recorded_and_listed_newest_first_with_their_evidence,
    an_expired_consent_is_listed_as_not_live,
    revoking_consent_marks_the_number_dnc_and_revokes_every_record_together,
    bad_consents_are_invalid_argument_naming_the_field_and_store_nothing,
    a_campaign_requiring_written_consent_never_gets_a_contact_without_it,
    a_consent_stops_counting_at_its_expiry_for_claims_checks_and_previews,
    with_several_records_the_best_live_one_of_an_accepted_kind_decides,
    the_lease_rechecks_consent_so_a_candidate_whose_consent_ended_is_not_leased,
    a_consent_revoked_during_a_claim_is_never_handed_out,
    a_dnc_request_on_a_call_revokes_the_consent,
    a_refused_call_with_a_dnc_request_still_revokes_the_consent,
    bad_consent_rules_are_invalid_argument_naming_the_field,
    an_export_shows_the_newest_live_consent_and_an_import_ignores_it,
    an_import_with_mapped_consent_columns_records_a_consent_per_row,
    an_invalid_consent_kind_rejects_the_row_naming_the_column_and_line,
    a_campaign_requiring_consent_claims_contacts_whose_consent_came_from_an_import,
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

/// RevokeConsent, which must succeed.
async fn revoke(client: &Client, acc: &str, contact_id: i64, how: &str) {
    client
        .clone()
        .revoke_consent(pb::RevokeConsentRequest {
            account_id: acc.into(),
            contact_id,
            how: how.into(),
            actor: "agent-1".into(),
        })
        .await
        .expect("revoke consent");
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

/// Rules open at the tests' clocks, requiring this consent.
fn requiring(consent: pb::ConsentRequirement) -> pb::DialRules {
    pb::DialRules {
        require_consent: consent as i32,
        ..rules(3, 0, any_hour())
    }
}

async fn claimed_ids(app: &TestApp, acc: &str, dialer: &str, rules: pb::DialRules) -> Vec<i64> {
    let mut ids: Vec<i64> = app
        .claim(acc, "camp", dialer, 100, Some(rules))
        .await
        .iter()
        .map(|c| c.contact.as_ref().unwrap().id)
        .collect();
    ids.sort();
    ids
}

async fn release_all(app: &TestApp, acc: &str, dialer: &str) {
    app.release_leases(acc, dialer, &[], &[]).await;
}

async fn a_campaign_requiring_written_consent_never_gets_a_contact_without_it(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let none = app.contact(&acc, "+12122345601", "NoRecord").await;
    let express = app.contact(&acc, "+12122345602", "Express").await;
    let written = app.contact(&acc, "+12122345603", "Written").await;
    let said_no = app.contact(&acc, "+12122345604", "SaidNo").await;
    let lapsed = app.contact(&acc, "+12122345605", "Lapsed").await;
    let ids = [none.id, express.id, written.id, said_no.id, lapsed.id];
    app.add_to_campaign(&acc, "camp", &ids).await;
    for (c, kind) in [
        (&express, pb::ConsentKind::Express),
        (&written, pb::ConsentKind::ExpressWritten),
        (&said_no, pb::ConsentKind::None),
    ] {
        record(&app, &acc, c.id, consent(kind, "form"))
            .await
            .unwrap();
    }
    let mut old = consent(pb::ConsentKind::ExpressWritten, "form");
    old.capture_time = Some(ts_at("2025-01-01T00:00:00Z"));
    old.expire_time = Some(ts_at("2026-01-01T00:00:00Z"));
    record(&app, &acc, lapsed.id, old).await.unwrap();
    // Another account's written consent for the same number proves nothing here.
    let other = app.account(pb::Plan::Professional).await;
    let twin = app.contact(&other, "+12122345601", "Twin").await;
    record(
        &app,
        &other,
        twin.id,
        consent(pb::ConsentKind::ExpressWritten, "form"),
    )
    .await
    .unwrap();

    let written_only = requiring(pb::ConsentRequirement::ExpressWritten);
    let preview = app.preview(&acc, "camp", Some(written_only.clone())).await;
    assert_eq!(
        (preview.members, preview.dialable, preview.no_consent),
        (5, 1, 4)
    );
    assert_eq!(
        claimed_ids(&app, &acc, "d1", written_only.clone()).await,
        [written.id]
    );
    release_all(&app, &acc, "d1").await;
    let check = app
        .check_dialable(&acc, express.id, "camp", "d1", Some(written_only.clone()))
        .await;
    assert!(!check.dialable);
    assert_eq!(check.reason, pb::NotDialableReason::NoConsent as i32);
    assert!(check.detail.contains("express_written"), "{}", check.detail);
    // A number no contact holds has no consent either.
    let unknown = app
        .client
        .clone()
        .check_dialable(pb::CheckDialableRequest {
            account_id: acc.clone(),
            phone: "+12122345699".into(),
            rules: Some(written_only.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown.reason, pb::NotDialableReason::NoConsent as i32);
    assert!(
        app.check_dialable(&acc, written.id, "camp", "d1", Some(written_only))
            .await
            .dialable
    );

    // Express consent, written or not: the express one counts too; NONE and lapsed ones
    // never do.
    let either = requiring(pb::ConsentRequirement::Express);
    assert_eq!(
        app.preview(&acc, "camp", Some(either.clone()))
            .await
            .no_consent,
        3
    );
    assert_eq!(
        claimed_ids(&app, &acc, "d1", either).await,
        [express.id, written.id]
    );
    release_all(&app, &acc, "d1").await;
    // Without the rule nobody is skipped for consent.
    let free = rules(3, 0, any_hour());
    assert_eq!(
        app.preview(&acc, "camp", Some(free.clone()))
            .await
            .no_consent,
        0
    );
    assert_eq!(claimed_ids(&app, &acc, "d1", free).await, ids);
}

async fn a_consent_stops_counting_at_its_expiry_for_claims_checks_and_previews(app: TestApp) {
    let clock = clock_at("2026-03-02T15:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[c.id]).await;
    let mut x = consent(pb::ConsentKind::Express, "https://example.com/form");
    x.expire_time = Some(ts_at("2026-03-02T16:00:00Z"));
    record(&app, &acc, c.id, x).await.unwrap();
    let r = requiring(pb::ConsentRequirement::Express);
    assert_eq!(app.preview(&acc, "camp", Some(r.clone())).await.dialable, 1);
    assert_eq!(claimed_ids(&app, &acc, "d1", r.clone()).await, [c.id]);
    release_all(&app, &acc, "d1").await;

    clock.set(ms_at("2026-03-02T16:00:00Z"));
    let preview = app.preview(&acc, "camp", Some(r.clone())).await;
    assert_eq!((preview.dialable, preview.no_consent), (0, 1));
    assert!(claimed_ids(&app, &acc, "d1", r.clone()).await.is_empty());
    let check = app
        .check_dialable(&acc, c.id, "camp", "d1", Some(r.clone()))
        .await;
    assert_eq!(check.reason, pb::NotDialableReason::NoConsent as i32);
    // A new consent brings the contact back.
    record(
        &app,
        &acc,
        c.id,
        consent(pb::ConsentKind::Express, "recording rec_9"),
    )
    .await
    .unwrap();
    assert_eq!(claimed_ids(&app, &acc, "d1", r).await, [c.id]);
}

/// The rule reads a summary of each contact's records kept beside the contact (the latest
/// expiry among its live records of each accepted kind): several records of different
/// kinds and expiries, recorded in any order, decide as the best live one of an accepted
/// kind would, at every instant; deleting a contact with records leaves the others as
/// they were.
async fn with_several_records_the_best_live_one_of_an_accepted_kind_decides(app: TestApp) {
    let clock = clock_at("2026-03-02T15:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let with = |kind, expires: Option<&str>| {
        let mut c = consent(kind, "form");
        c.capture_time = Some(ts_at("2026-03-01T00:00:00Z"));
        c.expire_time = expires.map(ts_at);
        c
    };
    use pb::ConsentKind::{Express, ExpressWritten, None as NoConsent};
    // Each contact's records, in the order recorded.
    let people: Vec<(&str, Vec<pb::Consent>)> = vec![
        // A lapsed written consent beside a live express one.
        (
            "+12122345611",
            vec![
                with(Express, None),
                with(ExpressWritten, Some("2026-03-01T12:00:00Z")),
            ],
        ),
        // Express until 16:00, written until 17:00, recorded latest-expiring first.
        (
            "+12122345612",
            vec![
                with(ExpressWritten, Some("2026-03-02T17:00:00Z")),
                with(Express, Some("2026-03-02T16:00:00Z")),
            ],
        ),
        // "No consent" recorded after a written one without expiry takes nothing away.
        (
            "+12122345613",
            vec![with(ExpressWritten, None), with(NoConsent, None)],
        ),
        // Only records that never count.
        (
            "+12122345614",
            vec![
                with(NoConsent, None),
                with(Express, Some("2026-03-02T14:59:59Z")),
            ],
        ),
    ];
    let mut ids = vec![];
    for (i, (phone, records)) in people.into_iter().enumerate() {
        let c = app.contact(&acc, phone, &format!("P{i}")).await;
        for r in records {
            record(&app, &acc, c.id, r).await.unwrap();
        }
        ids.push(c.id);
    }
    app.add_to_campaign(&acc, "camp", &ids).await;
    let written = requiring(pb::ConsentRequirement::ExpressWritten);
    let either = requiring(pb::ConsentRequirement::Express);
    // (time, claimable requiring written, claimable requiring express)
    let expected: [(&str, Vec<i64>, Vec<i64>); 4] = [
        (
            "2026-03-02T15:00:00Z",
            vec![ids[1], ids[2]],
            vec![ids[0], ids[1], ids[2]],
        ),
        (
            "2026-03-02T16:00:00Z",
            vec![ids[1], ids[2]],
            vec![ids[0], ids[1], ids[2]],
        ),
        (
            "2026-03-02T16:59:59Z",
            vec![ids[1], ids[2]],
            vec![ids[0], ids[1], ids[2]],
        ),
        ("2026-03-02T17:00:00Z", vec![ids[2]], vec![ids[0], ids[2]]),
    ];
    for (at, want_written, want_either) in expected {
        clock.set(ms_at(at));
        for (rules, want) in [(&written, &want_written), (&either, &want_either)] {
            let preview = app.preview(&acc, "camp", Some(rules.clone())).await;
            assert_eq!(
                (preview.dialable, preview.no_consent),
                (want.len() as i64, (ids.len() - want.len()) as i64),
                "{at}"
            );
            for &id in &ids {
                let check = app
                    .check_dialable(&acc, id, "camp", "d1", Some(rules.clone()))
                    .await;
                assert_eq!(check.dialable, want.contains(&id), "{at}: contact {id}");
            }
            assert_eq!(
                &claimed_ids(&app, &acc, "d1", rules.clone()).await,
                want,
                "{at}"
            );
            release_all(&app, &acc, "d1").await;
        }
    }
    // Deleting a contact with records (theirs go with it) leaves the others' as they were.
    app.delete_contact(&acc, ids[1]).await;
    assert_eq!(
        claimed_ids(&app, &acc, "d1", either).await,
        [ids[0], ids[2]]
    );
}

/// The claim's candidate read and its lease are two steps: a consent that ends between
/// them must stop the lease. Driven at the store's level, where the two can be
/// separated: the candidate read sees the consent, then the record is revoked (alone,
/// without the DNC mark RevokeConsent adds, so only the consent condition can refuse),
/// and the lease of the candidates read leases the others only. The lease is given the
/// rows' versions as they are after the revocation, as if the read had seen them, so
/// that the version check (`row_version`: the revocation rewrites the contact's consent
/// summary) cannot be what refuses.
async fn the_lease_rechecks_consent_so_a_candidate_whose_consent_ended_is_not_leased(app: TestApp) {
    use contactd::domain::consent::ConsentRequirement;
    use contactd::domain::dialing::Frequency;
    use contactd::store::dialer::{Eligibility, Lease, candidates, lease_eligible};
    let acc = app.account(pb::Plan::Professional).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let c = app.contact(&acc, &format!("+1212234560{i}"), "Ann").await;
        record(
            &app,
            &acc,
            c.id,
            consent(pb::ConsentKind::ExpressWritten, "form"),
        )
        .await
        .unwrap();
        ids.push(c.id);
    }
    app.add_to_campaign(&acc, "camp", &ids).await;
    let db = contactd::store::connect(&app.db.url, 2).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let e = Eligibility {
        now,
        max_attempts: 3,
        last_attempt_before: now,
        frequency: Frequency::default(),
        require_consent: ConsentRequirement::ExpressWritten,
    };
    let read: Vec<i64> = candidates(&db, &acc, "camp", &e, (0, None), 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.contact_id)
        .collect();
    assert_eq!(read, ids);
    contactd::store::consents::revoke(&db, &acc, ids[1], now, "test: revoked in between")
        .await
        .unwrap();
    let versions = current_versions(&db, &read).await;
    let lease = Lease {
        account_id: &acc,
        campaign_id: "camp",
        owner: "d1",
        lease_ms: 60_000,
    };
    let clock = contactd::domain::clock::SystemClock;
    let leased: Vec<i64> = lease_eligible(&db, &lease, &e, (&read, &versions), &clock)
        .await
        .unwrap()
        .contacts
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(leased, [ids[0], ids[2]]);
    db.close().await.ok();
}

/// The contacts' row versions now (`store::dialer::row_version`), in the order of `ids`.
async fn current_versions(db: &sea_orm::DatabaseConnection, ids: &[i64]) -> Vec<i64> {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let mut out = Vec::new();
    for &id in ids {
        let q = Query::select()
            .expr_as(
                contactd::store::dialer::row_version(db.get_database_backend()),
                Alias::new("v"),
            )
            .from(Alias::new("contacts"))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let row = db.query_one(&q).await.unwrap().unwrap();
        out.push(row.try_get::<i64>("", "v").unwrap());
    }
    out
}

async fn a_consent_revoked_during_a_claim_is_never_handed_out(app: TestApp) {
    let acc = app.account(pb::Plan::Dental).await;
    app.seed_contacts(&acc, 0, 300).await;
    app.exec_sql(&format!(
        "INSERT INTO consents (account_id, contact_id, kind, captured_at, created_at) \
         SELECT account_id, id, 'express_written', 0, 0 FROM contacts \
         WHERE account_id = '{acc}';"
    ))
    .await;
    let all: Vec<i64> = app
        .list_all(&acc, pb::ContactFilter::default())
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    app.add_to_campaign(&acc, "camp", &all).await;
    let r = requiring(pb::ConsentRequirement::ExpressWritten);
    let revoked = Arc::new(Mutex::new(HashSet::new()));
    let done = Arc::new(AtomicBool::new(false));
    let revoker = {
        let (client, acc, revoked, done) = (
            app.client.clone(),
            acc.clone(),
            revoked.clone(),
            done.clone(),
        );
        let every_fifth: Vec<i64> = all.iter().step_by(5).copied().collect();
        tokio::spawn(async move {
            for id in every_fifth {
                revoke(&client, &acc, id, "email to support").await;
                revoked.lock().unwrap().insert(id);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // Claim and give back until five claims started after the last revocation answered;
    // a claim may never return a contact whose revocation answered before it started.
    let (mut claims, mut after_done, mut violations) = (0, 0, Vec::new());
    while after_done < 5 {
        let finished = done.load(Ordering::SeqCst);
        let before: HashSet<i64> = revoked.lock().unwrap().clone();
        let got = claimed_ids(&app, &acc, "d1", r.clone()).await;
        claims += 1;
        after_done += usize::from(finished);
        violations.extend(got.into_iter().filter(|id| before.contains(id)));
        release_all(&app, &acc, "d1").await;
    }
    revoker.await.unwrap();
    assert!(claims > 5);
    assert!(violations.is_empty(), "revoked handed out: {violations:?}");
    let preview = app.preview(&acc, "camp", Some(r)).await;
    // Each revoked contact is DNC too, which the preview counts first.
    assert_eq!((preview.dialable, preview.dnc), (240, 60));
}

async fn a_dnc_request_on_a_call_revokes_the_consent(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let other = app.contact(&acc, "+12122345679", "Bob").await;
    for id in [c.id, other.id] {
        record(
            &app,
            &acc,
            id,
            consent(pb::ConsentKind::ExpressWritten, "form"),
        )
        .await
        .unwrap();
    }
    app.add_to_campaign(&acc, "camp", &[c.id, other.id]).await;
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let call = outbound(
        "call-77",
        c.id,
        "camp",
        "2026-03-02T17:55:00Z",
        pb::CallOutcome::DncRequested,
    );
    app.record_call(&acc, call).await.unwrap();
    let revoked = list(&app, &acc, c.id).await;
    assert!(!revoked[0].live);
    assert_eq!(revoked[0].revoke_time, Some(ts_at("2026-03-02T18:00:00Z")));
    assert_eq!(
        revoked[0].revoked_how,
        "call call-77: callee asked not to be called"
    );
    assert_eq!(
        app.get_contact(&acc, c.id).await.status,
        pb::ContactStatus::Dnc as i32
    );
    assert!(
        list(&app, &acc, other.id).await[0].live,
        "only the callee's"
    );
    // The same through the flag on an answered call.
    let mut flagged = outbound(
        "call-78",
        other.id,
        "camp",
        "2026-03-02T17:56:00Z",
        pb::CallOutcome::Answered,
    );
    flagged.dnc_requested = true;
    app.record_call(&acc, flagged).await.unwrap();
    assert!(!list(&app, &acc, other.id).await[0].live);
    let r = requiring(pb::ConsentRequirement::ExpressWritten);
    assert!(claimed_ids(&app, &acc, "d1", r).await.is_empty());
}

async fn a_refused_call_with_a_dnc_request_still_revokes_the_consent(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    record(&app, &acc, c.id, consent(pb::ConsentKind::Express, "form"))
        .await
        .unwrap();
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let mut bad = outbound(
        "call-9",
        c.id,
        "",
        "2026-03-02T17:55:00Z",
        pb::CallOutcome::Answered,
    );
    bad.duration_seconds = -1;
    bad.dnc_requested = true;
    let err = app.record_call(&acc, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let all = list(&app, &acc, c.id).await;
    assert!(!all[0].live);
    assert_eq!(
        all[0].revoked_how,
        "call call-9: callee asked not to be called"
    );
    assert!(app.check_dnc_one(&acc, "+12122345678").await.dnc);
}

async fn bad_consent_rules_are_invalid_argument_naming_the_field(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[c.id]).await;
    for value in [3, 99, -1] {
        let r = pb::DialRules {
            require_consent: value,
            ..rules(3, 0, any_hour())
        };
        let err = app
            .client
            .clone()
            .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                account_id: acc.clone(),
                campaign_id: "camp".into(),
                dialer_id: "d1".into(),
                max_contacts: 10,
                lease_seconds: 60,
                rules: Some(r.clone()),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{value}");
        assert_eq!(violated_fields(&err), ["rules.require_consent"], "{value}");
        let err = app
            .client
            .clone()
            .preview_dialable(pb::PreviewDialableRequest {
                account_id: acc.clone(),
                campaign_id: "camp".into(),
                rules: Some(r),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["rules.require_consent"], "{value}");
    }
    // Nothing was leased by the refused claims.
    let free = Some(rules(3, 0, any_hour()));
    assert!(
        app.check_dialable(&acc, c.id, "camp", "d2", free)
            .await
            .dialable
    );
}

async fn an_export_shows_the_newest_live_consent_and_an_import_ignores_it(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let ann = app.contact(&acc, "+12122345601", "Ann").await;
    let bob = app.contact(&acc, "+12122345602", "Bob").await;
    let cat = app.contact(&acc, "+12122345603", "Cat").await;
    app.contact(&acc, "+12122345604", "Dan").await;
    let at = |kind, source: &str, captured: &str, expires: Option<&str>| {
        let mut c = consent(kind, source);
        c.capture_time = Some(ts_at(captured));
        c.expire_time = expires.map(ts_at);
        c
    };
    // Ann: the newer capture wins, whatever the order of recording.
    let newer = at(
        pb::ConsentKind::ExpressWritten,
        "https://example.com/form?id=9",
        "2026-03-01T10:00:00Z",
        None,
    );
    let older = at(
        pb::ConsentKind::Express,
        "recording rec_1",
        "2026-02-01T10:00:00Z",
        None,
    );
    record(&app, &acc, ann.id, newer).await.unwrap();
    record(&app, &acc, ann.id, older).await.unwrap();
    // Bob's was revoked; Cat's expired; Dan has none.
    record(
        &app,
        &acc,
        bob.id,
        consent(pb::ConsentKind::Express, "form"),
    )
    .await
    .unwrap();
    revoke(&app.client, &acc, bob.id, "letter").await;
    let lapsed = at(
        pb::ConsentKind::Express,
        "form",
        "2026-01-01T00:00:00Z",
        Some("2026-02-01T00:00:00Z"),
    );
    record(&app, &acc, cat.id, lapsed).await.unwrap();

    let csv = crate::export::export_csv(&app, &acc, None, &[]).await;
    let of = |name: &str| {
        let row = csv.rows.iter().find(|r| r["first_name"] == name).unwrap();
        (
            row["consent_kind"].clone(),
            row["consent_captured_at"].clone(),
            row["consent_source"].clone(),
        )
    };
    assert_eq!(
        of("Ann"),
        (
            "express_written".into(),
            "2026-03-01T10:00:00.000Z".into(),
            "https://example.com/form?id=9".into()
        )
    );
    for name in ["Bob", "Cat", "Dan"] {
        assert_eq!(of(name), Default::default(), "{name}");
    }
    // Chosen alone, the consent columns are filled the same way.
    let chosen = crate::export::export_csv(&app, &acc, None, &["phone", "consent_kind"]).await;
    assert_eq!(chosen.header, ["phone", "consent_kind"]);
    assert_eq!(chosen.rows[0]["consent_kind"], "express_written");

    // Imported into another account, the file gives back the contacts, not the consents.
    let other = app.account(pb::Plan::Professional).await;
    let mut file = csv.header.join(",") + "\n";
    for row in &csv.rows {
        let cells: Vec<String> = csv
            .header
            .iter()
            .map(|h| format!("\"{}\"", row[h].replace('"', "\"\"")))
            .collect();
        file.push_str(&(cells.join(",") + "\n"));
    }
    let batch = crate::import::import(
        &app,
        pb::ImportOptions {
            account_id: other.clone(),
            ..Default::default()
        },
        file.as_bytes(),
    )
    .await;
    assert_eq!(batch.counts.unwrap().imported, 4);
    for c in app.list_all(&other, pb::ContactFilter::default()).await {
        assert!(
            list(&app, &other, c.id).await.is_empty(),
            "{}",
            c.first_name
        );
        assert!(c.custom_fields.is_empty(), "{:?}", c.custom_fields);
    }
}

/// Import options mapping the file's consent columns explicitly.
fn consent_mapping(acc: &str, columns: &[(&str, pb::ContactField)]) -> pb::ImportOptions {
    pb::ImportOptions {
        account_id: acc.into(),
        mapping: columns
            .iter()
            .map(|(column, field)| pb::ColumnMapping {
                column: column.to_string(),
                field: *field as i32,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

const CONSENT_COLUMNS: [(&str, pb::ContactField); 5] = [
    ("Consent", pb::ContactField::ConsentKind),
    ("Channel", pb::ContactField::ConsentChannel),
    ("Evidence", pb::ContactField::ConsentSource),
    ("Given", pb::ContactField::ConsentCapturedAt),
    ("Until", pb::ContactField::ConsentExpiresAt),
];

/// Imports `file` with every consent column mapped (policy SKIP).
async fn import_with_consents(app: &TestApp, acc: &str, file: &str) -> pb::ImportBatch {
    let opts = consent_mapping(acc, &CONSENT_COLUMNS);
    crate::import::import(app, opts, file.as_bytes()).await
}

async fn an_import_with_mapped_consent_columns_records_a_consent_per_row(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let stored = app.contact(&acc, "+12122345609", "Stored").await;
    let file = "phone,first_name,Consent,Channel,Evidence,Given,Until\n\
        +12122345601,Ann,Express Written,web form,https://example.com/f?id=1,2026-03-01T10:00:00Z,\n\
        +12122345602,Bob,EXPRESS,,call rec_7,2026-02-01,2027-02-01\n\
        +12122345603,Cat,none,,,,\n\
        +12122345604,Dan,,,,,\n\
        +12122345609,Stored,express,sms,kw START,,\n";
    let batch = import_with_consents(&app, &acc, file).await;
    let counts = batch.counts.unwrap();
    assert_eq!((counts.imported, counts.duplicates_existing), (4, 1));
    let contacts = app.list_all(&acc, pb::ContactFilter::default()).await;
    let id_of = |name: &str| contacts.iter().find(|c| c.first_name == name).unwrap().id;
    let ann = list(&app, &acc, id_of("Ann")).await;
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].kind, pb::ConsentKind::ExpressWritten as i32);
    assert_eq!(
        (ann[0].channel.as_str(), ann[0].source.as_str()),
        ("web form", "https://example.com/f?id=1")
    );
    assert_eq!(ann[0].capture_time, Some(ts_at("2026-03-01T10:00:00Z")));
    assert_eq!((ann[0].expire_time, ann[0].live), (None, true));
    let bob = list(&app, &acc, id_of("Bob")).await;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].kind, pb::ConsentKind::Express as i32);
    assert_eq!(bob[0].capture_time, Some(ts_at("2026-02-01T00:00:00Z")));
    assert_eq!(bob[0].expire_time, Some(ts_at("2027-02-01T00:00:00Z")));
    let cat = list(&app, &acc, id_of("Cat")).await;
    assert_eq!(cat.len(), 1);
    assert_eq!(cat[0].kind, pb::ConsentKind::None as i32);
    // No capture time given: the import's time.
    assert_eq!(cat[0].capture_time, Some(ts_at("2026-03-02T18:00:00Z")));
    assert!(list(&app, &acc, id_of("Dan")).await.is_empty());
    // SKIP (the default) leaves a stored contact alone, its consent too.
    assert!(list(&app, &acc, stored.id).await.is_empty());
    // A policy that updates stored contacts adds the row's consent to them.
    let mut opts = consent_mapping(&acc, &CONSENT_COLUMNS);
    opts.duplicate_policy = pb::DuplicatePolicy::UpdateEmpty as i32;
    let file = "phone,first_name,Consent,Channel,Evidence,Given,Until\n\
        +12122345609,Stored,express,sms,kw START,,\n";
    crate::import::import(&app, opts, file.as_bytes()).await;
    let got = list(&app, &acc, stored.id).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].kind, got[0].channel.as_str(), got[0].source.as_str()),
        (pb::ConsentKind::Express as i32, "sms", "kw START")
    );
    // Mapping consent details without the kind is refused before anything is read.
    let err = crate::import::try_import(
        &app,
        consent_mapping(&acc, &CONSENT_COLUMNS[1..]),
        b"phone,Channel,Evidence,Given,Until\n+12122345605,sms,x,,\n",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("consent_kind"), "{}", err.message());
}

async fn an_invalid_consent_kind_rejects_the_row_naming_the_column_and_line(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,Consent,Channel,Evidence,Given,Until\n\
        +12122345601,Ann,express,,,,\n\
        +12122345602,Bob,yes please,,,,\n\
        +12122345603,Cat,express,,,last tuesday,\n\
        +12122345604,Dan,express,,,2026-03-01,2026-02-01\n\
        +12122345605,Eve,,,form,,\n";
    let batch = import_with_consents(&app, &acc, file).await;
    let counts = batch.counts.unwrap();
    assert_eq!((counts.imported, counts.invalid), (1, 4));
    let errors = crate::import::errors(&app, &acc, &batch.id).await;
    let got: Vec<(i64, &str, &str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e.line,
                e.column.as_str(),
                e.raw_value.as_str(),
                e.kind.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (3, "Consent", "yes please", "invalid_field"),
            (4, "Given", "last tuesday", "invalid_field"),
            (5, "Until", "2026-02-01", "invalid_field"),
            (6, "Evidence", "form", "invalid_field"),
        ]
    );
    assert!(
        errors[0].reason.starts_with("Consent: "),
        "{}",
        errors[0].reason
    );
    assert!(
        errors[0].reason.contains("express_written"),
        "{}",
        errors[0].reason
    );
    // The rejected rows stored nothing; the valid one its contact and its consent.
    let contacts = app.list_all(&acc, pb::ContactFilter::default()).await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(list(&app, &acc, contacts[0].id).await.len(), 1);
}

async fn a_campaign_requiring_consent_claims_contacts_whose_consent_came_from_an_import(
    app: TestApp,
) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,Consent,Given\n\
        +12122345601,Written,express_written,2026-03-01\n\
        +12122345602,Express,express,2026-03-01\n\
        +12122345603,Nothing,,\n";
    let opts = consent_mapping(&acc, &[CONSENT_COLUMNS[0], CONSENT_COLUMNS[3]]);
    crate::import::import(&app, opts, file.as_bytes()).await;
    let contacts = app.list_all(&acc, pb::ContactFilter::default()).await;
    let id_of = |name: &str| contacts.iter().find(|c| c.first_name == name).unwrap().id;
    let ids: Vec<i64> = contacts.iter().map(|c| c.id).collect();
    app.add_to_campaign(&acc, "camp", &ids).await;
    let written = requiring(pb::ConsentRequirement::ExpressWritten);
    assert_eq!(
        claimed_ids(&app, &acc, "d1", written).await,
        [id_of("Written")]
    );
    release_all(&app, &acc, "d1").await;
    let either = requiring(pb::ConsentRequirement::Express);
    let mut want = vec![id_of("Written"), id_of("Express")];
    want.sort();
    assert_eq!(claimed_ids(&app, &acc, "d1", either).await, want);
}
