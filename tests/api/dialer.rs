//! The dialer's feed: leases, eligibility (DNC, attempts, spacing, calling windows across
//! time zones), concurrent dialers on two servers, the stream, Call Now and templates.

use crate::helpers::{TestApp, any_hour, clock_at, ids, ms_at, outbound, rules};
use contactd::domain::clock::FixedClock;
use contactd::pb;
use contactd::pb::contact_selection::Selection;
use std::collections::{BTreeMap, HashSet};
use tonic::Code;

both!(
    a_claim_leases_each_contact_to_one_dialer_until_the_lease_ends,
    a_claimed_contact_carries_every_stored_field,
    dnc_contact_is_never_claimed_by_a_dialer,
    attempts_and_retry_spacing_limit_claims,
    calling_windows_follow_each_contacts_local_time,
    concurrent_dialers_on_two_servers_never_receive_the_same_contact,
    the_stream_feeds_batches_of_leased_contacts,
    released_leases_can_be_claimed_again,
    a_claim_that_wraps_around_reads_up_to_and_including_where_it_began,
    a_lease_is_never_dated_before_the_give_back_of_the_one_before,
    a_lease_is_never_dated_before_the_dnc_mark_that_ended_the_one_before,
    check_dialable_explains_unknown_and_non_member,
    a_claim_for_an_account_that_does_not_exist_is_not_found,
    membership_counts_dnc_refusals_and_repeats,
    membership_by_filter_counts_matched_changed_and_skipped,
    more_than_10000_ids_is_resource_exhausted_for_campaigns_and_dnc,
    call_now_refuses_a_dnc_contact,
    a_call_request_is_claimed_once_and_done_when_the_call_is_recorded,
    a_call_request_whose_contact_became_dnc_is_dropped,
    a_waiting_claim_receives_a_request_made_while_it_waits,
    templates_substitute_fields_with_fallbacks,
);

/// A window open at any hour the test runs at (see `any_hour`).
fn all_day() -> Option<pb::DialRules> {
    Some(rules(0, 0, any_hour()))
}

fn ids_of(batch: &[pb::DialableContact]) -> Vec<i64> {
    batch
        .iter()
        .map(|d| d.contact.as_ref().unwrap().id)
        .collect()
}

/// `n` New York contacts (+1 212) in campaign "camp".
async fn members(app: &TestApp, acc: &str, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for i in 0..n {
        let c = app
            .contact(acc, &format!("+1212{:07}", 2_000_000 + i), "X")
            .await;
        out.push(c.id);
    }
    app.add_to_campaign(acc, "camp", &out).await;
    out
}

/// The claim's first read brings the account's rules with the candidates: an account
/// that is not there is NOT_FOUND by name, not an empty batch.
async fn a_claim_for_an_account_that_does_not_exist_is_not_found(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    members(&app, &acc, 2).await;
    let err = app
        .client
        .clone()
        .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
            account_id: "acct_nobody".into(),
            campaign_id: "camp".into(),
            dialer_id: "d1".into(),
            max_contacts: 5,
            rules: all_day(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains("acct_nobody"), "{err:?}");
    // The real account's members were not touched.
    assert_eq!(app.claim(&acc, "camp", "d1", 5, all_day()).await.len(), 2);
}

async fn a_claim_leases_each_contact_to_one_dialer_until_the_lease_ends(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let all = members(&app, &acc, 3).await;
    let first = app.claim(&acc, "camp", "d1", 2, None).await;
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].attempts, 0);
    assert_eq!(first[0].time_zone, "America/New_York");
    assert_eq!(
        first[0].lease_expire_time.as_ref().unwrap().seconds * 1000,
        ms_at("2026-03-02T18:01:00Z")
    );
    let second = app.claim(&acc, "camp", "d2", 10, None).await;
    assert_eq!(second.len(), 1);
    let mut got: Vec<i64> = ids_of(&first).into_iter().chain(ids_of(&second)).collect();
    got.sort();
    assert_eq!(got, all);
    assert!(app.claim(&acc, "camp", "d3", 10, None).await.is_empty());
    let held = app.check_dialable(&acc, all[0], "camp", "d3", None).await;
    assert_eq!(held.reason, pb::NotDialableReason::Leased as i32);

    clock.advance_ms(60_000);
    // Campaign defaults, the account's frequency rules (the expired leases' dials count
    // for those) let through.
    let defaults = Some(rules(0, 0, (0, 0)));
    assert_eq!(app.claim(&acc, "camp", "d3", 10, defaults).await.len(), 3);
}

/// The dialer reads the agent's fields from the claim itself: every field as GetContact
/// shows it (membership aside), call statistics included.
async fn a_claimed_contact_carries_every_stored_field(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let stored = app
        .try_contact(
            pb::ContactInput {
                phone: "+12125550123".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@example.com".into(),
                company: "Engines Ltd".into(),
                title: "Analyst".into(),
                custom_fields: [("plan", "gold"), ("pet", "cat")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
                time_zone: "America/Chicago".into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    app.add_to_campaign(&acc, "camp", &[stored.id]).await;
    let call = outbound(
        "x1",
        stored.id,
        "camp",
        "2026-03-02T18:00:00Z",
        pb::CallOutcome::NoAnswer,
    );
    app.record_call(&acc, call).await.unwrap();
    clock.advance_ms(3_600_000); // the campaign's default retry spacing
    let claimed = app
        .claim(&acc, "camp", "d1", 10, Some(rules(5, 0, any_hour())))
        .await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].time_zone, "America/Chicago");
    let mut expected = app.get_contact(&acc, stored.id).await;
    assert_eq!(expected.call_stats.as_ref().unwrap().call_count, 1);
    expected.campaign_ids.clear();
    assert_eq!(claimed[0].contact.as_ref(), Some(&expected));
}

async fn dnc_contact_is_never_claimed_by_a_dialer(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let all = members(&app, &acc, 3).await;
    app.mark_dnc(&acc, &[all[1]], &[], pb::DncSource::Api).await;
    // By number too, even with no contact action.
    app.mark_dnc(&acc, &[], &["+12122000002"], pb::DncSource::Manual)
        .await;
    let mut claimed = HashSet::new();
    for _ in 0..3 {
        claimed.extend(ids_of(&app.claim(&acc, "camp", "d1", 10, None).await));
        clock.advance_ms(3_600_000);
    }
    assert_eq!(claimed, HashSet::from([all[0]]));
    let check = app.check_dialable(&acc, all[2], "camp", "d1", None).await;
    assert_eq!(check.reason, pb::NotDialableReason::Dnc as i32);
}

async fn attempts_and_retry_spacing_limit_claims(app: TestApp) {
    let clock = clock_at("2026-03-02T15:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let id = members(&app, &acc, 1).await[0];
    let r = Some(rules(2, 1800, any_hour()));
    for attempt in 0..2 {
        let got = app.claim(&acc, "camp", "d1", 1, r.clone()).await;
        assert_eq!(ids_of(&got), [id], "attempt {attempt}");
        assert_eq!(got[0].attempts, attempt);
        let now = clock.now_rfc3339();
        app.record_call(
            &acc,
            outbound(
                &format!("call-{attempt}"),
                id,
                "camp",
                &now,
                pb::CallOutcome::NoAnswer,
            ),
        )
        .await
        .unwrap();
        // The recorded call ended the lease, but spacing holds it back.
        assert!(app.claim(&acc, "camp", "d2", 1, r.clone()).await.is_empty());
        let check = app.check_dialable(&acc, id, "camp", "d2", r.clone()).await;
        let expected = if attempt == 0 {
            pb::NotDialableReason::RetrySpacing
        } else {
            pb::NotDialableReason::AttemptsExhausted
        };
        assert_eq!(check.reason, expected as i32, "attempt {attempt}");
        clock.advance_ms(1_799_000);
        assert!(app.claim(&acc, "camp", "d2", 1, r.clone()).await.is_empty());
        clock.advance_ms(1_000);
    }
    assert!(
        app.claim(&acc, "camp", "d2", 1, r.clone()).await.is_empty(),
        "2 attempts max"
    );
    let preview = app
        .client
        .clone()
        .preview_dialable(pb::PreviewDialableRequest {
            account_id: acc.clone(),
            campaign_id: "camp".into(),
            rules: r,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((preview.members, preview.attempts_exhausted), (1, 1));
}

trait Rfc {
    fn now_rfc3339(&self) -> String;
}

impl Rfc for contactd::domain::clock::FixedClock {
    fn now_rfc3339(&self) -> String {
        use contactd::domain::Clock;
        chrono::DateTime::from_timestamp_millis(self.now_ms())
            .unwrap()
            .to_rfc3339()
    }
}

async fn calling_windows_follow_each_contacts_local_time(app: TestApp) {
    // 15:00Z on a winter Monday: New York 10:00, Los Angeles 07:00, London 15:00,
    // Tokyo 00:00, Honolulu 05:00.
    let clock = clock_at("2026-03-02T15:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let mut by_name = std::collections::HashMap::new();
    for (name, phone, tz) in [
        ("ny", "+12122345678", ""),
        ("la", "+12132345678", ""),
        ("london", "+442079460018", ""),
        ("tokyo", "+81312345678", ""),
        ("la-number-in-paris", "+13102345678", "Europe/Paris"),
        ("florida-panhandle", "+18502345678", ""),
    ] {
        let c = app
            .try_contact(
                pb::ContactInput {
                    phone: phone.into(),
                    first_name: name.into(),
                    time_zone: tz.into(),
                    ..Default::default()
                },
                &acc,
            )
            .await
            .unwrap();
        by_name.insert(name, c.id);
    }
    let all: Vec<i64> = by_name.values().copied().collect();
    app.add_to_campaign(&acc, "camp", &all).await;

    let names = |batch: Vec<pb::DialableContact>| {
        let mut v: Vec<String> = batch
            .into_iter()
            .map(|d| d.contact.unwrap().first_name)
            .collect();
        v.sort();
        v
    };
    let got = names(app.claim(&acc, "camp", "d1", 10, None).await);
    assert_eq!(got, ["la-number-in-paris", "london", "ny"]);
    let la = app.check_dialable(&acc, by_name["la"], "", "", None).await;
    assert_eq!(la.reason, pb::NotDialableReason::OutsideWindow as i32);
    assert!(la.detail.contains("Los_Angeles"), "{}", la.detail);
    // 850 straddles two zones: the window must hold in every US zone (Honolulu 05:00).
    let fl = app
        .check_dialable(&acc, by_name["florida-panhandle"], "", "", None)
        .await;
    assert_eq!(fl.reason, pb::NotDialableReason::OutsideWindow as i32);

    // 20:00Z (the first leases have ended): Los Angeles 12:00, Honolulu 10:00, London
    // 20:00; Paris 21:00 is past the window's exclusive end; Tokyo 05:00.
    clock.set(ms_at("2026-03-02T20:00:00Z"));
    let got = names(app.claim(&acc, "camp", "d2", 10, None).await);
    assert_eq!(got, ["florida-panhandle", "la", "london", "ny"]);

    // A narrower window given with the request: 09:00-10:00 local.
    let narrow = Some(rules(0, 0, (540, 600)));
    clock.set(ms_at("2026-03-03T00:30:00Z")); // Tokyo 09:30
    let got = names(app.claim(&acc, "camp", "d3", 10, narrow).await);
    assert_eq!(got, ["tokyo"]);
}

async fn concurrent_dialers_on_two_servers_never_receive_the_same_contact(app: TestApp) {
    let replica = app.replica().await;
    let acc = app.account(pb::Plan::Professional).await;
    let all: HashSet<i64> = members(&app, &acc, 240).await.into_iter().collect();
    let mut tasks = Vec::new();
    for d in 0..8 {
        let mut client = if d % 2 == 0 {
            app.new_client().await
        } else {
            replica.new_client().await
        };
        let acc = acc.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = client
                    .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                        account_id: acc.clone(),
                        campaign_id: "camp".into(),
                        dialer_id: format!("dialer-{d}"),
                        max_contacts: 7,
                        lease_seconds: 600,
                        rules: all_day(),
                    })
                    .await
                    .expect("claim")
                    .into_inner()
                    .contacts;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(ids_of(&batch));
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id), "contact {id} handed out twice");
        }
    }
    assert_eq!(seen, all, "every member was handed out once");
}

fn stream_claim(
    acc: &str,
    dialer: &str,
    max: i32,
    rules: Option<pb::DialRules>,
) -> pb::ClaimDialableContactsRequest {
    pb::ClaimDialableContactsRequest {
        account_id: acc.into(),
        campaign_id: "camp".into(),
        dialer_id: dialer.into(),
        max_contacts: max,
        lease_seconds: 600,
        rules,
    }
}

async fn the_stream_feeds_batches_of_leased_contacts(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let all: HashSet<i64> = members(&app, &acc, 5).await.into_iter().collect();
    let mut stream = app
        .open_stream(stream_claim(&acc, "streamer", 2, all_day()), 5, 50)
        .await
        .unwrap();
    let mut seen = HashSet::new();
    while seen.len() < all.len() {
        let batch = stream.next().await.expect("stream open").unwrap();
        assert!(!batch.is_empty() && batch.len() <= 2);
        for id in ids_of(&batch) {
            assert!(seen.insert(id), "{id} twice");
        }
    }
    assert_eq!(seen, all);
    drop(stream);
    assert!(
        app.claim(&acc, "camp", "other", 10, all_day())
            .await
            .is_empty()
    );
}

async fn released_leases_can_be_claimed_again(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    members(&app, &acc, 3).await;
    let got = ids_of(&app.claim(&acc, "camp", "d1", 3, all_day()).await);
    assert_eq!(got.len(), 3);
    let released = app.release_leases(&acc, "d1", &[got[0]], &[]).await;
    assert_eq!(released, 1);
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d2", 3, all_day()).await),
        [got[0]]
    );
}

/// A claim reads from where the replica's last scan stopped to the end, then from the
/// start up to and including where it began (each member once): a give-back of the
/// member the last scan stopped at is found by the second pass.
async fn a_claim_that_wraps_around_reads_up_to_and_including_where_it_began(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let all = members(&app, &acc, 3).await;
    // The scan stops at the last member leased.
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d1", 3, all_day()).await),
        all
    );
    let released = app.release_leases(&acc, "d1", &[all[2]], &[]).await;
    assert_eq!(released, 1);
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d2", 2, all_day()).await),
        [all[2]]
    );
    assert!(app.claim(&acc, "camp", "d3", 2, all_day()).await.is_empty());
}

/// One member leased to "d1" at t (the returned ms) on a server whose clock then stands
/// at t + 5 s, where the tests below end the lease.
async fn leased_to_d1_until_5_s(app: TestApp) -> (TestApp, FixedClock, String, Vec<i64>, i64) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let all = members(&app, &acc, 1).await;
    let t = ms_at("2026-03-02T18:00:00Z");
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d1", 1, all_day()).await),
        all
    );
    clock.set(t + 5_000);
    (app, clock, acc, all, t)
}

/// A claim dates its leases from the instant it read the clock; on a loaded server it may
/// then wait (for a pooled connection, for the processor) while another dialer gives the
/// same person back. Such a claim must not lease the person: its lease would be dated
/// before the give-back, overlapping the lease given back (the interleaving checker's
/// "two leases on a person", PostgreSQL, seed 11400713039849422967). The clock set back
/// stands for that claim's earlier instant.
async fn a_lease_is_never_dated_before_the_give_back_of_the_one_before(app: TestApp) {
    let (app, clock, acc, all, t) = leased_to_d1_until_5_s(app).await;
    let released = app.release_leases(&acc, "d1", &all, &[]).await;
    assert_eq!(released, 1);
    clock.set(t + 2_000);
    assert!(
        app.claim(&acc, "camp", "d2", 1, all_day()).await.is_empty(),
        "a lease from before the give-back"
    );
    clock.set(t + 5_000);
    let got = app.claim(&acc, "camp", "d2", 1, all_day()).await;
    assert_eq!(ids_of(&got), all);
    assert_eq!(got[0].lease_id, format!("{}:{}", all[0], t + 5_000));
}

/// The same for a lease a DNC mark revoked: after the number is cleared, a claim whose
/// instant is before the mark does not lease the person.
async fn a_lease_is_never_dated_before_the_dnc_mark_that_ended_the_one_before(app: TestApp) {
    let (app, clock, acc, all, t) = leased_to_d1_until_5_s(app).await;
    app.mark_dnc(&acc, &all, &[], pb::DncSource::Manual).await;
    app.client
        .clone()
        .clear_dnc(pb::ClearDncRequest {
            account_id: acc.clone(),
            targets: Some(pb::DncTargets {
                selection: ids(&all),
                ..Default::default()
            }),
            reason: "opted back in".into(),
            actor: "ops".into(),
        })
        .await
        .expect("clear dnc");
    clock.set(t + 2_000);
    assert!(
        app.claim(&acc, "camp", "d2", 1, all_day()).await.is_empty(),
        "a lease from before the DNC mark"
    );
    clock.set(t + 5_000);
    assert_eq!(
        ids_of(&app.claim(&acc, "camp", "d2", 1, all_day()).await),
        all
    );
}

async fn check_dialable_explains_unknown_and_non_member(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let unknown = app.check_dialable(&acc, 424_242, "", "", all_day()).await;
    assert!(!unknown.dialable);
    assert_eq!(unknown.reason, pb::NotDialableReason::Unknown as i32);
    let outside = app.check_dialable(&acc, c.id, "camp", "", all_day()).await;
    assert_eq!(outside.reason, pb::NotDialableReason::NotInCampaign as i32);
    let ok = app.check_dialable(&acc, c.id, "", "", all_day()).await;
    assert!(ok.dialable);
    let by_phone = app
        .client
        .clone()
        .check_dialable(pb::CheckDialableRequest {
            account_id: acc.clone(),
            phone: "+97699112233".into(),
            rules: all_day(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_phone.reason,
        pb::NotDialableReason::Unknown as i32,
        "a country without a known zone is never dialable"
    );
}

async fn membership_counts_dnc_refusals_and_repeats(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let a = app.contact(&acc, "+12122345678", "A").await.id;
    let b = app.contact(&acc, "+12122345679", "B").await.id;
    app.mark_dnc(&acc, &[b], &[], pb::DncSource::Manual).await;
    let r = app.add_to_campaign(&acc, "camp", &[a, b, 777_777]).await;
    let skip = |r: &pb::BulkResult, reason: &str| {
        r.skipped
            .iter()
            .find(|s| s.reason == reason)
            .map_or(0, |s| s.count)
    };
    assert_eq!((r.matched, r.changed), (2, 1));
    assert_eq!(skip(&r, "dnc_refused"), 1);
    assert_eq!(skip(&r, "not_found"), 1);
    let again = app.add_to_campaign(&acc, "camp", &[a]).await;
    assert_eq!((again.changed, skip(&again, "already_member")), (0, 1));

    let removed = app
        .remove_from_campaign(&acc, "camp", crate::helpers::ids(&[a, b]))
        .await;
    assert_eq!((removed.changed, skip(&removed, "not_member")), (1, 1));
}

/// Skipped counts by reason.
fn skips(r: &pb::BulkResult) -> BTreeMap<&str, i64> {
    r.skipped
        .iter()
        .map(|s| (s.reason.as_str(), s.count))
        .collect()
}

async fn membership_by_filter_counts_matched_changed_and_skipped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let _smith = app.contact(&acc, "+12122345670", "Smith").await.id;
    let smithers = app.contact(&acc, "+12122345671", "Smithers").await.id;
    let smithson = app.contact(&acc, "+12122345672", "Smithson").await.id;
    let jones = app.contact(&acc, "+12122345673", "Jones").await.id;
    app.mark_dnc(&acc, &[smithers], &[], pb::DncSource::Manual)
        .await;
    app.add_to_campaign(&acc, "camp", &[smithson, jones]).await;
    let smiths = || {
        Some(pb::ContactSelection {
            selection: Some(Selection::Filter(pb::ContactFilter {
                query: "smith".into(),
                ..Default::default()
            })),
        })
    };
    let members = pb::ContactFilter {
        campaign_id: "camp".into(),
        ..Default::default()
    };

    let added = app.add_selection_to_campaign(&acc, "camp", smiths()).await;
    assert_eq!((added.matched, added.changed), (3, 1), "{added:?}");
    assert_eq!(
        skips(&added),
        BTreeMap::from([("already_member", 1), ("dnc_refused", 1)])
    );
    assert_eq!(
        app.first_names(&acc, members.clone()).await,
        ["Jones", "Smith", "Smithson"]
    );

    let removed = app.remove_from_campaign(&acc, "camp", smiths()).await;
    assert_eq!((removed.matched, removed.changed), (3, 2), "{removed:?}");
    assert_eq!(skips(&removed), BTreeMap::from([("not_member", 1)]));
    assert_eq!(app.first_names(&acc, members).await, ["Jones"]);
}

/// AddToCampaign, RemoveFromCampaign, MarkDnc and ClearDnc take at most 10,000 ids: more
/// is refused naming the field and the cap, before anything changes.
async fn more_than_10000_ids_is_resource_exhausted_for_campaigns_and_dnc(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let member = app.contact(&acc, "+12122345678", "Member").await.id;
    let dnc = app.contact(&acc, "+12122345679", "Dnc").await.id;
    app.add_to_campaign(&acc, "camp", &[member]).await;
    app.mark_dnc(&acc, &[dnc], &[], pb::DncSource::Manual).await;
    let mut too_many = vec![member, dnc];
    too_many.extend(1_000_000..1_009_999);
    assert_eq!(too_many.len(), 10_001);
    let selection = || crate::helpers::ids(&too_many);
    let targets = || {
        Some(pb::DncTargets {
            selection: selection(),
            ..Default::default()
        })
    };
    for rpc in ["AddToCampaign", "RemoveFromCampaign", "MarkDnc", "ClearDnc"] {
        let mut client = app.client.clone();
        let (field, result) = match rpc {
            "AddToCampaign" => (
                "selection.ids",
                client
                    .add_to_campaign(pb::AddToCampaignRequest {
                        account_id: acc.clone(),
                        campaign_id: "other".into(),
                        selection: selection(),
                    })
                    .await
                    .map(drop),
            ),
            "RemoveFromCampaign" => (
                "selection.ids",
                client
                    .remove_from_campaign(pb::RemoveFromCampaignRequest {
                        account_id: acc.clone(),
                        campaign_id: "camp".into(),
                        selection: selection(),
                    })
                    .await
                    .map(drop),
            ),
            "MarkDnc" => (
                "targets.selection.ids",
                client
                    .mark_dnc(pb::MarkDncRequest {
                        account_id: acc.clone(),
                        targets: targets(),
                        source: pb::DncSource::Manual as i32,
                        reason: String::new(),
                        actor: "ops".into(),
                    })
                    .await
                    .map(drop),
            ),
            _ => (
                "targets.selection.ids",
                client
                    .clear_dnc(pb::ClearDncRequest {
                        account_id: acc.clone(),
                        targets: targets(),
                        reason: String::new(),
                        actor: "ops".into(),
                    })
                    .await
                    .map(drop),
            ),
        };
        let err = result.expect_err(rpc);
        assert_eq!(err.code(), Code::ResourceExhausted, "{rpc}: {err:?}");
        assert!(
            err.message().contains(field) && err.message().contains("cap of 10000"),
            "{rpc}: {}",
            err.message()
        );
    }
    let (m, d) = (
        app.get_contact(&acc, member).await,
        app.get_contact(&acc, dnc).await,
    );
    assert_eq!(m.status(), pb::ContactStatus::Active, "not marked DNC");
    assert_eq!(m.campaign_ids, ["camp"], "neither added nor removed");
    assert_eq!(d.status(), pb::ContactStatus::Dnc, "not cleared");
}

async fn call_now(app: &TestApp, acc: &str, id: i64) -> Result<pb::CallRequest, tonic::Status> {
    app.client
        .clone()
        .call_now(pb::CallNowRequest {
            account_id: acc.into(),
            contact_id: id,
            requested_by: "agent-7".into(),
            // The window has tests of its own; these run at any hour.
            override_calling_window: true,
            rules: None,
        })
        .await
        .map(|r| r.into_inner().request.unwrap())
}

/// ClaimCallRequests of up to 10 requests, leased for 60 s (shared with the calling
/// rules' tests).
pub(crate) async fn claim_requests(
    app: &TestApp,
    acc: &str,
    worker: &str,
    wait_ms: i32,
) -> Vec<pb::CallRequest> {
    app.client
        .clone()
        .claim_call_requests(pb::ClaimCallRequestsRequest {
            account_id: acc.into(),
            worker_id: worker.into(),
            max_requests: 10,
            lease_seconds: 60,
            wait_ms,
        })
        .await
        .expect("claim call requests")
        .into_inner()
        .requests
}

async fn call_now_refuses_a_dnc_contact(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    app.mark_dnc(&acc, &[c.id], &[], pb::DncSource::Manual)
        .await;
    let err = call_now(&app, &acc, c.id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(claim_requests(&app, &acc, "w1", 0).await.is_empty());
}

async fn a_call_request_is_claimed_once_and_done_when_the_call_is_recorded(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let req = call_now(&app, &acc, c.id).await.unwrap();
    assert_eq!(req.phone, "+12122345678");
    assert_eq!(
        call_now(&app, &acc, c.id).await.unwrap().id,
        req.id,
        "a double click"
    );

    let got = claim_requests(&app, &acc, "w1", 0).await;
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [req.id]);
    assert!(got[0].lease_expire_time.is_some());
    assert!(
        claim_requests(&app, &acc, "w2", 0).await.is_empty(),
        "leased"
    );

    // An expired lease makes it claimable again; a recorded call closes it for good.
    clock.advance_ms(61_000);
    assert_eq!(claim_requests(&app, &acc, "w2", 0).await.len(), 1);
    app.record_call(
        &acc,
        outbound(
            "now-1",
            c.id,
            "",
            "2026-03-02T18:01:00Z",
            pb::CallOutcome::Answered,
        ),
    )
    .await
    .unwrap();
    clock.advance_ms(61_000);
    assert!(claim_requests(&app, &acc, "w3", 0).await.is_empty());
}

async fn a_call_request_whose_contact_became_dnc_is_dropped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    call_now(&app, &acc, c.id).await.unwrap();
    app.mark_dnc(&acc, &[], &["+12122345678"], pb::DncSource::Api)
        .await;
    assert!(claim_requests(&app, &acc, "w1", 0).await.is_empty());
}

async fn a_waiting_claim_receives_a_request_made_while_it_waits(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+12122345678", "Ann").await;
    let mut client = app.new_client().await;
    let acc2 = acc.clone();
    let waiting = tokio::spawn(async move {
        client
            .claim_call_requests(pb::ClaimCallRequestsRequest {
                account_id: acc2,
                worker_id: "w1".into(),
                max_requests: 1,
                lease_seconds: 60,
                wait_ms: 20_000,
            })
            .await
            .unwrap()
            .into_inner()
            .requests
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let req = call_now(&app, &acc, c.id).await.unwrap();
    let got = waiting.await.unwrap();
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [req.id]);
}

async fn templates_substitute_fields_with_fallbacks(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app
        .try_contact(
            pb::ContactInput {
                phone: "+12122345678".into(),
                company: "Acme".into(),
                custom_fields: [("Pet".to_string(), "Rex".to_string())].into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    let render = |template: &str| pb::RenderTemplateRequest {
        account_id: acc.clone(),
        contact_id: c.id,
        template: template.into(),
    };
    let text = app
        .client
        .clone()
        .render_template(render(
            "Hi [first_name|there], this is about [company] and [Pet]. [last_name][Notes|]",
        ))
        .await
        .unwrap()
        .into_inner()
        .text;
    assert_eq!(text, "Hi there, this is about Acme and Rex. ");
    let err = app
        .client
        .clone()
        .render_template(render("Hi [frist_name] from [compnay]"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("[frist_name]"), "{}", err.message());
    assert!(err.message().contains("[compnay]"), "{}", err.message());
}
