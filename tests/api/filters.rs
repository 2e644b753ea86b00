//! ListContacts filters that need calls, campaigns and DNC to exist: status, campaign,
//! last-called range and never called.

use crate::helpers::{TestApp, ms_at, outbound, ts_at};
use contactd::pb;

both!(
    list_filters_by_dnc_status,
    list_filters_by_campaign,
    list_filters_by_last_called_range_and_never_called,
);

async fn three(app: &TestApp, acc: &str) -> [i64; 3] {
    let a = app.contact(acc, "+12122345670", "a").await.id;
    let b = app.contact(acc, "+12122345671", "b").await.id;
    let c = app.contact(acc, "+12122345672", "c").await.id;
    [a, b, c]
}

async fn list_filters_by_dnc_status(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let [_, b, _] = three(&app, &acc).await;
    app.mark_dnc(&acc, &[b], &[], pb::DncSource::Manual).await;
    let status = |s: pb::ContactStatus| pb::ContactFilter {
        status: s as i32,
        ..Default::default()
    };
    assert_eq!(
        app.first_names(&acc, status(pb::ContactStatus::Dnc)).await,
        ["b"]
    );
    assert_eq!(
        app.first_names(&acc, status(pb::ContactStatus::Active))
            .await,
        ["a", "c"]
    );
}

async fn list_filters_by_campaign(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let [a, _, c] = three(&app, &acc).await;
    app.add_to_campaign(&acc, "spring", &[a, c]).await;
    app.add_to_campaign(&acc, "fall", &[c]).await;
    let campaign = |id: &str| pb::ContactFilter {
        campaign_id: id.into(),
        ..Default::default()
    };
    assert_eq!(app.first_names(&acc, campaign("spring")).await, ["a", "c"]);
    assert_eq!(app.first_names(&acc, campaign("fall")).await, ["c"]);
    assert!(app.first_names(&acc, campaign("none")).await.is_empty());
    let got = app.get_contact(&acc, c).await;
    assert_eq!(got.campaign_ids, ["fall", "spring"]);
    let listed = app.list_all(&acc, campaign("fall")).await;
    assert!(
        listed[0].campaign_ids.is_empty(),
        "ListContacts items leave campaign_ids empty, as the proto says: {:?}",
        listed[0].campaign_ids
    );
}

async fn list_filters_by_last_called_range_and_never_called(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let [a, b, _] = three(&app, &acc).await;
    app.record_call(
        &acc,
        outbound(
            "1",
            a,
            "",
            "2026-03-01T10:00:00Z",
            pb::CallOutcome::Answered,
        ),
    )
    .await
    .unwrap();
    app.record_call(
        &acc,
        outbound("2", b, "", "2026-03-05T10:00:00Z", pb::CallOutcome::Busy),
    )
    .await
    .unwrap();
    let range = |after: Option<&str>, before: Option<&str>| pb::ContactFilter {
        last_called_after: after.map(ts_at),
        last_called_before: before.map(ts_at),
        ..Default::default()
    };
    assert_eq!(
        app.first_names(
            &acc,
            range(Some("2026-03-01T10:00:00Z"), Some("2026-03-05T10:00:00Z"))
        )
        .await,
        ["a"],
        "after is inclusive, before exclusive"
    );
    assert_eq!(
        app.first_names(&acc, range(Some("2026-03-02T00:00:00Z"), None))
            .await,
        ["b"]
    );
    assert_eq!(
        app.first_names(&acc, range(None, Some("2026-03-02T00:00:00Z")))
            .await,
        ["a"]
    );
    let never = pb::ContactFilter {
        never_called: true,
        ..Default::default()
    };
    assert_eq!(app.first_names(&acc, never).await, ["c"]);
}
