//! The Do-Not-Call list: every way onto it, the only way off it, its history, and that
//! it holds for numbers without contacts and across delete and re-create.

use crate::helpers::{TestApp, clock_at, ids, ms_at, outbound, violated_fields};
use contactd::pb;
use contactd::pb::CallOutcome;
use tonic::Code;

both!(
    manual_mark_makes_the_contact_dnc_and_is_in_the_history,
    api_mark_of_a_number_without_contact_makes_a_later_contact_dnc,
    dnc_survives_delete_and_re_create,
    dnc_requested_during_a_call_marks_the_number,
    clear_dnc_needs_an_actor_and_is_the_way_back_to_active,
    check_dnc_fails_closed_on_numbers_it_cannot_read,
    mark_dnc_by_filter_counts_what_it_did,
    dnc_during_an_active_lease_revokes_it,
    dnc_by_filter_over_several_chunks_counts_every_contact_once,
    a_nul_in_free_text_is_invalid_argument_naming_the_field_and_stores_nothing,
);

fn skipped(r: &pb::BulkResult, reason: &str) -> i64 {
    r.skipped
        .iter()
        .find(|s| s.reason == reason)
        .map_or(0, |s| s.count)
}

async fn events(app: &TestApp, acc: &str, phone: &str) -> Vec<pb::DncEvent> {
    app.client
        .clone()
        .list_dnc_events(pb::ListDncEventsRequest {
            account_id: acc.into(),
            phone: phone.into(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .expect("list dnc events")
        .into_inner()
        .events
}

async fn manual_mark_makes_the_contact_dnc_and_is_in_the_history(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    let r = app
        .mark_dnc(&acc, &[c.id, 999_999], &[], pb::DncSource::Manual)
        .await;
    assert_eq!((r.matched, r.changed), (1, 1));
    assert_eq!(skipped(&r, "not_found"), 1);

    let got = app.get_contact(&acc, c.id).await;
    assert_eq!(got.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(got.dnc_source, pb::DncSource::Manual as i32);
    assert!(got.dnc_time.is_some());

    let history = events(&app, &acc, "(415) 555-2671").await;
    assert_eq!(history.len(), 1);
    let e = &history[0];
    assert!(e.added);
    assert_eq!(e.phone, "+14155552671");
    assert_eq!(e.source, pb::DncSource::Manual as i32);
    assert_eq!((e.actor.as_str(), e.reason.as_str()), ("tester", "test"));
    assert_eq!(e.contact_id, c.id);

    // Marking again changes nothing and adds no history.
    let again = app
        .mark_dnc(&acc, &[c.id], &[], pb::DncSource::Manual)
        .await;
    assert_eq!((again.changed, skipped(&again, "already_dnc")), (0, 1));
    assert_eq!(events(&app, &acc, "").await.len(), 1);
}

async fn api_mark_of_a_number_without_contact_makes_a_later_contact_dnc(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let r = app
        .mark_dnc(
            &acc,
            &[],
            &["415-555-2671", "not a number"],
            pb::DncSource::Api,
        )
        .await;
    assert_eq!((r.matched, r.changed), (1, 1));
    assert_eq!(skipped(&r, "invalid_phone"), 1);

    let checks = app
        .client
        .clone()
        .check_dnc(pb::CheckDncRequest {
            account_id: acc.clone(),
            phones: vec!["+1 415 555 2671".into(), "+12125550123".into()],
            region: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(checks[0].dnc);
    assert_eq!(checks[0].source, pb::DncSource::Api as i32);
    assert_eq!(checks[0].e164, "+14155552671");
    assert!(!checks[1].dnc);

    let c = app.contact(&acc, "+14155552671", "Ann").await;
    assert_eq!(c.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(c.dnc_source, pb::DncSource::Api as i32);
}

async fn dnc_survives_delete_and_re_create(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    app.mark_dnc(&acc, &[c.id], &[], pb::DncSource::Manual)
        .await;
    app.client
        .clone()
        .delete_contact(pb::DeleteContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap();
    let again = app.contact(&acc, "(415) 555-2671", "Ann").await;
    assert_ne!(again.id, c.id);
    assert_eq!(again.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(again.dnc_source, pb::DncSource::Manual as i32);
}

async fn dnc_requested_during_a_call_marks_the_number(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let mut call = outbound(
        "call-1",
        c.id,
        "",
        "2026-03-02T15:00:00Z",
        pb::CallOutcome::Answered,
    );
    call.dnc_requested = true;
    app.record_call(&acc, call).await.unwrap();
    let got = app.get_contact(&acc, c.id).await;
    assert_eq!(got.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(got.dnc_source, pb::DncSource::CallRequest as i32);
    let history = events(&app, &acc, "+14155552671").await;
    assert_eq!(history[0].source, pb::DncSource::CallRequest as i32);
    assert!(
        history[0].reason.contains("call-1"),
        "{}",
        history[0].reason
    );
}

async fn clear_dnc_needs_an_actor_and_is_the_way_back_to_active(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    app.mark_dnc(&acc, &[c.id], &[], pb::DncSource::Manual)
        .await;
    let clear = |actor: &str| pb::ClearDncRequest {
        account_id: acc.clone(),
        targets: Some(pb::DncTargets {
            selection: ids(&[c.id]),
            ..Default::default()
        }),
        reason: "customer opted back in".into(),
        actor: actor.into(),
    };
    let err = app.client.clone().clear_dnc(clear("  ")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["actor"]);
    assert_eq!(
        app.get_contact(&acc, c.id).await.status,
        pb::ContactStatus::Dnc as i32
    );

    let r = app
        .client
        .clone()
        .clear_dnc(clear("alice@example.com"))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(r.changed, 1);
    let got = app.get_contact(&acc, c.id).await;
    assert_eq!(got.status, pb::ContactStatus::Active as i32);
    assert!(got.dnc_time.is_none());

    let history = events(&app, &acc, "+14155552671").await;
    assert_eq!(history.len(), 2);
    assert!(!history[0].added, "newest first: the clear");
    assert_eq!(history[0].actor, "alice@example.com");
    assert_eq!(history[0].reason, "customer opted back in");
    assert_eq!(history[0].source, pb::DncSource::Manual as i32);
    assert!(history[1].added);

    let again = app
        .client
        .clone()
        .clear_dnc(clear("alice@example.com"))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!((again.changed, skipped(&again, "not_dnc")), (0, 1));
}

async fn check_dnc_fails_closed_on_numbers_it_cannot_read(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let results = app
        .client
        .clone()
        .check_dnc(pb::CheckDncRequest {
            account_id: acc,
            phones: vec!["call me maybe".into(), "1.41555E+10".into()],
            region: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(r.dnc, "{} must fail closed", r.phone);
        assert!(r.e164.is_empty());
        assert!(!r.error.is_empty());
    }
}

async fn mark_dnc_by_filter_counts_what_it_did(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    for (i, name) in ["Smith", "Smithers", "Jones"].iter().enumerate() {
        app.try_contact(
            pb::ContactInput {
                phone: format!("+1212234567{i}"),
                last_name: name.to_string(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    }
    let filter = pb::ContactFilter {
        query: "smith".into(),
        ..Default::default()
    };
    let r = app
        .client
        .clone()
        .mark_dnc(pb::MarkDncRequest {
            account_id: acc.clone(),
            targets: Some(pb::DncTargets {
                selection: Some(pb::ContactSelection {
                    selection: Some(pb::contact_selection::Selection::Filter(filter)),
                }),
                ..Default::default()
            }),
            source: pb::DncSource::Manual as i32,
            reason: String::new(),
            actor: "ops".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!((r.matched, r.changed), (2, 2));
    let dnc = app
        .list_all(
            &acc,
            pb::ContactFilter {
                status: pb::ContactStatus::Dnc as i32,
                ..Default::default()
            },
        )
        .await;
    let mut names: Vec<_> = dnc.into_iter().map(|c| c.last_name).collect();
    names.sort();
    assert_eq!(names, ["Smith", "Smithers"]);
}

async fn dnc_during_an_active_lease_revokes_it(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[c.id]).await;
    let leased = app.claim(&acc, "camp", "d1", 10, None).await;
    assert_eq!(leased.len(), 1);
    assert!(
        app.check_dialable(&acc, c.id, "camp", "d1", None)
            .await
            .dialable,
        "the lease holder may dial before the DNC"
    );

    app.mark_dnc(&acc, &[c.id], &[], pb::DncSource::Manual)
        .await;

    let check = app.check_dialable(&acc, c.id, "camp", "d1", None).await;
    assert!(!check.dialable);
    assert_eq!(check.reason, pb::NotDialableReason::Dnc as i32);
    let preview = app
        .client
        .clone()
        .preview_dialable(pb::PreviewDialableRequest {
            account_id: acc.clone(),
            campaign_id: "camp".into(),
            rules: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((preview.dnc, preview.leased, preview.dialable), (1, 0, 0));
    // Never claimed again: not after the lease would have ended, not by anyone.
    clock.advance_ms(24 * 3_600_000);
    assert!(app.claim(&acc, "camp", "d1", 10, None).await.is_empty());
    assert!(app.claim(&acc, "camp", "d2", 10, None).await.is_empty());
}

/// 2,500 contacts (three write chunks): some already DNC, one leased; a number listed
/// with no contact; then everything cleared by the same filter.
async fn dnc_by_filter_over_several_chunks_counts_every_contact_once(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Dental).await;
    let phones = app.seed_contacts(&acc, 0, 2_500).await;
    let mut all = app.list_all(&acc, pb::ContactFilter::default()).await;
    assert_eq!(all.len(), 2_500);
    all.sort_by_key(|c| c.id); // all[i] holds phones[i]
    // Three already DNC, one of them past the first chunk; one contact leased.
    let pre: Vec<i64> = [0, 999, 1_700].iter().map(|&i| all[i].id).collect();
    app.mark_dnc(&acc, &pre, &[], pb::DncSource::Api).await;
    let leased = all[1_234].id;
    app.add_to_campaign(&acc, "camp", &[leased]).await;
    assert_eq!(app.claim(&acc, "camp", "d1", 10, None).await.len(), 1);
    app.mark_dnc(&acc, &[], &["+12125550100"], pb::DncSource::Api)
        .await;

    let everything = || pb::ContactSelection {
        selection: Some(pb::contact_selection::Selection::Filter(
            pb::ContactFilter::default(),
        )),
    };
    let r = app
        .client
        .clone()
        .mark_dnc(pb::MarkDncRequest {
            account_id: acc.clone(),
            targets: Some(pb::DncTargets {
                selection: Some(everything()),
                ..Default::default()
            }),
            source: pb::DncSource::Manual as i32,
            reason: "bulk".into(),
            actor: "ops".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!((r.matched, r.changed), (2_500, 2_497));
    assert_eq!(skipped(&r, "already_dnc"), 3);
    let dnc = pb::ContactFilter {
        status: pb::ContactStatus::Dnc as i32,
        ..Default::default()
    };
    assert_eq!(app.list_all(&acc, dnc.clone()).await.len(), 2_500);
    // The earlier marks keep their source; the new ones are MANUAL with their own event.
    let first = app.get_contact(&acc, all[0].id).await;
    assert_eq!(first.dnc_source, pb::DncSource::Api as i32);
    let e = events(&app, &acc, &phones[1_500]).await;
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].contact_id, e[0].actor.as_str()),
        (all[1_500].id, "ops")
    );
    assert_eq!(events(&app, &acc, &phones[999]).await.len(), 1);
    // The lease is gone: the member is never handed out again.
    clock.advance_ms(3_600_000);
    assert!(app.claim(&acc, "camp", "d2", 10, None).await.is_empty());

    let r = app
        .client
        .clone()
        .clear_dnc(pb::ClearDncRequest {
            account_id: acc.clone(),
            targets: Some(pb::DncTargets {
                selection: Some(everything()),
                ..Default::default()
            }),
            reason: "consent renewed".into(),
            actor: "ops".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!((r.matched, r.changed), (2_500, 2_500));
    assert!(app.list_all(&acc, dnc).await.is_empty());
    let e = events(&app, &acc, &phones[999]).await;
    assert_eq!(e.len(), 2);
    assert!(!e[0].added, "newest first: the clear");
    // The bare number stays listed: the filter selects contacts only.
    let check = app
        .client
        .clone()
        .check_dnc(pb::CheckDncRequest {
            account_id: acc.clone(),
            phones: vec!["+12125550100".into(), phones[5].clone()],
            region: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<bool> = check.results.iter().map(|r| r.dnc).collect();
    assert_eq!(listed, [true, false]);
}

/// PostgreSQL cannot store a NUL in text: each free-text field refuses it up front, by name,
/// on both backends, before anything is written.
async fn a_nul_in_free_text_is_invalid_argument_naming_the_field_and_stores_nothing(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let mark = |reason: &str, actor: &str| pb::MarkDncRequest {
        account_id: acc.clone(),
        targets: Some(pb::DncTargets {
            selection: ids(&[c.id]),
            ..Default::default()
        }),
        source: pb::DncSource::Manual as i32,
        reason: reason.into(),
        actor: actor.into(),
    };
    for (request, field) in [
        (mark("said\0stop", "ops"), "reason"),
        (mark("said stop", "o\0ps"), "actor"),
    ] {
        let err = app.client.clone().mark_dnc(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(violated_fields(&err), [field]);
    }
    assert_eq!(
        app.get_contact(&acc, c.id).await.status,
        pb::ContactStatus::Active as i32
    );
    assert!(events(&app, &acc, "").await.is_empty());

    let mut call = outbound(
        "call-1",
        c.id,
        "",
        "2026-03-02T18:00:00Z",
        CallOutcome::Answered,
    );
    call.transcript = "Hello\0".into();
    let err = app.record_call(&acc, call.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["call.transcript"]);
    let stats = app
        .get_contact(&acc, c.id)
        .await
        .call_stats
        .unwrap_or_default();
    assert_eq!(stats.call_count, 0);
    // The same call without the NUL is stored as usual.
    call.transcript = "Hello".into();
    app.record_call(&acc, call).await.expect("clean transcript");

    let err = app
        .client
        .clone()
        .call_now(pb::CallNowRequest {
            account_id: acc.clone(),
            contact_id: c.id,
            requested_by: "a\0b".into(),
            override_calling_window: false,
            rules: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["requested_by"]);
}
