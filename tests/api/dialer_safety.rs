//! Who gets called, under clients that misbehave the way real ones do: a stream whose
//! dialer is slow, late and foreign call reports, one person in two campaigns, absurd
//! calls, Call Now at night, time zone abbreviations, and a key revoked under an open
//! stream. (The randomized interleaving checker is in `interleavings`.)

use crate::helpers::{
    TestApp, clock_at, ms_at, open_stream_on, outbound, rules, ts_at, violated_fields,
    with_frequency,
};
use contactd::domain::Clock;
use contactd::pb::{self, NotDialableReason as Reason};
use std::collections::HashSet;
use std::time::Duration;
use tonic::Code;

both!(
    a_stream_leases_only_what_its_dialer_asked_for,
    a_stream_never_sends_a_contact_marked_dnc_while_its_dialer_was_busy,
    a_late_call_of_another_dialer_never_ends_the_current_lease,
    one_person_in_two_campaigns_is_held_by_one_dialer_at_a_time,
    frequency_rules_count_every_campaigns_dials,
    a_persons_dial_list_keeps_the_newest_fifty_newest_first,
    a_released_lease_does_not_count_as_a_dial,
    a_late_give_back_never_ends_the_persons_next_lease,
    a_late_give_back_over_a_stream_never_ends_the_persons_next_lease,
    a_deleted_contact_leaves_no_dial_state_behind,
    absurd_calls_are_refused_and_their_dnc_request_still_holds,
    call_now_obeys_the_calling_window_unless_a_person_overrides_it,
    a_call_request_is_not_handed_out_while_a_dialer_holds_the_person,
    a_new_call_request_waits_for_the_workers_own_lease,
    time_zones_are_iana_place_names_only,
    a_revoked_key_ends_an_open_stream_on_another_replica,
);

/// An outbound call placed by `dialer`.
fn dialed_by(
    dialer: &str,
    external_id: &str,
    contact_id: i64,
    campaign: &str,
    at: &str,
    outcome: pb::CallOutcome,
) -> pb::Call {
    pb::Call {
        dialer_id: dialer.into(),
        ..outbound(external_id, contact_id, campaign, at, outcome)
    }
}

fn ids_of(batch: &[pb::DialableContact]) -> Vec<i64> {
    batch
        .iter()
        .map(|d| d.contact.as_ref().unwrap().id)
        .collect()
}

/// Any hour, one second between a campaign's attempts, the account's frequency rules off.
fn all_day() -> Option<pb::DialRules> {
    Some(rules(0, 1, crate::helpers::any_hour()))
}

fn claim_req(
    acc: &str,
    campaign: &str,
    dialer: &str,
    max: i32,
) -> pb::ClaimDialableContactsRequest {
    pb::ClaimDialableContactsRequest {
        account_id: acc.into(),
        campaign_id: campaign.into(),
        dialer_id: dialer.into(),
        max_contacts: max,
        lease_seconds: 600,
        rules: all_day(),
    }
}

/// A claim stream over `app` asking for `demand` at once, looking every 20 ms.
async fn stream(
    app: &TestApp,
    claim: pb::ClaimDialableContactsRequest,
    demand: i32,
) -> crate::helpers::DialerStream {
    open_stream_on(app.client.clone(), claim, demand, 20, None)
        .await
        .unwrap()
}

/// `n` New York contacts in `campaign`, numbers from `first`.
async fn people(app: &TestApp, acc: &str, campaign: &str, first: u32, n: u32) -> Vec<i64> {
    let mut out = Vec::new();
    for i in 0..n {
        let c = app
            .contact(acc, &format!("+1212{:07}", 2_000_000 + first + i), "X")
            .await;
        out.push(c.id);
    }
    app.add_to_campaign(acc, campaign, &out).await;
    out
}

async fn preview(app: &TestApp, acc: &str, campaign: &str) -> pb::PreviewDialableResponse {
    app.preview(acc, campaign, all_day()).await
}

/// Reads whatever the stream sends within `wait`.
async fn drain(s: &mut crate::helpers::DialerStream, wait: Duration) -> Vec<pb::DialableContact> {
    let mut got = Vec::new();
    while let Ok(Some(batch)) = tokio::time::timeout(wait, s.next()).await {
        got.extend(batch.expect("stream batch"));
    }
    got
}

/// The server used to lease a whole campaign ahead of a slow reader; now a stream leases
/// exactly the demand, however long the dialer takes to read.
async fn a_stream_leases_only_what_its_dialer_asked_for(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    people(&app, &acc, "camp", 0, 50).await;
    let mut s = stream(&app, claim_req(&acc, "camp", "z", 1), 3).await;
    // The dialer is busy: it reads nothing for a while.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        preview(&app, &acc, "camp").await.leased,
        3,
        "leased = demand"
    );
    let got = drain(&mut s, Duration::from_millis(500)).await;
    assert_eq!(got.len(), 3, "one message per contact (max_contacts 1)");
    s.demand(10);
    let more = drain(&mut s, Duration::from_millis(500)).await;
    assert_eq!(more.len(), 10);
    assert_eq!(preview(&app, &acc, "camp").await.leased, 13);
    let all: HashSet<i64> = ids_of(&got).into_iter().chain(ids_of(&more)).collect();
    assert_eq!(all.len(), 13, "no contact twice");
    // Give two back over the stream: they are dialable again.
    let back: Vec<i64> = all.iter().take(2).copied().collect();
    s.release(back.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(preview(&app, &acc, "camp").await.leased, 11);
}

async fn a_stream_never_sends_a_contact_marked_dnc_while_its_dialer_was_busy(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let members = people(&app, &acc, "camp", 0, 200).await;
    let mut s = stream(&app, claim_req(&acc, "camp", "z", 1), 1).await;
    let first = s.next().await.unwrap().unwrap();
    assert_eq!(first.len(), 1);
    // While the dialer is on its call, every member is marked DNC.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let marked = app
        .mark_dnc(&acc, &members, &[], pb::DncSource::Manual)
        .await;
    assert_eq!(marked.changed, 200);
    s.demand(40);
    let later = drain(&mut s, Duration::from_millis(600)).await;
    assert!(
        later.is_empty(),
        "{} DNC contacts sent after the mark returned",
        later.len()
    );
    for c in later.iter().chain(&first) {
        let status = c.contact.as_ref().unwrap().status();
        assert_eq!(status, pb::ContactStatus::Active);
    }
}

/// Dialer D2 holds C; a RecordCall of C by dialer D1 that started two hours ago (or any
/// call by another dialer) is recorded and counted but does not end D2's lease.
async fn a_late_call_of_another_dialer_never_ends_the_current_lease(app: TestApp) {
    let clock = clock_at("2026-03-02T12:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "camp", 0, 1).await[0];
    clock.set(ms_at("2026-03-02T16:00:00Z"));
    let held = app.claim(&acc, "camp", "d2", 1, all_day()).await;
    assert_eq!(ids_of(&held), [c]);
    let late = dialed_by(
        "d1",
        "late",
        c,
        "camp",
        "2026-03-02T14:00:00Z",
        pb::CallOutcome::NoAnswer,
    );
    assert!(app.record_call(&acc, late).await.unwrap().created);
    let foreign = dialed_by(
        "d1",
        "now",
        c,
        "camp",
        "2026-03-02T15:59:00Z",
        pb::CallOutcome::Busy,
    );
    app.record_call(&acc, foreign).await.unwrap();
    assert!(app.claim(&acc, "camp", "d3", 1, all_day()).await.is_empty());
    let check = app.check_dialable(&acc, c, "camp", "d3", all_day()).await;
    assert_eq!(check.reason, Reason::Leased as i32, "{}", check.detail);
    let stats = app.get_contact(&acc, c).await.call_stats.unwrap();
    assert_eq!(stats.call_count, 2, "both calls are counted");
    // D2's own call ends its lease.
    clock.advance_ms(60_000);
    let own = dialed_by(
        "d2",
        "own",
        c,
        "camp",
        "2026-03-02T16:00:30Z",
        pb::CallOutcome::NoAnswer,
    );
    app.record_call(&acc, own).await.unwrap();
    let more_attempts = Some(rules(10, 1, crate::helpers::any_hour()));
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d3", 1, more_attempts).await),
        [c]
    );
}

/// A contact in campaigns A and B: a dialer in B holds the person, so a dialer in A gets
/// nothing; once called, the account's spacing keeps A away too.
async fn one_person_in_two_campaigns_is_held_by_one_dialer_at_a_time(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    app.add_to_campaign(&acc, "B", &[c]).await;
    let defaults = Some(with_frequency(rules(0, 0, crate::helpers::any_hour())));
    assert_eq!(
        ids_of(&app.claim(&acc, "B", "z", 1, defaults.clone()).await),
        [c]
    );
    assert!(
        app.claim(&acc, "A", "w", 1, defaults.clone())
            .await
            .is_empty()
    );
    let check = app
        .check_dialable(&acc, c, "A", "w", defaults.clone())
        .await;
    assert_eq!(check.reason, Reason::Leased as i32);
    assert!(check.detail.contains("campaign B"), "{}", check.detail);
    // Z calls; a minute later campaign A may not call the person (spacing 1 h).
    let call = dialed_by(
        "z",
        "z1",
        c,
        "B",
        "2026-03-02T16:00:10Z",
        pb::CallOutcome::NoAnswer,
    );
    clock.advance_ms(60_000);
    app.record_call(&acc, call).await.unwrap();
    assert!(
        app.claim(&acc, "A", "w", 1, defaults.clone())
            .await
            .is_empty()
    );
    let check = app
        .check_dialable(&acc, c, "A", "w", defaults.clone())
        .await;
    assert_eq!(check.reason, Reason::CallSpacing as i32, "{}", check.detail);
    assert_eq!(preview(&app, &acc, "A").await.leased, 0);
    clock.advance_ms(3_600_000);
    assert_eq!(ids_of(&app.claim(&acc, "A", "w", 1, defaults).await), [c]);
}

/// Three dials a day and seven a week by default, whichever campaign dials; a campaign
/// may override them; the account may change them.
/// A person's recent dials are kept newest first, at most 50 (MAX_DIALS), and every dial
/// of the last week among them, however many leases have counted one — through the
/// lease statement's own handling of the stored list on PostgreSQL (which keeps older
/// dials until the list is full), the domain's on SQLite (which drops them).
async fn a_persons_dial_list_keeps_the_newest_fifty_newest_first(app: TestApp) {
    let clock = clock_at("2026-03-02T13:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    let every_dial = Some(rules(50, 0, crate::helpers::any_hour()));
    let mut times = vec![];
    // 52 dials a week and a day apart (no rule holds one back), then 3 within hours.
    for i in 0..55 {
        assert_eq!(
            app.claim(&acc, "A", "d", 1, every_dial.clone()).await.len(),
            1
        );
        times.push(clock.now_ms());
        clock.advance_ms(if i < 51 { 8 * 86_400_000 } else { 3_600_000 });
    }
    let entries = format!(
        "SELECT CAST(length(recent_dials) - length(replace(recent_dials, ',', '')) + 1 \
         AS BIGINT) FROM dial_state WHERE contact_id = {c}"
    );
    let kept = app.sql_i64(&entries).await.unwrap();
    assert!((3..=50).contains(&kept), "{kept} dials kept");
    let newest = format!(
        "SELECT count(*) FROM dial_state WHERE contact_id = {c} AND \
         (recent_dials = '{0},{1},{2}' OR recent_dials LIKE '{0},{1},{2},%')",
        times[54], times[53], times[52]
    );
    assert_eq!(app.sql_i64(&newest).await, Some(1));
}

async fn frequency_rules_count_every_campaigns_dials(app: TestApp) {
    let clock = clock_at("2026-03-02T13:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    app.add_to_campaign(&acc, "B", &[c]).await;
    let base = with_frequency(rules(50, 1, crate::helpers::any_hour()));
    let defaults = Some(base.clone());
    let mut n = 0;
    // Dial, record, wait the spacing: campaigns take turns.
    let mut dial = |campaign: &'static str| {
        n += 1;
        let app = &app;
        let acc = acc.clone();
        let clock = clock.clone();
        let defaults = defaults.clone();
        async move {
            let got = app.claim(&acc, campaign, "d", 1, defaults).await;
            if got.is_empty() {
                return false;
            }
            let mut call = outbound(
                &format!("c{n}"),
                c,
                campaign,
                "2026-03-02T13:00:00Z",
                pb::CallOutcome::NoAnswer,
            );
            call.start_time = Some(prost_types::Timestamp {
                seconds: clock.now_ms() / 1000,
                nanos: 0,
            });
            call.dialer_id = "d".into();
            app.record_call(&acc, call).await.unwrap();
            clock.advance_ms(3_600_000);
            true
        }
    };
    assert!(dial("A").await);
    assert!(dial("B").await);
    assert!(dial("A").await);
    assert!(!dial("B").await, "a fourth dial within 24 h");
    let check = app
        .check_dialable(&acc, c, "B", "d", defaults.clone())
        .await;
    assert_eq!(check.reason, Reason::DailyLimit as i32, "{}", check.detail);
    assert_eq!(
        app.preview(&acc, "B", defaults.clone()).await.daily_limit,
        1
    );
    // A campaign may allow more per day: the spacing still holds.
    let mut more = base;
    more.max_calls_per_day = Some(4);
    assert_eq!(app.claim(&acc, "B", "d", 1, Some(more)).await.len(), 1);
    // The account lowers its weekly limit to 4: the fifth dial waits a week.
    app.client
        .clone()
        .update_account(pb::UpdateAccountRequest {
            account_id: acc.clone(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["frequency".into()],
            }),
            frequency: Some(pb::FrequencyRules {
                max_calls_per_day: 3,
                max_calls_per_week: 4,
                min_call_spacing_seconds: 3600,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    clock.advance_ms(2 * 86_400_000);
    let check = app
        .check_dialable(&acc, c, "A", "x", defaults.clone())
        .await;
    assert_eq!(check.reason, Reason::WeeklyLimit as i32, "{}", check.detail);
    clock.advance_ms(6 * 86_400_000);
    assert_eq!(app.claim(&acc, "A", "x", 1, defaults).await.len(), 1);
}

/// A dialer that gives a lease back unused did not call: the dial is not counted. One
/// that lets its lease run out may have: it is.
async fn a_released_lease_does_not_count_as_a_dial(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    let defaults = Some(with_frequency(rules(0, 0, crate::helpers::any_hour())));
    assert_eq!(
        app.claim(&acc, "A", "d", 1, defaults.clone()).await.len(),
        1
    );
    let released = app
        .client
        .clone()
        .release_leases(pb::ReleaseLeasesRequest {
            account_id: acc.clone(),
            campaign_id: "A".into(),
            dialer_id: "d".into(),
            contact_ids: vec![c],
            lease_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .released;
    assert_eq!(released, 1);
    assert_eq!(
        app.claim(&acc, "A", "e", 1, defaults.clone()).await.len(),
        1,
        "not spaced"
    );
    clock.advance_ms(61_000); // e's 60 s lease runs out unreleased
    let check = app.check_dialable(&acc, c, "A", "f", defaults).await;
    assert_eq!(check.reason, Reason::CallSpacing as i32, "{}", check.detail);
}

/// Durations near 2^63, calls dated a century ahead, URLs that are not web addresses:
/// refused naming the field, nothing stored, reads unharmed; a DNC request in such a
/// call is honoured anyway.
async fn absurd_calls_are_refused_and_their_dnc_request_still_holds(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "camp", 0, 1).await[0];
    clock.set(ms_at("2026-03-10T12:00:00Z"));
    let call = |id: &str| {
        outbound(
            id,
            c,
            "camp",
            "2026-03-10T11:00:00Z",
            pb::CallOutcome::Answered,
        )
    };
    let mut huge = call("huge");
    huge.duration_seconds = i64::MAX - 5;
    let mut future = call("future");
    future.start_time = Some(ts_at("2126-03-10T11:00:00Z"));
    let mut ancient = call("ancient");
    ancient.start_time = Some(ts_at("1999-03-10T11:00:00Z"));
    let mut url = call("url");
    url.recording_url = "javascript:alert(1)".into();
    for (bad, field) in [
        (huge.clone(), "call.duration_seconds"),
        (future, "call.start_time"),
        (ancient, "call.start_time"),
        (url, "call.recording_url"),
    ] {
        let err = app.record_call(&acc, bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert_eq!(violated_fields(&err), [field], "{}", err.message());
    }
    let stats = app.get_contact(&acc, c).await;
    assert_eq!(stats.call_stats.unwrap().call_count, 0, "nothing stored");
    // The callee asked not to be called again, and the call service sent garbage with it.
    huge.dnc_requested = true;
    let err = app.record_call(&acc, huge).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let after = app.get_contact(&acc, c).await;
    assert_eq!(
        after.status(),
        pb::ContactStatus::Dnc,
        "the DNC request was kept"
    );
    assert!(app.claim(&acc, "camp", "d", 1, all_day()).await.is_empty());
    // A sane call still records.
    app.record_call(&acc, call("ok")).await.unwrap();
}

/// A Tokyo contact at 00:36 local: Call Now says when the window opens; a person may
/// override it, and that is recorded; never for DNC.
async fn call_now_obeys_the_calling_window_unless_a_person_overrides_it(app: TestApp) {
    let clock = clock_at("2026-03-02T15:36:00Z"); // 00:36 in Tokyo
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let tokyo = app.contact(&acc, "+81312345678", "Ken").await;
    let call_now = |over: bool, by: &str| pb::CallNowRequest {
        account_id: acc.clone(),
        contact_id: tokyo.id,
        requested_by: by.into(),
        override_calling_window: over,
        rules: None,
    };
    let err = app
        .client
        .clone()
        .call_now(call_now(false, "agent-7"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("Asia/Tokyo") && err.message().contains("2026-03-02T23:00:00Z"),
        "{}",
        err.message()
    );
    let err = app
        .client
        .clone()
        .call_now(call_now(true, ""))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["requested_by"]);
    let req = app
        .client
        .clone()
        .call_now(call_now(true, "agent-7"))
        .await
        .unwrap()
        .into_inner()
        .request
        .unwrap();
    assert!(req.window_override);
    assert_eq!(req.requested_by, "agent-7");
    let claimed = claim_requests(&app, &acc, "w").await;
    assert_eq!(
        claimed.len(),
        1,
        "an overridden request is handed out at night"
    );
    let done = dialed_by(
        "w",
        "tokyo",
        tokyo.id,
        "",
        "2026-03-02T15:36:00Z",
        pb::CallOutcome::Answered,
    );
    app.record_call(&acc, done).await.unwrap();

    // A request placed in the window whose window closed before a worker claimed it is
    // dropped, not dialed at night.
    let ny = app.contact(&acc, "+12125550199", "Ann").await;
    clock.set(ms_at("2026-03-03T01:55:00Z")); // 20:55 in New York
    call_now_in_window(&app, &acc, ny.id).await;
    clock.set(ms_at("2026-03-03T02:10:00Z")); // 21:10
    assert!(claim_requests(&app, &acc, "w").await.is_empty());
}

/// CallNow by agent-7 within the calling window (succeeds).
async fn call_now_in_window(app: &TestApp, acc: &str, contact_id: i64) {
    app.client
        .clone()
        .call_now(pb::CallNowRequest {
            account_id: acc.into(),
            contact_id,
            requested_by: "agent-7".into(),
            override_calling_window: false,
            rules: None,
        })
        .await
        .unwrap();
}

async fn claim_requests(app: &TestApp, acc: &str, worker: &str) -> Vec<pb::CallRequest> {
    app.client
        .clone()
        .claim_call_requests(pb::ClaimCallRequestsRequest {
            account_id: acc.into(),
            worker_id: worker.into(),
            max_requests: 10,
            lease_seconds: 60,
            wait_ms: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .requests
}

/// Call Now and a campaign dialer share the one lease per person.
async fn a_call_request_is_not_handed_out_while_a_dialer_holds_the_person(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "camp", 0, 1).await[0];
    assert_eq!(app.claim(&acc, "camp", "d", 1, all_day()).await.len(), 1);
    call_now_in_window(&app, &acc, c).await;
    assert!(
        claim_requests(&app, &acc, "w").await.is_empty(),
        "d holds the person"
    );
    let call = dialed_by(
        "d",
        "d1",
        c,
        "camp",
        "2026-03-02T16:00:05Z",
        pb::CallOutcome::NoAnswer,
    );
    clock.advance_ms(10_000);
    app.record_call(&acc, call).await.unwrap();
    // d's call closed the request (the person was called); nothing is left to hand out.
    assert!(claim_requests(&app, &acc, "w").await.is_empty());
    // A new request is handed out once nobody holds the person, and then a campaign
    // dialer gets nothing.
    call_now_in_window(&app, &acc, c).await;
    assert_eq!(claim_requests(&app, &acc, "w").await.len(), 1);
    assert!(app.claim(&acc, "camp", "e", 1, all_day()).await.is_empty());
}

/// A person the telephony worker is calling gets a new Call Now request (another dialer's
/// late call report closed the first): the new request waits until the worker's lease on
/// the person is over — its own lease counts like anyone's (the interleaving checker
/// found a worker holding one person twice).
async fn a_new_call_request_waits_for_the_workers_own_lease(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "camp", 0, 1).await[0];
    call_now_in_window(&app, &acc, c).await;
    assert_eq!(claim_requests(&app, &acc, "w").await.len(), 1);
    clock.advance_ms(10_000);
    let late = dialed_by(
        "d",
        "d-late",
        c,
        "camp",
        "2026-03-02T16:00:05Z",
        pb::CallOutcome::NoAnswer,
    );
    app.record_call(&acc, late).await.unwrap();
    call_now_in_window(&app, &acc, c).await;
    assert!(
        claim_requests(&app, &acc, "w").await.is_empty(),
        "w still holds the person"
    );
    clock.advance_ms(51_000); // w's 60 s lease is over
    assert_eq!(claim_requests(&app, &acc, "w").await.len(), 1);
}

async fn time_zones_are_iana_place_names_only(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let with_zone = |tz: &str| pb::ContactInput {
        phone: "+12125550123".into(),
        time_zone: tz.into(),
        ..Default::default()
    };
    for bad in [
        "EST",
        "PST",
        "HST",
        "EST5EDT",
        "Etc/GMT+5",
        "CET",
        "Mars/Olympus",
    ] {
        let err = app.try_contact(with_zone(bad), &acc).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert_eq!(violated_fields(&err), ["contact.time_zone"], "{bad}");
    }
    let err = app.try_contact(with_zone("EST"), &acc).await.unwrap_err();
    assert!(
        err.message().contains("America/New_York"),
        "{}",
        err.message()
    );
    for good in ["America/New_York", "UTC", "Europe/Berlin", "US/Eastern"] {
        let c = app.try_contact(with_zone(good), &acc).await.unwrap();
        app.client
            .clone()
            .delete_contact(pb::DeleteContactRequest {
                account_id: acc.clone(),
                contact_id: c.id,
            })
            .await
            .unwrap();
    }
}

/// A stream opened with a key keeps checking it: revoked on another replica, the stream
/// ends with UNAUTHENTICATED within the recheck time, leasing nothing more.
async fn a_revoked_key_ends_an_open_stream_on_another_replica(app: TestApp) {
    use crate::auth::with_key;
    let s = crate::auth::secured(app).await;
    let acc = s.account_a.clone();
    let mut client = s.app.client.clone();
    let mut ids = Vec::new();
    for i in 0..20 {
        let req = pb::CreateContactRequest {
            account_id: acc.clone(),
            contact: Some(pb::ContactInput {
                phone: format!("+1212{:07}", 3_000_000 + i),
                ..Default::default()
            }),
        };
        let c = client
            .create_contact(with_key(req, &s.key_a))
            .await
            .unwrap();
        ids.push(c.into_inner().contact.unwrap().id);
    }
    let add = pb::AddToCampaignRequest {
        account_id: acc.clone(),
        campaign_id: "camp".into(),
        selection: crate::helpers::ids(&ids),
    };
    client
        .add_to_campaign(with_key(add, &s.key_a))
        .await
        .unwrap();
    let mut stream = open_stream_on(
        client.clone(),
        claim_req(&acc, "camp", "z", 1),
        1,
        20,
        Some(&s.key_a),
    )
    .await
    .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 1);
    // Revoked through another replica's services (its own cache, same database).
    let key_id = s.svc.list_keys(Some(&acc)).await.unwrap()[0].id.clone();
    s.svc.revoke_key(&key_id).await.unwrap();
    let recheck = contactd::service::dialer::STREAM_KEY_RECHECK;
    let ended = tokio::time::timeout(recheck + Duration::from_secs(3), async {
        let mut received = 0;
        loop {
            match stream.next().await {
                Some(Ok(batch)) => received += batch.len(),
                Some(Err(status)) => return (received, Some(status)),
                None => return (received, None),
            }
        }
    })
    .await
    .expect("the stream ended within the recheck time");
    assert_eq!(ended.0, 0, "nothing handed out after the revocation");
    assert_eq!(ended.1.map(|e| e.code()), Some(Code::Unauthenticated));
    let preview = pb::PreviewDialableRequest {
        account_id: acc.clone(),
        campaign_id: "camp".into(),
        rules: all_day(),
    };
    let leased = client
        .preview_dialable(with_key(preview, &s.internal))
        .await
        .unwrap()
        .into_inner()
        .leased;
    assert_eq!(leased, 1);
}

/// ReleaseLeases from `dialer` in campaign "A": by contact ids and by lease ids.
async fn give_back(
    app: &TestApp,
    acc: &str,
    dialer: &str,
    contact_ids: Vec<i64>,
    lease_ids: Vec<String>,
) -> Result<i64, tonic::Status> {
    app.client
        .clone()
        .release_leases(pb::ReleaseLeasesRequest {
            account_id: acc.into(),
            campaign_id: "A".into(),
            dialer_id: dialer.into(),
            contact_ids,
            lease_ids,
        })
        .await
        .map(|r| r.into_inner().released)
}

/// A dialer whose lease ran out gets the same person again; its give-back of the first
/// lease, arriving late, names that lease and ends nothing: the person stays with the
/// dialer's new lease and nobody else is handed them. (By contact id a give-back means
/// whatever lease the dialer holds now.)
async fn a_late_give_back_never_ends_the_persons_next_lease(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    let first = app.claim(&acc, "A", "d", 1, all_day()).await;
    assert_eq!(ids_of(&first), vec![c]);
    clock.advance_ms(601_000); // the 600 s lease runs out
    let second = app.claim(&acc, "A", "d", 1, all_day()).await;
    assert_eq!(
        ids_of(&second),
        vec![c],
        "the same dialer gets the person again"
    );
    let (old, new) = (first[0].lease_id.clone(), second[0].lease_id.clone());
    assert!(!old.is_empty() && old != new, "{old:?} vs {new:?}");

    assert_eq!(
        give_back(&app, &acc, "d", vec![], vec![old]).await.unwrap(),
        0
    );
    assert!(app.claim(&acc, "A", "e", 1, all_day()).await.is_empty());
    let check = app.check_dialable(&acc, c, "A", "e", all_day()).await;
    assert_eq!(check.reason, Reason::Leased as i32, "{}", check.detail);
    // Another dialer cannot give back d's lease, whatever it names.
    assert_eq!(
        give_back(&app, &acc, "e", vec![c], vec![new.clone()])
            .await
            .unwrap(),
        0
    );
    // Not a lease id: refused, naming the entry.
    let bad = give_back(&app, &acc, "d", vec![], vec![new.clone(), "7".into()]).await;
    let bad = bad.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        vec!["lease_ids[1]"],
        "{}",
        bad.message()
    );
    // By contact id: the lease d holds now.
    assert_eq!(
        give_back(&app, &acc, "d", vec![c], vec![]).await.unwrap(),
        1
    );
    assert_eq!(
        ids_of(&app.claim(&acc, "A", "e", 1, all_day()).await),
        vec![c]
    );
}

/// The same over StreamDialableContacts: a stream hands the person out again after the
/// first lease ran out, then reads the dialer's late give-back of the first lease. The
/// dialer's give-back of another person in the same message shows when it was read.
async fn a_late_give_back_over_a_stream_never_ends_the_persons_next_lease(app: TestApp) {
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let both = people(&app, &acc, "A", 0, 2).await;
    let mut s = stream(&app, claim_req(&acc, "A", "s", 2), 1).await;
    let first = s.next().await.unwrap().unwrap();
    assert_eq!(first.len(), 1);
    let x = ids_of(&first)[0];
    let y = *both.iter().find(|&&id| id != x).unwrap();
    clock.advance_ms(601_000);
    s.demand(2);
    let mut again = Vec::new();
    while again.len() < 2 {
        again.extend(s.next().await.unwrap().unwrap());
    }
    let lease_of = |id: i64| {
        again
            .iter()
            .find(|d| d.contact.as_ref().unwrap().id == id)
            .map(|d| d.lease_id.clone())
            .unwrap()
    };
    assert_ne!(lease_of(x), first[0].lease_id, "a new lease, a new id");
    s.release_leases(vec![first[0].lease_id.clone(), lease_of(y)]);
    // Read when y is free again.
    let mut free = false;
    for _ in 0..100 {
        let check = app.check_dialable(&acc, y, "A", "e", all_day()).await;
        if check.reason != Reason::Leased as i32 {
            free = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(free, "the stream never read the give-back");
    let check = app.check_dialable(&acc, x, "A", "e", all_day()).await;
    assert_eq!(check.reason, Reason::Leased as i32, "{}", check.detail);
    assert_eq!(
        ids_of(&app.claim(&acc, "A", "e", 2, all_day()).await),
        vec![y]
    );
}

/// Deleting a contact deletes the person's lease and dial history with it (a foreign key
/// on SQLite, a trigger on PostgreSQL); other people's stay.
async fn a_deleted_contact_leaves_no_dial_state_behind(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let ids = people(&app, &acc, "A", 0, 3).await;
    assert_eq!(app.claim(&acc, "A", "d", 3, all_day()).await.len(), 3);
    let rows = |ids: &[i64]| {
        let list: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        format!(
            "SELECT COUNT(*) FROM dial_state WHERE contact_id IN ({})",
            list.join(",")
        )
    };
    assert_eq!(app.sql_i64(&rows(&ids)).await, Some(3));
    app.delete_contact(&acc, ids[0]).await;
    assert_eq!(app.sql_i64(&rows(&ids[..1])).await, Some(0));
    assert_eq!(app.sql_i64(&rows(&ids[1..])).await, Some(2));
}

/// SQLite: a claim that waits for the database's write lock (held here by another
/// connection, as a long import chunk holds it) is granted when the lock frees, and its
/// lease and the dial the frequency rules count date from then, not from when the claim
/// began: a dial backdated by the wait let the person be called again sooner than the
/// minimum spacing (the 120 s safety runs found hand-outs 418–762 ms after the last dial
/// under a 2 s rule). PostgreSQL's claim statement never waits — it skips people others
/// hold — and reads the clock just before it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_waited_for_the_write_lock_dates_its_lease_from_the_grant() {
    use crate::helpers::{Backend, any_hour};
    use sea_orm::sqlx::{Connection, SqliteConnection, raw_sql};
    let clock = clock_at("2026-03-02T16:00:00Z");
    let app = TestApp::spawn_with_clock(Backend::Sqlite, std::sync::Arc::new(clock.clone())).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = people(&app, &acc, "A", 0, 1).await[0];
    // A minute between two dials of a person (a second between a campaign's attempts),
    // at any hour.
    let spaced = Some(pb::DialRules {
        min_call_spacing_seconds: Some(60),
        ..rules(0, 1, any_hour())
    });
    let mut other = SqliteConnection::connect(&app.db.url).await.unwrap();
    raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let began = clock.now_ms();
    let claim = tokio::spawn({
        let (app, acc, spaced) = (app.client.clone(), acc.clone(), spaced.clone());
        async move {
            app.clone()
                .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                    account_id: acc,
                    campaign_id: "A".into(),
                    dialer_id: "d".into(),
                    max_contacts: 1,
                    lease_seconds: 60,
                    rules: spaced,
                })
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!claim.is_finished(), "the claim waits for the write lock");
    clock.advance_ms(30_000); // half a minute passes while it waits
    raw_sql("COMMIT").execute(&mut other).await.unwrap();
    let got = claim.await.unwrap().unwrap().into_inner().contacts;
    assert_eq!(ids_of(&got), vec![c]);
    let granted = began + 30_000;
    assert_eq!(got[0].lease_id, format!("{c}:{granted}"));
    let expires = got[0].lease_expire_time.unwrap();
    assert_eq!(
        expires.seconds * 1000 + i64::from(expires.nanos) / 1_000_000,
        granted + 60_000,
        "the whole lease, from the grant"
    );
    // d calls and its call ends the lease; 70 s after the claim began is only 40 s after
    // the dial.
    let call = dialed_by(
        "d",
        "c1",
        c,
        "A",
        "2026-03-02T16:00:30Z",
        pb::CallOutcome::NoAnswer,
    );
    app.record_call(&acc, call).await.unwrap();
    clock.advance_ms(40_000);
    assert!(
        app.claim(&acc, "A", "e", 1, spaced.clone())
            .await
            .is_empty()
    );
    let check = app.check_dialable(&acc, c, "A", "e", spaced.clone()).await;
    assert_eq!(check.reason, Reason::CallSpacing as i32, "{}", check.detail);
    clock.advance_ms(20_000); // a minute after the dial
    assert_eq!(ids_of(&app.claim(&acc, "A", "e", 1, spaced).await), vec![c]);
}
