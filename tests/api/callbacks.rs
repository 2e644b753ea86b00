//! Scheduled callbacks: RecordCall with CALL_OUTCOME_CALLBACK_REQUESTED, delivery by the
//! campaign's claims at the time asked for (ahead of other members, inside the calling
//! window, never to a DNC number), cancellation, ListCallbacks, CheckDialable and
//! PreviewDialable. Every test moves a controllable clock.

use crate::helpers::{TestApp, clock_at, ms_at, outbound, rules, ts_at, violated_fields};
use contactd::domain::clock::FixedClock;
use contactd::pb;
use tonic::Code;

both!(
    a_callback_is_delivered_at_its_time_ahead_of_the_campaigns_other_members,
    a_callback_for_a_number_marked_dnc_afterwards_is_never_delivered,
    a_callback_for_a_number_on_a_named_dnc_list_is_never_delivered,
    a_callback_whose_number_became_dnc_behind_its_back_is_still_never_leased,
    a_callback_outside_the_calling_window_is_delivered_at_its_next_opening,
    a_local_callback_time_is_read_in_the_contacts_zone_or_the_one_given,
    another_call_outcome_cancels_a_pending_callback,
    a_lease_given_back_without_a_call_keeps_the_callback_due,
    a_due_callback_still_obeys_the_accounts_frequency_rules,
    removing_or_deleting_the_contact_cancels_or_deletes_its_callback,
    bad_callback_requests_name_the_field_and_store_nothing,
    list_callbacks_filters_by_campaign_contact_and_status_and_pages,
    check_and_preview_report_scheduled_and_due_callbacks,
    an_open_stream_delivers_a_callback_when_it_falls_due,
    a_repeated_callback_call_returns_the_callback_it_scheduled_and_schedules_no_other,
    a_due_callback_in_a_campaign_requiring_consent_waits_for_a_live_consent,
    due_callbacks_are_not_hidden_behind_earlier_ones_out_on_lease,
);

/// 9:00–21:00 local, 3 attempts, 1 s retry spacing, frequency rules out of the way.
fn day_rules() -> Option<pb::DialRules> {
    Some(rules(3, 1, (9 * 60, 21 * 60)))
}

/// `n` New York (+1 212) contacts in campaign "camp", on a server whose clock is
/// 2026-03-02T15:00:00Z (10:00 in New York).
async fn setup(app: TestApp, n: usize) -> (TestApp, FixedClock, String, Vec<i64>) {
    let clock = clock_at("2026-03-02T15:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let c = app
            .contact(&acc, &format!("+1212{:07}", 3_000_000 + i), "X")
            .await;
        ids.push(c.id);
    }
    app.add_to_campaign(&acc, "camp", &ids).await;
    (app, clock, acc, ids)
}

fn at(t: &str) -> pb::CallbackTime {
    pb::CallbackTime {
        time: Some(pb::callback_time::Time::CallbackTime(ts_at(t))),
        time_zone: String::new(),
    }
}

fn local(t: &str, zone: &str) -> pb::CallbackTime {
    pb::CallbackTime {
        time: Some(pb::callback_time::Time::LocalTime(t.into())),
        time_zone: zone.into(),
    }
}

async fn record(
    app: &TestApp,
    acc: &str,
    call: pb::Call,
    callback: Option<pb::CallbackTime>,
) -> Result<pb::RecordCallResponse, tonic::Status> {
    app.client
        .clone()
        .record_call(pb::RecordCallRequest {
            account_id: acc.into(),
            call: Some(call),
            region: String::new(),
            callback,
        })
        .await
        .map(|r| r.into_inner())
}

/// A CALLBACK_REQUESTED call of `contact` in `campaign` started at `started`.
fn asking(ext: &str, contact: i64, campaign: &str, started: &str) -> pb::Call {
    outbound(
        ext,
        contact,
        campaign,
        started,
        pb::CallOutcome::CallbackRequested,
    )
}

/// Records a CALLBACK_REQUESTED call of `contact` in "camp" started at `started`.
async fn ask_callback(
    app: &TestApp,
    acc: &str,
    contact: i64,
    started: &str,
    when: pb::CallbackTime,
) -> pb::Callback {
    let id = format!("cb-{contact}-{started}");
    let call = asking(&id, contact, "camp", started);
    record(app, acc, call, Some(when))
        .await
        .expect("record callback call")
        .callback
        .expect("a callback scheduled")
}

/// A callback of `contact` at the instant `t`, asked for by a call at the setup's time.
async fn ask_at(app: &TestApp, acc: &str, contact: i64, t: &str) -> pb::Callback {
    ask_callback(app, acc, contact, "2026-03-02T15:00:00Z", at(t)).await
}

/// Moves the clock to `t` and claims up to `n` of "camp" for dialer "d1".
async fn claim_at(
    app: &TestApp,
    clock: &FixedClock,
    acc: &str,
    t: &str,
    n: i32,
) -> Vec<pb::DialableContact> {
    clock.set(ms_at(t));
    app.claim(acc, "camp", "d1", n, day_rules()).await
}

/// Asserts that claims at each of `times` hand out nothing.
async fn nothing_at(app: &TestApp, clock: &FixedClock, acc: &str, times: &[&str]) {
    for t in times {
        let got = claim_at(app, clock, acc, t, 5).await;
        assert!(got.is_empty(), "handed out at {t}: {got:?}");
    }
}

/// Records a call without a callback; returns its id.
async fn record_id(app: &TestApp, acc: &str, call: pb::Call) -> i64 {
    record(app, acc, call, None).await.unwrap().call.unwrap().id
}

/// Gives leases of "camp" back by id.
async fn release(app: &TestApp, acc: &str, dialer: &str, lease_ids: Vec<String>) {
    app.release_leases(acc, dialer, &[], &lease_ids).await;
}

async fn list(app: &TestApp, req: pb::ListCallbacksRequest) -> pb::ListCallbacksResponse {
    app.client
        .clone()
        .list_callbacks(req)
        .await
        .expect("list callbacks")
        .into_inner()
}

async fn callbacks_of(app: &TestApp, acc: &str) -> Vec<pb::Callback> {
    list(
        app,
        pb::ListCallbacksRequest {
            account_id: acc.into(),
            ..Default::default()
        },
    )
    .await
    .callbacks
}

fn ids_of(batch: &[pb::DialableContact]) -> Vec<i64> {
    batch
        .iter()
        .map(|d| d.contact.as_ref().unwrap().id)
        .collect()
}

fn status(c: &pb::Callback) -> (pb::CallbackStatus, pb::CallbackCancelReason) {
    (c.status(), c.cancel_reason())
}

async fn a_callback_is_delivered_at_its_time_ahead_of_the_campaigns_other_members(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 3).await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d1", 3, day_rules()).await),
        ids
    );
    let cb = ask_callback(
        &app,
        &acc,
        c,
        "2026-03-02T15:00:10Z",
        at("2026-03-02T18:00:00Z"),
    )
    .await;
    assert_eq!(status(&cb).0, pb::CallbackStatus::Pending);
    assert_eq!(cb.contact_id, c);
    assert_eq!(cb.campaign_id, "camp");
    assert_eq!(cb.due_time, Some(ts_at("2026-03-02T18:00:00Z")));
    for (id, ext) in [(a, "na-a"), (b, "na-b")] {
        let call = outbound(
            ext,
            id,
            "camp",
            "2026-03-02T15:00:20Z",
            pb::CallOutcome::NoAnswer,
        );
        record(&app, &acc, call, None).await.unwrap();
    }
    // Before its time, the ordinary scan skips the member: past its retry spacing, attempts
    // left, and yet the person is not called before the time they asked for.
    clock.set(ms_at("2026-03-02T16:00:00Z"));
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d1", 3, day_rules()).await),
        [a, b]
    );
    // At its time it comes first, ahead of the members with lower ids (whose leases
    // have ended), and carries the callback.
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let got = app.claim(&acc, "camp", "d1", 1, day_rules()).await;
    assert_eq!(ids_of(&got), [c]);
    assert_eq!(got[0].callback.as_ref().map(|x| x.id), Some(cb.id));
    let rest = app.claim(&acc, "camp", "d1", 3, day_rules()).await;
    assert_eq!(
        ids_of(&rest),
        [a, b],
        "the ordinary scan follows, without c"
    );
    assert!(rest.iter().all(|d| d.callback.is_none()));
    // Its call delivers it.
    let call = outbound(
        "back",
        c,
        "camp",
        "2026-03-02T18:00:30Z",
        pb::CallOutcome::Answered,
    );
    let call_id = record_id(&app, &acc, call).await;
    let stored = callbacks_of(&app, &acc).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(status(&stored[0]).0, pb::CallbackStatus::Delivered);
    assert_eq!(stored[0].settled_call_id, call_id);
    assert_eq!(stored[0].settle_time, Some(ts_at("2026-03-02T18:00:00Z")));
}

async fn a_callback_for_a_number_marked_dnc_afterwards_is_never_delivered(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 2).await;
    let c = ids[1];
    ask_at(&app, &acc, c, "2026-03-02T17:00:00Z").await;
    app.mark_dnc(&acc, &[], &["+12123000001"], pb::DncSource::Manual)
        .await;
    let stored = callbacks_of(&app, &acc).await;
    assert_eq!(
        status(&stored[0]),
        (pb::CallbackStatus::Cancelled, pb::CallbackCancelReason::Dnc)
    );
    for t in [
        "2026-03-02T17:00:00Z",
        "2026-03-02T19:00:00Z",
        "2026-03-03T15:00:00Z",
    ] {
        let got = claim_at(&app, &clock, &acc, t, 5).await;
        assert!(!ids_of(&got).contains(&c), "DNC callback delivered at {t}");
        // Give the other member back, so that every claim could reach c.
        let lease_ids = got.iter().map(|d| d.lease_id.clone()).collect();
        release(&app, &acc, "d1", lease_ids).await;
    }
}

async fn a_callback_for_a_number_on_a_named_dnc_list_is_never_delivered(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    ask_at(&app, &acc, c, "2026-03-02T17:00:00Z").await;
    use pb::import_dnc_list_request::Payload;
    let messages = vec![
        pb::ImportDncListRequest {
            payload: Some(Payload::Options(pb::ImportDncListOptions {
                account_id: acc.clone(),
                list_name: "opt-outs".into(),
                format: pb::DncFileFormat::Plain as i32,
                ..Default::default()
            })),
        },
        pb::ImportDncListRequest {
            payload: Some(Payload::Chunk(b"+12123000000\n".to_vec())),
        },
    ];
    app.client
        .clone()
        .import_dnc_list(tokio_stream::iter(messages))
        .await
        .unwrap();
    assert_eq!(
        status(&callbacks_of(&app, &acc).await[0]),
        (pb::CallbackStatus::Cancelled, pb::CallbackCancelReason::Dnc)
    );
    nothing_at(&app, &clock, &acc, &["2026-03-02T17:00:00Z"]).await;
}

/// The number goes on the list without any of the service's DNC paths (a row written
/// straight into `dnc_entries`): the callback is still pending, and the claim's re-check
/// under the lease's lock refuses it all the same.
async fn a_callback_whose_number_became_dnc_behind_its_back_is_still_never_leased(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    ask_at(&app, &acc, c, "2026-03-02T17:00:00Z").await;
    app.exec_sql(&format!(
        "INSERT INTO dnc_entries (account_id, phone, source, reason, actor, created_at) \
         VALUES ('{acc}', '+12123000000', 'MANUAL', 'test', 'test', {})",
        ms_at("2026-03-02T15:30:00Z")
    ))
    .await;
    assert_eq!(
        status(&callbacks_of(&app, &acc).await[0]).0,
        pb::CallbackStatus::Pending
    );
    nothing_at(
        &app,
        &clock,
        &acc,
        &["2026-03-02T17:00:00Z", "2026-03-02T18:00:00Z"],
    )
    .await;
}

async fn a_callback_outside_the_calling_window_is_delivered_at_its_next_opening(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    // 22:00 in New York (EST, UTC-5) is 03:00Z; the window is 09:00–21:00 local.
    let cb = ask_callback(
        &app,
        &acc,
        c,
        "2026-03-02T15:00:00Z",
        local("2026-03-02T22:00", ""),
    )
    .await;
    assert_eq!(cb.request_time, Some(ts_at("2026-03-03T03:00:00Z")));
    assert_eq!(cb.time_zone, "America/New_York");
    assert_eq!(cb.local_time, "2026-03-02T22:00");
    nothing_at(&app, &clock, &acc, &["2026-03-03T03:00:00Z"]).await;
    let moved = callbacks_of(&app, &acc).await.remove(0);
    assert_eq!(
        moved.due_time,
        Some(ts_at("2026-03-03T14:00:00Z")),
        "09:00 EST"
    );
    assert_eq!(
        moved.request_time, cb.request_time,
        "the time asked for stays"
    );
    nothing_at(&app, &clock, &acc, &["2026-03-03T13:59:00Z"]).await;
    clock.set(ms_at("2026-03-03T14:00:00Z"));
    let got = app.claim(&acc, "camp", "d1", 1, day_rules()).await;
    assert_eq!(ids_of(&got), [c]);
    assert_eq!(got[0].callback.as_ref().map(|x| x.id), Some(cb.id));
}

async fn a_local_callback_time_is_read_in_the_contacts_zone_or_the_one_given(app: TestApp) {
    let (app, _clock, acc, ids) = setup(app, 2).await;
    let cb = ask_callback(
        &app,
        &acc,
        ids[0],
        "2026-03-02T15:00:00Z",
        local("2026-03-03 15:00", ""),
    )
    .await;
    assert_eq!(cb.request_time, Some(ts_at("2026-03-03T20:00:00Z")));
    assert_eq!(cb.time_zone, "America/New_York");
    let cb = ask_callback(
        &app,
        &acc,
        ids[1],
        "2026-03-02T15:00:00Z",
        local("2026-03-03T15:00:00", "America/Los_Angeles"),
    )
    .await;
    assert_eq!(cb.request_time, Some(ts_at("2026-03-03T23:00:00Z")));
    assert_eq!(cb.time_zone, "America/Los_Angeles");
}

async fn another_call_outcome_cancels_a_pending_callback(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    ask_at(&app, &acc, c, "2026-03-02T18:00:00Z").await;
    let inbound = pb::Call {
        direction: pb::CallDirection::Inbound as i32,
        ..outbound(
            "in-1",
            c,
            "",
            "2026-03-02T15:00:00Z",
            pb::CallOutcome::Converted,
        )
    };
    let call_id = record_id(&app, &acc, inbound).await;
    let stored = callbacks_of(&app, &acc).await.remove(0);
    assert_eq!(
        status(&stored),
        (
            pb::CallbackStatus::Cancelled,
            pb::CallbackCancelReason::CallRecorded
        )
    );
    assert_eq!(stored.settled_call_id, call_id);
    // At the time, the person is an ordinary member again (no callback carried).
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let got = app.claim(&acc, "camp", "d1", 1, day_rules()).await;
    assert!(got.iter().all(|d| d.callback.is_none()));
    // A new request replaces the old one: the earlier callback is cancelled by it.
    ask_callback(
        &app,
        &acc,
        c,
        "2026-03-02T18:00:10Z",
        at("2026-03-03T15:00:00Z"),
    )
    .await;
    ask_callback(
        &app,
        &acc,
        c,
        "2026-03-02T18:00:20Z",
        at("2026-03-03T16:00:00Z"),
    )
    .await;
    let pending = list(
        &app,
        pb::ListCallbacksRequest {
            account_id: acc.clone(),
            status: pb::CallbackStatus::Pending as i32,
            ..Default::default()
        },
    )
    .await
    .callbacks;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request_time, Some(ts_at("2026-03-03T16:00:00Z")));
}

async fn a_lease_given_back_without_a_call_keeps_the_callback_due(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    let cb = ask_at(&app, &acc, c, "2026-03-02T18:00:00Z").await;
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let got = app.claim(&acc, "camp", "d1", 1, day_rules()).await;
    assert_eq!(got[0].callback.as_ref().map(|x| x.id), Some(cb.id));
    release(&app, &acc, "d1", vec![got[0].lease_id.clone()]).await;
    assert_eq!(
        status(&callbacks_of(&app, &acc).await[0]).0,
        pb::CallbackStatus::Pending
    );
    clock.set(ms_at("2026-03-02T18:00:05Z"));
    let again = app.claim(&acc, "camp", "d2", 1, day_rules()).await;
    assert_eq!(again[0].callback.as_ref().map(|x| x.id), Some(cb.id));
    // A lease that simply runs out leaves it due too.
    clock.set(ms_at("2026-03-02T18:10:00Z"));
    let third = app.claim(&acc, "camp", "d3", 1, day_rules()).await;
    assert_eq!(third[0].callback.as_ref().map(|x| x.id), Some(cb.id));
}

/// The account's frequency rules (default: one hour between two dials of a person) hold
/// a callback back like any dial; it is delivered once they allow it.
async fn a_due_callback_still_obeys_the_accounts_frequency_rules(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    let freq = Some(crate::helpers::with_frequency(rules(
        3,
        0,
        (9 * 60, 21 * 60),
    )));
    ask_at(&app, &acc, c, "2026-03-02T15:20:00Z").await;
    clock.set(ms_at("2026-03-02T15:20:00Z"));
    assert!(
        app.claim(&acc, "camp", "d1", 1, freq.clone())
            .await
            .is_empty()
    );
    assert_eq!(
        callbacks_of(&app, &acc).await[0].due_time,
        Some(ts_at("2026-03-02T16:00:00Z")),
        "moved to when the spacing allows a dial"
    );
    clock.set(ms_at("2026-03-02T16:00:00Z"));
    assert_eq!(ids_of(&app.claim(&acc, "camp", "d1", 1, freq).await), [c]);
}

async fn removing_or_deleting_the_contact_cancels_or_deletes_its_callback(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 2).await;
    ask_at(&app, &acc, ids[0], "2026-03-02T17:00:00Z").await;
    ask_at(&app, &acc, ids[1], "2026-03-02T17:00:00Z").await;
    app.remove_from_campaign(&acc, "camp", crate::helpers::ids(&ids[..1]))
        .await;
    app.delete_contact(&acc, ids[1]).await;
    let stored = callbacks_of(&app, &acc).await;
    assert_eq!(
        stored.len(),
        1,
        "the deleted contact's callback went with it"
    );
    assert_eq!(stored[0].contact_id, ids[0]);
    assert_eq!(
        status(&stored[0]),
        (
            pb::CallbackStatus::Cancelled,
            pb::CallbackCancelReason::RemovedFromCampaign
        )
    );
    nothing_at(&app, &clock, &acc, &["2026-03-02T17:00:00Z"]).await;
}

async fn bad_callback_requests_name_the_field_and_store_nothing(app: TestApp) {
    let (app, _clock, acc, ids) = setup(app, 1).await;
    let c = ids[0];
    let asked = |ext: &str| asking(ext, c, "camp", "2026-03-02T15:00:00Z");
    let cases: Vec<(pb::Call, Option<pb::CallbackTime>, &str)> = vec![
        (asked("e1"), None, "callback"),
        (
            outbound(
                "e2",
                c,
                "camp",
                "2026-03-02T15:00:00Z",
                pb::CallOutcome::Answered,
            ),
            Some(at("2026-03-02T18:00:00Z")),
            "callback",
        ),
        (
            pb::Call {
                campaign_id: String::new(),
                ..asked("e3")
            },
            Some(at("2026-03-02T18:00:00Z")),
            "call.campaign_id",
        ),
        (
            asked("e4"),
            Some(at("2026-03-02T14:00:00Z")),
            "callback.callback_time",
        ),
        (
            asked("e5"),
            Some(at("2027-03-10T14:00:00Z")),
            "callback.callback_time",
        ),
        (
            asked("e6"),
            Some(local("tomorrow at 3", "")),
            "callback.local_time",
        ),
        (
            asked("e7"),
            Some(local("2026-03-01T15:00", "")),
            "callback.local_time",
        ),
        (
            asked("e8"),
            Some(local("2026-03-03T15:00", "EST")),
            "callback.time_zone",
        ),
        (
            asked("e9"),
            Some(pb::CallbackTime {
                time: None,
                time_zone: String::new(),
            }),
            "callback",
        ),
    ];
    for (call, cb, field) in cases {
        let ext = call.external_id.clone();
        let err = record(&app, &acc, call, cb).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{ext}: {err:?}");
        assert_eq!(violated_fields(&err), [field], "{ext}: {err:?}");
    }
    // Not a member of the call's campaign: nothing could deliver it.
    let err = record(
        &app,
        &acc,
        asking("e10", c, "other", "2026-03-02T15:00:00Z"),
        Some(at("2026-03-02T18:00:00Z")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("not a member"), "{}", err.message());
    assert!(callbacks_of(&app, &acc).await.is_empty());
    let calls = app
        .client
        .clone()
        .list_calls(pb::ListCallsRequest {
            account_id: acc.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert!(calls.is_empty(), "a refused call stores nothing: {calls:?}");
}

async fn list_callbacks_filters_by_campaign_contact_and_status_and_pages(app: TestApp) {
    let (app, _clock, acc, ids) = setup(app, 3).await;
    app.add_to_campaign(&acc, "other", &ids[..1]).await;
    let mut made = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let when = at(&format!("2026-03-02T1{}:00:00Z", 6 + i));
        made.push(
            ask_callback(&app, &acc, *id, "2026-03-02T15:00:00Z", when)
                .await
                .id,
        );
    }
    let call = asking("o1", ids[0], "other", "2026-03-02T15:01:00Z");
    let other = record(&app, &acc, call, Some(at("2026-03-04T16:00:00Z")))
        .await
        .unwrap()
        .callback
        .unwrap();
    // The later call of ids[0] cancelled its first callback.
    let req = |f: &dyn Fn(&mut pb::ListCallbacksRequest)| {
        let mut r = pb::ListCallbacksRequest {
            account_id: acc.clone(),
            ..Default::default()
        };
        f(&mut r);
        r
    };
    let got = |r: pb::ListCallbacksResponse| r.callbacks.iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        got(list(&app, req(&|r| r.campaign_id = "other".into())).await),
        [other.id]
    );
    assert_eq!(
        got(list(
            &app,
            req(&|r| r.status = pb::CallbackStatus::Pending as i32)
        )
        .await),
        [other.id, made[2], made[1]]
    );
    assert_eq!(
        got(list(
            &app,
            req(&|r| r.status = pb::CallbackStatus::Cancelled as i32)
        )
        .await),
        [made[0]]
    );
    assert_eq!(
        got(list(&app, req(&|r| r.contact_id = ids[1])).await),
        [made[1]]
    );
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = list(
            &app,
            req(&|r| {
                r.page_size = 1;
                r.page_token = token.clone();
            }),
        )
        .await;
        assert!(page.callbacks.len() <= 1);
        paged.extend(page.callbacks.iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, [other.id, made[2], made[1], made[0]]);
    let err = app
        .client
        .clone()
        .list_callbacks(req(&|r| r.page_token = "garbage".into()))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["page_token"]);
    let err = app
        .client
        .clone()
        .list_callbacks(req(&|r| r.status = 42))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["status"]);
}

async fn check_and_preview_report_scheduled_and_due_callbacks(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 2).await;
    let c = ids[0];
    // One attempt allowed, and it is used: only the callback can reach the person again.
    let one = Some(rules(1, 0, (9 * 60, 21 * 60)));
    let call = asking("first", c, "camp", "2026-03-02T15:00:00Z");
    let cb = record(&app, &acc, call, Some(at("2026-03-02T18:00:00Z")))
        .await
        .unwrap()
        .callback
        .unwrap();
    let check = app.check_dialable(&acc, c, "camp", "", one.clone()).await;
    assert!(!check.dialable);
    assert_eq!(check.reason(), pb::NotDialableReason::CallbackScheduled);
    assert_eq!(check.callback.as_ref().map(|x| x.id), Some(cb.id));
    assert!(
        check.detail.contains("2026-03-02T18:00:00Z"),
        "{}",
        check.detail
    );
    let p = app.preview(&acc, "camp", one.clone()).await;
    assert_eq!(
        (p.members, p.dialable, p.callback_scheduled, p.callbacks_due),
        (2, 1, 1, 0)
    );
    // Without a campaign, the callback is reported and the verdict is the person's.
    let check = app.check_dialable(&acc, c, "", "", one.clone()).await;
    assert!(check.dialable);
    assert_eq!(check.callback.as_ref().map(|x| x.id), Some(cb.id));
    clock.set(ms_at("2026-03-02T18:00:00Z"));
    let check = app.check_dialable(&acc, c, "camp", "", one.clone()).await;
    assert!(
        check.dialable,
        "attempts are waived for a due callback: {check:?}"
    );
    let p = app.preview(&acc, "camp", one.clone()).await;
    assert_eq!(
        (p.members, p.dialable, p.callback_scheduled, p.callbacks_due),
        (2, 2, 0, 1)
    );
    assert_eq!(p.attempts_exhausted, 0);
    // The claim agrees: the exhausted member comes back through its callback.
    let got = app.claim(&acc, "camp", "d1", 2, one).await;
    assert_eq!(ids_of(&got), ids);
    assert!(got[0].callback.is_some());
}

async fn an_open_stream_delivers_a_callback_when_it_falls_due(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 2).await;
    let cb = ask_at(&app, &acc, ids[1], "2026-03-02T17:00:00Z").await;
    let claim = pb::ClaimDialableContactsRequest {
        account_id: acc.clone(),
        campaign_id: "camp".into(),
        dialer_id: "streamer".into(),
        max_contacts: 5,
        lease_seconds: 600,
        rules: day_rules(),
    };
    let mut stream = app.open_stream(claim, 5, 20).await.unwrap();
    let first = stream.next().await.expect("stream open").unwrap();
    assert_eq!(
        ids_of(&first),
        [ids[0]],
        "the member waiting for its callback is not sent"
    );
    clock.set(ms_at("2026-03-02T17:00:00Z"));
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("the callback arrives once due")
        .expect("stream open")
        .unwrap();
    // First the callback; then the other member again (its lease ran out uncalled).
    assert_eq!(ids_of(&next), [ids[1], ids[0]]);
    assert_eq!(next[0].callback.as_ref().map(|x| x.id), Some(cb.id));
}

async fn a_repeated_callback_call_returns_the_callback_it_scheduled_and_schedules_no_other(
    app: TestApp,
) {
    let (app, _clock, acc, ids) = setup(app, 1).await;
    let call = asking("ask-1", ids[0], "camp", "2026-03-02T15:00:00Z");
    let first = record(&app, &acc, call.clone(), Some(at("2026-03-02T18:00:00Z")))
        .await
        .unwrap();
    let again = record(&app, &acc, call, Some(at("2026-03-02T18:00:00Z")))
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.callback, again.callback);
    assert_eq!(callbacks_of(&app, &acc).await.len(), 1);
    let stored = callbacks_of(&app, &acc).await.remove(0);
    assert_eq!(Some(stored.call_id), first.call.map(|c| c.id));
}

async fn a_due_callback_in_a_campaign_requiring_consent_waits_for_a_live_consent(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, 2).await;
    let c = ids[0];
    ask_at(&app, &acc, c, "2026-03-02T17:00:00Z").await;
    clock.set(ms_at("2026-03-02T17:00:00Z"));
    let requiring = Some(pb::DialRules {
        require_consent: pb::ConsentRequirement::ExpressWritten as i32,
        ..day_rules().unwrap()
    });
    let got = app.claim(&acc, "camp", "d1", 5, requiring.clone()).await;
    assert!(
        got.is_empty(),
        "the person asked for the call, but the campaign requires written consent: {got:?}"
    );
    app.client
        .clone()
        .record_consent(pb::RecordConsentRequest {
            account_id: acc.clone(),
            contact_id: c,
            consent: Some(pb::Consent {
                kind: pb::ConsentKind::ExpressWritten as i32,
                channel: "web form".into(),
                source: "https://example.com/form".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let got = app.claim(&acc, "camp", "d1", 5, requiring).await;
    assert_eq!(
        ids_of(&got),
        [c],
        "only the consenting person, by the callback"
    );
    assert!(got[0].callback.is_some());
}

/// A callback stays pending while its lease is out: more leased ones than a claim reads
/// must not hide the due callbacks behind them.
async fn due_callbacks_are_not_hidden_behind_earlier_ones_out_on_lease(app: TestApp) {
    let n = 70; // more than a claim of 1 reads (1 + 64)
    let (app, clock, acc, ids) = setup(app, n).await;
    for &c in &ids {
        ask_at(&app, &acc, c, "2026-03-02T17:00:00Z").await;
    }
    clock.set(ms_at("2026-03-02T17:00:00Z"));
    let mut got = Vec::new();
    for i in 0..n {
        let batch = app.claim(&acc, "camp", "d1", 1, day_rules()).await;
        assert_eq!(
            batch.len(),
            1,
            "claim {i} found nothing; handed out so far: {got:?}"
        );
        assert!(batch[0].callback.is_some());
        got.extend(ids_of(&batch));
    }
    got.sort_unstable();
    assert_eq!(got, ids, "every due callback once");
}
