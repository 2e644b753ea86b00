//! RecordCall and ListCalls: idempotency, statistics, unknown inbound numbers, history.

use crate::helpers::{TestApp, ms_at, outbound, ts_at};
use contactd::pb;
use tonic::Code;

both!(
    record_call_updates_the_contacts_statistics,
    record_call_is_idempotent_by_external_id,
    inbound_call_from_an_unknown_number_creates_the_contact_when_there_is_room,
    inbound_call_from_an_unknown_number_is_kept_without_contact_when_full,
    list_calls_is_newest_first_and_paged,
    record_call_names_missing_fields,
);

async fn record_call_updates_the_contacts_statistics(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let mut first = outbound(
        "a",
        c.id,
        "",
        "2026-03-02T15:00:00Z",
        pb::CallOutcome::NoAnswer,
    );
    first.duration_seconds = 0;
    app.record_call(&acc, first).await.unwrap();
    let mut second = outbound(
        "b",
        c.id,
        "",
        "2026-03-03T15:00:00Z",
        pb::CallOutcome::Answered,
    );
    second.duration_seconds = 95;
    app.record_call(&acc, second).await.unwrap();
    // Posted late, started earlier: counts, but does not become the "last" call.
    let mut late = outbound("c", c.id, "", "2026-03-01T15:00:00Z", pb::CallOutcome::Busy);
    late.duration_seconds = 5;
    app.record_call(&acc, late).await.unwrap();

    let stats = app.get_contact(&acc, c.id).await.call_stats.unwrap();
    assert_eq!(stats.call_count, 3);
    assert_eq!(stats.total_talk_seconds, 100);
    assert_eq!(stats.last_outcome, pb::CallOutcome::Answered as i32);
    assert_eq!(stats.last_called_time, Some(ts_at("2026-03-03T15:00:00Z")));
}

async fn record_call_is_idempotent_by_external_id(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let call = outbound(
        "ext-1",
        c.id,
        "",
        "2026-03-02T15:00:00Z",
        pb::CallOutcome::Answered,
    );
    let first = app.record_call(&acc, call.clone()).await.unwrap();
    assert!(first.created);
    let repeat = app.record_call(&acc, call.clone()).await.unwrap();
    assert!(!repeat.created);
    assert_eq!(repeat.call, first.call);
    assert_eq!(
        app.get_contact(&acc, c.id)
            .await
            .call_stats
            .unwrap()
            .call_count,
        1,
        "a repeat changes nothing"
    );

    let mut different = call;
    different.outcome = pb::CallOutcome::Voicemail as i32;
    let err = app.record_call(&acc, different).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("ext-1"), "{}", err.message());
}

fn inbound(external_id: &str, phone: &str) -> pb::Call {
    pb::Call {
        external_id: external_id.into(),
        phone: phone.into(),
        direction: pb::CallDirection::Inbound as i32,
        start_time: Some(ts_at("2026-03-02T15:00:00Z")),
        duration_seconds: 12,
        outcome: pb::CallOutcome::Answered as i32,
        ..Default::default()
    }
}

async fn inbound_call_from_an_unknown_number_creates_the_contact_when_there_is_room(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account_with_limit(1).await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let call = app
        .record_call(&acc, inbound("in-1", "(415) 555-2671"))
        .await
        .unwrap()
        .call
        .unwrap();
    assert!(call.contact_id > 0);
    assert_eq!(call.phone, "+14155552671");
    let c = app.get_contact(&acc, call.contact_id).await;
    assert_eq!(c.phone, "+14155552671");
    assert_eq!(c.call_stats.unwrap().call_count, 1);
    assert_eq!(app.get_account(&acc).await.contact_count, 1);
}

async fn inbound_call_from_an_unknown_number_is_kept_without_contact_when_full(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account_with_limit(1).await;
    app.contact(&acc, "+12122345678", "Full").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let r = app
        .record_call(&acc, inbound("in-1", "+14155552671"))
        .await
        .unwrap();
    let call = r.call.unwrap();
    assert!(r.created);
    assert_eq!(call.contact_id, 0);
    assert_eq!(call.phone, "+14155552671");
    assert_eq!(app.get_account(&acc).await.contact_count, 1);
    let all = app
        .client
        .clone()
        .list_calls(pb::ListCallsRequest {
            account_id: acc,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert_eq!(all.len(), 1, "the call is in the account's history");
}

async fn list_calls_is_newest_first_and_paged(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let other = app.contact(&acc, "+12122345678", "Bob").await;
    for i in 0..5 {
        let at = format!("2026-03-0{}T15:00:00Z", i + 1);
        app.record_call(
            &acc,
            outbound(&format!("c{i}"), c.id, "", &at, pb::CallOutcome::Answered),
        )
        .await
        .unwrap();
    }
    app.record_call(
        &acc,
        outbound(
            "x",
            other.id,
            "",
            "2026-03-01T15:00:00Z",
            pb::CallOutcome::Busy,
        ),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .clone()
            .list_calls(pb::ListCallsRequest {
                account_id: acc.clone(),
                contact_id: c.id,
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.calls.len() <= 2);
        seen.extend(page.calls.into_iter().map(|c| c.external_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["c4", "c3", "c2", "c1", "c0"]);
}

async fn record_call_names_missing_fields(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    let cases = [
        ("call.external_id", {
            let mut x = outbound(
                "",
                c.id,
                "",
                "2026-03-02T15:00:00Z",
                pb::CallOutcome::Answered,
            );
            x.external_id.clear();
            x
        }),
        ("call.direction", {
            let mut x = outbound(
                "e",
                c.id,
                "",
                "2026-03-02T15:00:00Z",
                pb::CallOutcome::Answered,
            );
            x.direction = 0;
            x
        }),
        ("call.start_time", {
            let mut x = outbound(
                "e",
                c.id,
                "",
                "2026-03-02T15:00:00Z",
                pb::CallOutcome::Answered,
            );
            x.start_time = None;
            x
        }),
        ("call.contact_id", {
            let mut x = outbound(
                "e",
                0,
                "",
                "2026-03-02T15:00:00Z",
                pb::CallOutcome::Answered,
            );
            x.phone.clear();
            x
        }),
    ];
    for (field, call) in cases {
        let err = app.record_call(&acc, call).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}");
        assert_eq!(crate::helpers::violated_fields(&err), [field]);
    }
}
