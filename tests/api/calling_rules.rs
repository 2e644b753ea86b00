//! Calling rules beyond one window: windows by day of the week, excluded dates and
//! overrides by region (a US state by area code, or a country), given with each request
//! and obeyed alike by claims, the claim stream, CheckDialable, PreviewDialable, Call Now
//! and callbacks. Every test sets a controllable clock; 2026-12-05 is a Saturday and
//! 2026-12-07 a Monday, and New York is at UTC-5 in December.

use crate::dialer::claim_requests;
use crate::helpers::{TestApp, clock_at, ms_at, outbound, ts_at, violated_fields};
use contactd::domain::clock::FixedClock;
use contactd::pb;
use pb::NotDialableReason as Reason;
use tonic::Code;

both!(
    a_weekday_campaign_claims_nobody_on_saturday_and_everyone_on_monday_inside_hours,
    a_claim_stream_waits_out_a_closed_day,
    nobody_is_called_on_an_excluded_date_of_their_own_calendar,
    check_dialable_names_the_reason_and_when_the_hours_open,
    a_state_override_wins_over_its_country_and_leaves_other_states_alone,
    a_country_override_applies_to_that_countrys_numbers_only,
    preview_dialable_counts_each_calling_hours_reason,
    call_now_is_refused_on_an_excluded_date_unless_a_person_overrides_it,
    a_call_now_request_is_cancelled_if_its_hours_close_before_a_worker_claims_it,
    a_callback_due_on_a_closed_day_is_delivered_at_the_next_opening,
    bad_calling_rules_are_refused_naming_the_field,
);

const NY: &str = "+12125550100";
const LA: &str = "+14155550100";
const CHICAGO: &str = "+13125550100";
const BERLIN: &str = "+493012345678";

fn day(d: pb::DayOfWeek, start: i32, end: i32) -> pb::DayWindow {
    pb::DayWindow {
        day: d as i32,
        start_minute: start,
        end_minute: end,
    }
}

/// Monday to Friday, 09:00–17:00.
fn weekdays() -> Vec<pb::DayWindow> {
    use pb::DayOfWeek::*;
    [Monday, Tuesday, Wednesday, Thursday, Friday]
        .into_iter()
        .map(|d| day(d, 9 * 60, 17 * 60))
        .collect()
}

/// Rules with the attempt and frequency limits out of the way and these calling hours.
fn hours(
    window: Option<(i32, i32)>,
    weekly: Vec<pb::DayWindow>,
    excluded: &[&str],
    regions: Vec<pb::RegionCallingRules>,
) -> Option<pb::DialRules> {
    Some(pb::DialRules {
        max_attempts: 50,
        retry_interval_seconds: 1,
        window: window.map(|(start_minute, end_minute)| pb::CallingWindow {
            start_minute,
            end_minute,
        }),
        max_calls_per_day: Some(50),
        max_calls_per_week: Some(50),
        min_call_spacing_seconds: Some(0),
        weekly,
        excluded_dates: excluded.iter().map(|d| d.to_string()).collect(),
        regions,
        ..Default::default()
    })
}

fn weekday_rules() -> Option<pb::DialRules> {
    hours(None, weekdays(), &[], vec![])
}

fn region(code: &str, window: (i32, i32), excluded: &[&str]) -> pb::RegionCallingRules {
    pb::RegionCallingRules {
        region: code.into(),
        window: Some(pb::CallingWindow {
            start_minute: window.0,
            end_minute: window.1,
        }),
        weekly: vec![],
        excluded_dates: excluded.iter().map(|d| d.to_string()).collect(),
    }
}

/// A server whose clock stands at `t`, an account, and one contact per number in
/// campaign "camp".
async fn setup(app: TestApp, t: &str, phones: &[&str]) -> (TestApp, FixedClock, String, Vec<i64>) {
    let clock = clock_at(t);
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let mut ids = Vec::new();
    for (i, p) in phones.iter().enumerate() {
        ids.push(app.contact(&acc, p, &format!("P{i}")).await.id);
    }
    app.add_to_campaign(&acc, "camp", &ids).await;
    (app, clock, acc, ids)
}

fn ids_of(batch: &[pb::DialableContact]) -> Vec<i64> {
    let mut ids: Vec<i64> = batch
        .iter()
        .map(|d| d.contact.as_ref().unwrap().id)
        .collect();
    ids.sort();
    ids
}

async fn claim_ids(
    app: &TestApp,
    acc: &str,
    dialer: &str,
    rules: Option<pb::DialRules>,
) -> Vec<i64> {
    ids_of(&app.claim(acc, "camp", dialer, 10, rules).await)
}

async fn a_weekday_campaign_claims_nobody_on_saturday_and_everyone_on_monday_inside_hours(
    app: TestApp,
) {
    // Saturday 11:00 in New York: inside 09:00–17:00, but Saturday has no window.
    let (app, clock, acc, ids) = setup(
        app,
        "2026-12-05T16:00:00Z",
        &[NY, "+12125550101", "+12125550102"],
    )
    .await;
    assert!(
        claim_ids(&app, &acc, "d1", weekday_rules())
            .await
            .is_empty()
    );
    // Sunday, and Monday before 09:00: still nobody.
    for t in ["2026-12-06T16:00:00Z", "2026-12-07T13:59:00Z"] {
        clock.set(ms_at(t));
        assert!(
            claim_ids(&app, &acc, "d1", weekday_rules())
                .await
                .is_empty(),
            "{t}"
        );
    }
    clock.set(ms_at("2026-12-07T14:00:00Z"));
    assert_eq!(claim_ids(&app, &acc, "d1", weekday_rules()).await, ids);
}

async fn a_claim_stream_waits_out_a_closed_day(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, "2026-12-06T16:00:00Z", &[NY]).await;
    let mut stream = app
        .open_stream(
            pb::ClaimDialableContactsRequest {
                account_id: acc.clone(),
                campaign_id: "camp".into(),
                dialer_id: "d1".into(),
                max_contacts: 10,
                lease_seconds: 60,
                rules: weekday_rules(),
            },
            5,
            20,
        )
        .await
        .expect("stream");
    let waited = tokio::time::timeout(std::time::Duration::from_millis(400), stream.next()).await;
    assert!(waited.is_err(), "sent on a Sunday: {waited:?}");
    clock.set(ms_at("2026-12-07T15:00:00Z"));
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("sent on Monday")
        .expect("open")
        .expect("batch");
    assert_eq!(ids_of(&got), ids);
}

async fn nobody_is_called_on_an_excluded_date_of_their_own_calendar(app: TestApp) {
    // 09:00–17:00 every day but Christmas Day. 2026-12-25T15:00Z is 10:00 on the 25th
    // in New York.
    let rules = || hours(Some((540, 1020)), vec![], &["2026-12-25"], vec![]);
    let (app, clock, acc, ids) = setup(app, "2026-12-24T15:00:00Z", &[NY]).await;
    // The day before is open (checked without leasing).
    let check = app.check_dialable(&acc, ids[0], "camp", "", rules()).await;
    assert!(check.dialable, "{}", check.detail);
    clock.set(ms_at("2026-12-25T15:00:00Z"));
    assert!(claim_ids(&app, &acc, "d1", rules()).await.is_empty());
    // The next day, at 09:00 local.
    clock.set(ms_at("2026-12-26T14:00:00Z"));
    assert_eq!(claim_ids(&app, &acc, "d1", rules()).await, ids);
}

async fn check_dialable_names_the_reason_and_when_the_hours_open(app: TestApp) {
    let (app, clock, acc, ids) = setup(app, "2026-12-05T16:00:00Z", &[NY]).await;
    let c = ids[0];
    // Saturday: closed day; opens Monday 09:00 New York = 14:00Z.
    let check = app
        .check_dialable(&acc, c, "camp", "", weekday_rules())
        .await;
    assert!(!check.dialable);
    assert_eq!(check.reason(), Reason::ClosedDay, "{}", check.detail);
    assert_eq!(check.next_open_time, Some(ts_at("2026-12-07T14:00:00Z")));
    assert!(
        check.detail.contains("Mon–Fri 09:00–17:00"),
        "{}",
        check.detail
    );
    // Friday 18:00: outside the day's window; the weekend is skipped.
    clock.set(ms_at("2026-12-04T23:00:00Z"));
    let check = app
        .check_dialable(&acc, c, "camp", "", weekday_rules())
        .await;
    assert_eq!(check.reason(), Reason::OutsideWindow, "{}", check.detail);
    assert_eq!(check.next_open_time, Some(ts_at("2026-12-07T14:00:00Z")));
    // With Monday a holiday, it opens on Tuesday; on the holiday itself the reason says so.
    let holiday = || hours(None, weekdays(), &["2026-12-07"], vec![]);
    let check = app.check_dialable(&acc, c, "camp", "", holiday()).await;
    assert_eq!(check.next_open_time, Some(ts_at("2026-12-08T14:00:00Z")));
    clock.set(ms_at("2026-12-07T15:00:00Z"));
    let check = app.check_dialable(&acc, c, "", "", holiday()).await;
    assert_eq!(check.reason(), Reason::ExcludedDate, "{}", check.detail);
    assert!(
        check.detail.contains("2026-12-08T14:00:00Z"),
        "{}",
        check.detail
    );
    // Inside the hours: dialable, no opening to name.
    let check = app
        .check_dialable(&acc, c, "camp", "", weekday_rules())
        .await;
    assert!(check.dialable, "{}", check.detail);
    assert_eq!(check.next_open_time, None);
}

async fn a_state_override_wins_over_its_country_and_leaves_other_states_alone(app: TestApp) {
    // The campaign: 08:00–21:00. The US: 09:00–17:00. California: 12:00–20:00.
    let rules = || {
        hours(
            None,
            vec![],
            &[],
            vec![
                region("US", (540, 1020), &[]),
                region("US-CA", (720, 1200), &[]),
            ],
        )
    };
    // Monday 19:00Z: 14:00 in New York (US rules: open), 11:00 in Los Angeles
    // (California's rules: not yet, though the US's and the campaign's are open).
    let (app, clock, acc, ids) = setup(app, "2026-12-07T19:00:00Z", &[NY, LA]).await;
    let (ny, la) = (ids[0], ids[1]);
    assert_eq!(claim_ids(&app, &acc, "d1", rules()).await, [ny]);
    let check = app.check_dialable(&acc, la, "camp", "", rules()).await;
    assert_eq!(check.reason(), Reason::OutsideWindow, "{}", check.detail);
    assert!(check.detail.contains("US-CA"), "{}", check.detail);
    assert_eq!(check.next_open_time, Some(ts_at("2026-12-07T20:00:00Z")));
    // Tuesday 02:00Z: 21:00 in New York (closed under the US's 17:00), 18:00 in Los
    // Angeles (open under California's 20:00, though the US's hours have ended).
    clock.set(ms_at("2026-12-08T02:00:00Z"));
    assert_eq!(claim_ids(&app, &acc, "d2", rules()).await, [la]);
    let check = app.check_dialable(&acc, ny, "camp", "", rules()).await;
    assert_eq!(check.reason(), Reason::OutsideWindow, "{}", check.detail);
    assert!(check.detail.contains("rules for US "), "{}", check.detail);
}

async fn a_country_override_applies_to_that_countrys_numbers_only(app: TestApp) {
    // Germany: 10:00–12:00 and not on 2026-12-08. Monday 14:00Z is 09:00 in New York and
    // 15:00 in Berlin.
    let rules = || {
        hours(
            None,
            vec![],
            &[],
            vec![region("DE", (600, 720), &["2026-12-08"])],
        )
    };
    let (app, clock, acc, ids) = setup(app, "2026-12-07T14:00:00Z", &[NY, BERLIN]).await;
    let (ny, berlin) = (ids[0], ids[1]);
    assert_eq!(claim_ids(&app, &acc, "d1", rules()).await, [ny]);
    let check = app.check_dialable(&acc, berlin, "camp", "", rules()).await;
    assert_eq!(check.reason(), Reason::OutsideWindow, "{}", check.detail);
    assert!(check.detail.contains("DE"), "{}", check.detail);
    // Its next opening skips its own excluded date: Wednesday 10:00 CET = 09:00Z.
    assert_eq!(check.next_open_time, Some(ts_at("2026-12-09T09:00:00Z")));
    clock.set(ms_at("2026-12-08T10:00:00Z"));
    assert!(claim_ids(&app, &acc, "d2", rules()).await.is_empty());
    let check = app.check_dialable(&acc, berlin, "camp", "", rules()).await;
    assert_eq!(check.reason(), Reason::ExcludedDate, "{}", check.detail);
    clock.set(ms_at("2026-12-09T09:00:00Z"));
    assert_eq!(claim_ids(&app, &acc, "d2", rules()).await, [berlin]);
}

async fn preview_dialable_counts_each_calling_hours_reason(app: TestApp) {
    // Monday 15:00Z: 10:00 in New York, 09:00 in Chicago, 07:00 in Los Angeles, 16:00 in
    // Berlin. The campaign: Mon–Fri 09:00–17:00. Illinois: the same, but Monday is a
    // holiday. Germany: Tuesday to Friday only.
    use pb::DayOfWeek::*;
    let de = pb::RegionCallingRules {
        region: "DE".into(),
        window: None,
        weekly: [Tuesday, Wednesday, Thursday, Friday]
            .into_iter()
            .map(|d| day(d, 540, 1020))
            .collect(),
        excluded_dates: vec![],
    };
    let il = pb::RegionCallingRules {
        region: "US-IL".into(),
        window: None,
        weekly: weekdays(),
        excluded_dates: vec!["2026-12-07".into()],
    };
    let rules = || hours(None, weekdays(), &[], vec![il.clone(), de.clone()]);
    let (app, _clock, acc, ids) =
        setup(app, "2026-12-07T15:00:00Z", &[NY, CHICAGO, LA, BERLIN]).await;
    let p = app.preview(&acc, "camp", rules()).await;
    assert_eq!(
        (
            p.members,
            p.dialable,
            p.outside_window,
            p.excluded_date,
            p.closed_day,
            p.region_rules
        ),
        (4, 1, 1, 1, 1, 2),
        "{p:?}"
    );
    // The same verdicts one by one.
    let reasons = [
        Reason::Unspecified,
        Reason::ExcludedDate,
        Reason::OutsideWindow,
        Reason::ClosedDay,
    ];
    for (id, want) in ids.iter().zip(reasons) {
        let check = app.check_dialable(&acc, *id, "camp", "", rules()).await;
        assert_eq!(check.reason(), want, "{}", check.detail);
    }
    assert_eq!(claim_ids(&app, &acc, "d1", rules()).await, [ids[0]]);
}

async fn call_now(
    app: &TestApp,
    acc: &str,
    id: i64,
    over: bool,
    rules: Option<pb::DialRules>,
) -> Result<pb::CallRequest, tonic::Status> {
    app.client
        .clone()
        .call_now(pb::CallNowRequest {
            account_id: acc.into(),
            contact_id: id,
            requested_by: "agent-7".into(),
            override_calling_window: over,
            rules,
        })
        .await
        .map(|r| r.into_inner().request.unwrap())
}

async fn call_now_is_refused_on_an_excluded_date_unless_a_person_overrides_it(app: TestApp) {
    // Christmas Day, 10:00 in New York.
    let (app, _clock, acc, ids) = setup(app, "2026-12-25T15:00:00Z", &[NY]).await;
    let christmas = || hours(None, vec![], &["2026-12-25"], vec![]);
    let err = call_now(&app, &acc, ids[0], false, christmas())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("excluded date"), "{}", err.message());
    // The next opening: the 26th at 08:00 local (the default window).
    assert!(
        err.message().contains("2026-12-26T13:00:00Z"),
        "{}",
        err.message()
    );
    assert!(claim_requests(&app, &acc, "w1", 0).await.is_empty());
    let req = call_now(&app, &acc, ids[0], true, christmas())
        .await
        .expect("a person's override");
    assert!(req.window_override);
    assert_eq!(
        claim_requests(&app, &acc, "w1", 0)
            .await
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [req.id]
    );
}

async fn a_call_now_request_is_cancelled_if_its_hours_close_before_a_worker_claims_it(
    app: TestApp,
) {
    // Accepted on the 24th at 10:00 New York; not claimed until the 25th at 10:00, an
    // excluded date of the hours it was accepted under (the default hours are open).
    let (app, clock, acc, ids) = setup(app, "2026-12-24T15:00:00Z", &[NY]).await;
    let christmas = || hours(None, vec![], &["2026-12-25"], vec![]);
    call_now(&app, &acc, ids[0], false, christmas())
        .await
        .expect("accepted on the 24th");
    clock.set(ms_at("2026-12-25T15:00:00Z"));
    assert!(claim_requests(&app, &acc, "w1", 0).await.is_empty());
    // Cancelled, not waiting: the next day it is not handed out either.
    clock.set(ms_at("2026-12-26T15:00:00Z"));
    assert!(claim_requests(&app, &acc, "w1", 0).await.is_empty());
    // A request under the default hours at the same time is handed out.
    clock.set(ms_at("2026-12-25T15:00:00Z"));
    let req = call_now(&app, &acc, ids[0], false, None).await.unwrap();
    assert_eq!(
        claim_requests(&app, &acc, "w1", 0)
            .await
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [req.id]
    );
}

async fn a_callback_due_on_a_closed_day_is_delivered_at_the_next_opening(app: TestApp) {
    // Friday 10:00 New York: the person asks to be called back on Saturday at 11:00.
    let (app, clock, acc, ids) = setup(app, "2026-12-04T15:00:00Z", &[NY]).await;
    let c = ids[0];
    let asked = app
        .client
        .clone()
        .record_call(pb::RecordCallRequest {
            account_id: acc.clone(),
            call: Some(outbound(
                "cb-1",
                c,
                "camp",
                "2026-12-04T15:00:00Z",
                pb::CallOutcome::CallbackRequested,
            )),
            region: String::new(),
            callback: Some(pb::CallbackTime {
                time: Some(pb::callback_time::Time::CallbackTime(ts_at(
                    "2026-12-05T16:00:00Z",
                ))),
                time_zone: String::new(),
            }),
        })
        .await
        .expect("record")
        .into_inner()
        .callback
        .expect("scheduled");
    clock.set(ms_at("2026-12-05T16:00:00Z"));
    assert!(
        claim_ids(&app, &acc, "d1", weekday_rules())
            .await
            .is_empty()
    );
    let callbacks = app
        .client
        .clone()
        .list_callbacks(pb::ListCallbacksRequest {
            account_id: acc.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .callbacks;
    assert_eq!(
        callbacks[0].due_time,
        Some(ts_at("2026-12-07T14:00:00Z")),
        "moved to Monday 09:00"
    );
    clock.set(ms_at("2026-12-07T13:59:00Z"));
    assert!(
        claim_ids(&app, &acc, "d1", weekday_rules())
            .await
            .is_empty()
    );
    clock.set(ms_at("2026-12-07T14:00:00Z"));
    let got = app.claim(&acc, "camp", "d1", 1, weekday_rules()).await;
    assert_eq!(ids_of(&got), [c]);
    assert_eq!(got[0].callback.as_ref().map(|x| x.id), Some(asked.id));
}

async fn bad_calling_rules_are_refused_naming_the_field(app: TestApp) {
    let (app, _clock, acc, ids) = setup(app, "2026-12-07T15:00:00Z", &[NY]).await;
    let mut bad_day = weekdays();
    bad_day[2].start_minute = -1;
    let mut whole_day = weekdays();
    whole_day[0] = day(pb::DayOfWeek::Monday, 0, 1440);
    let cases: Vec<(Option<pb::DialRules>, &str)> = vec![
        (
            hours(None, bad_day, &[], vec![]),
            "rules.weekly[2].start_minute",
        ),
        (
            hours(None, whole_day, &[], vec![]),
            "rules.weekly[0].end_minute",
        ),
        (
            hours(Some((540, 1020)), weekdays(), &[], vec![]),
            "rules.window",
        ),
        (
            hours(None, vec![], &["2026-12-25", "2026-13-01"], vec![]),
            "rules.excluded_dates[1]",
        ),
        (
            hours(None, vec![], &[], vec![region("US-XX", (540, 1020), &[])]),
            "rules.regions[0].region",
        ),
        (
            hours(
                None,
                vec![],
                &[],
                vec![
                    region("DE", (540, 1020), &[]),
                    region("FR", (540, 540), &[]),
                ],
            ),
            "rules.regions[1].window",
        ),
    ];
    for (rules, field) in cases {
        let claim = app
            .client
            .clone()
            .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                account_id: acc.clone(),
                campaign_id: "camp".into(),
                dialer_id: "d1".into(),
                max_contacts: 1,
                lease_seconds: 60,
                rules: rules.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(claim.code(), Code::InvalidArgument, "{field}");
        assert_eq!(violated_fields(&claim), [field]);
        let preview = app
            .client
            .clone()
            .preview_dialable(pb::PreviewDialableRequest {
                account_id: acc.clone(),
                campaign_id: "camp".into(),
                rules: rules.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&preview), [field]);
        let check = app
            .client
            .clone()
            .check_dialable(pb::CheckDialableRequest {
                account_id: acc.clone(),
                contact_id: ids[0],
                rules: rules.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&check), [field]);
        let now = call_now(&app, &acc, ids[0], false, rules)
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&now), [field]);
    }
    // Nothing was leased or requested by the refused requests.
    assert_eq!(claim_ids(&app, &acc, "d1", weekday_rules()).await, ids);
}
