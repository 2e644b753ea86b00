//! Named DNC lists: their lifecycle, ImportDncList in each format, expiry, replacing and
//! deleting (which never touches manual or call-request entries), CheckDnc naming the
//! list, and the dialer never handing out a number a live list entry holds.

use crate::helpers::{TestApp, clock_at, rules, ts_at, violated_fields};
use contactd::pb;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tonic::Code;

both!(
    dnc_lists_are_created_listed_renamed_and_deleted,
    a_plain_file_is_imported_with_counts_and_the_lines_of_bad_numbers,
    registry_files_are_read_as_they_come,
    a_csv_column_with_row_expiries_blocks_until_each_rows_time,
    an_import_with_a_seen_request_id_returns_the_stored_result,
    replacing_or_deleting_a_list_never_removes_manual_entries,
    a_listed_number_is_not_dialable_and_dials_again_once_its_entry_expired,
    a_dnc_list_imported_while_a_dialer_claims_never_lets_a_listed_number_through,
    bad_import_options_are_invalid_argument_naming_the_field_and_store_nothing,
);

pub(crate) fn options(
    acc: &str,
    name: &str,
    format: pb::DncFileFormat,
) -> pb::ImportDncListOptions {
    pb::ImportDncListOptions {
        account_id: acc.into(),
        list_name: name.into(),
        format: format as i32,
        ..Default::default()
    }
}

/// ImportDncList of `file` sent in chunks of `chunk` bytes.
pub(crate) async fn import(
    app: &TestApp,
    o: pb::ImportDncListOptions,
    file: &[u8],
    chunk: usize,
) -> Result<pb::DncListImport, tonic::Status> {
    use pb::import_dnc_list_request::Payload;
    let mut messages = vec![pb::ImportDncListRequest {
        payload: Some(Payload::Options(o)),
    }];
    messages.extend(file.chunks(chunk).map(|c| pb::ImportDncListRequest {
        payload: Some(Payload::Chunk(c.to_vec())),
    }));
    Ok(app
        .client
        .clone()
        .import_dnc_list(tokio_stream::iter(messages))
        .await?
        .into_inner()
        .result
        .unwrap())
}

async fn create_list(app: &TestApp, acc: &str, name: &str) -> Result<pb::DncList, tonic::Status> {
    Ok(app
        .client
        .clone()
        .create_dnc_list(pb::CreateDncListRequest {
            account_id: acc.into(),
            list: Some(pb::DncList {
                name: name.into(),
                source: "CRM opt-outs".into(),
                description: "exported weekly".into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .list
        .unwrap())
}

async fn get_list(app: &TestApp, acc: &str, id: i64) -> Result<pb::DncList, tonic::Status> {
    Ok(app
        .client
        .clone()
        .get_dnc_list(pb::GetDncListRequest {
            account_id: acc.into(),
            list_id: id,
        })
        .await?
        .into_inner()
        .list
        .unwrap())
}

async fn delete_list(app: &TestApp, acc: &str, id: i64) -> pb::DeleteDncListResponse {
    app.client
        .clone()
        .delete_dnc_list(pb::DeleteDncListRequest {
            account_id: acc.into(),
            list_id: id,
        })
        .await
        .expect("delete list")
        .into_inner()
}

async fn dnc_lists_are_created_listed_renamed_and_deleted(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let other = app.account(pb::Plan::Professional).await;
    let a = create_list(&app, &acc, "opt-outs").await.unwrap();
    assert_eq!(
        (a.name.as_str(), a.source.as_str()),
        ("opt-outs", "CRM opt-outs")
    );
    let taken = create_list(&app, &acc, "opt-outs").await.unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    // Names are per account.
    create_list(&app, &other, "opt-outs").await.unwrap();
    let blank = create_list(&app, &acc, "  ").await.unwrap_err();
    assert_eq!(violated_fields(&blank), ["list.name"]);
    let b = create_list(&app, &acc, "purchased").await.unwrap();

    let page = app
        .client
        .clone()
        .list_dnc_lists(pb::ListDncListsRequest {
            account_id: acc.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.lists.iter().map(|l| l.id).collect::<Vec<_>>(), [b.id]);
    assert!(!page.next_page_token.is_empty());

    let renamed = app
        .client
        .clone()
        .update_dnc_list(pb::UpdateDncListRequest {
            account_id: acc.clone(),
            list: Some(pb::DncList {
                id: a.id,
                name: "CRM opt-outs 2026".into(),
                source: "ignored: not in the mask".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .list
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.source.as_str()),
        ("CRM opt-outs 2026", "CRM opt-outs")
    );
    // Another account's list is not found, whatever the id.
    let foreign = get_list(&app, &other, a.id).await.unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);

    let deleted = delete_list(&app, &acc, b.id).await;
    assert_eq!(deleted.entries_removed, 0);
    assert_eq!(
        get_list(&app, &acc, b.id).await.unwrap_err().code(),
        Code::NotFound
    );
}

async fn a_plain_file_is_imported_with_counts_and_the_lines_of_bad_numbers(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    let file = "\u{feff}(415) 555-2671\r\n\
                \r\n\
                +1 212 234 5678\n\
                banana\n\
                415.555.2671\n\
                +44 20 7946 0000\n\
                12\n";
    // Chunks of 5 bytes cut numbers and line ends in two.
    let r = import(
        &app,
        options(&acc, "crm", pb::DncFileFormat::Plain),
        file.as_bytes(),
        5,
    )
    .await
    .unwrap();
    assert_eq!((r.read, r.added, r.already_listed, r.invalid), (6, 3, 1, 2));
    assert_eq!(
        r.invalid_lines.iter().map(|l| l.line).collect::<Vec<_>>(),
        [4, 7]
    );
    assert_eq!(r.status, "completed");

    let s = app.check_dnc_one(&acc, "+14155552671").await;
    assert!(s.dnc);
    assert_eq!(
        s.source,
        pb::DncSource::Unspecified as i32,
        "no manual entry"
    );
    assert_eq!(s.lists.len(), 1);
    assert_eq!(
        (s.lists[0].list_id, s.lists[0].list_name.as_str()),
        (r.list_id, "crm")
    );
    assert!(s.lists[0].expire_time.is_none());
    assert!(app.check_dnc_one(&acc, "+442079460000").await.dnc);
    assert!(!app.check_dnc_one(&acc, "+14155552672").await.dnc);
    assert_eq!(
        get_list(&app, &acc, r.list_id).await.unwrap().entry_count,
        3
    );
    // The contact is not DNC by status (only the manual/call list sets that), but it
    // cannot be dialed or called.
    let call_now = app
        .client
        .clone()
        .call_now(pb::CallNowRequest {
            account_id: acc.clone(),
            contact_id: c.id,
            requested_by: "ann@example.com".into(),
            override_calling_window: true,
            rules: None,
        })
        .await
        .unwrap_err();
    assert_eq!(call_now.code(), Code::FailedPrecondition);
}

async fn registry_files_are_read_as_they_come(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "2015550123\n201,5550124\n1015550125\n2015550123\n";
    let mut o = options(&acc, "national registry", pb::DncFileFormat::Registry);
    o.region = "DE".into(); // ignored: registry numbers are +1
    let r = import(&app, o, file.as_bytes(), 1 << 20).await.unwrap();
    assert_eq!((r.read, r.added, r.already_listed, r.invalid), (4, 2, 1, 1));
    assert_eq!(r.invalid_lines[0].line, 3);
    assert!(
        r.invalid_lines[0].reason.contains("2-9"),
        "{}",
        r.invalid_lines[0].reason
    );
    assert!(app.check_dnc_one(&acc, "+12015550123").await.dnc);
    assert!(app.check_dnc_one(&acc, "+12015550124").await.dnc);
}

async fn a_csv_column_with_row_expiries_blocks_until_each_rows_time(app: TestApp) {
    let clock = clock_at("2026-03-02T12:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Name;Mobile;Until\n\
                Ann;(415) 555-2671;2026-03-05\n\
                Bob;(415) 555-2672;\n\
                Cy;(415) 555-2673;next week\n";
    let mut o = options(&acc, "90 days", pb::DncFileFormat::Csv);
    o.expire_column = "until".into();
    o.expire_time = Some(ts_at("2026-06-01T00:00:00Z"));
    let r = import(&app, o, file.as_bytes(), 7).await.unwrap();
    assert_eq!((r.read, r.added, r.invalid), (3, 2, 1));
    assert_eq!(r.invalid_lines[0].line, 4);
    assert!(
        r.invalid_lines[0].reason.starts_with("Until:"),
        "{}",
        r.invalid_lines[0].reason
    );

    let ann = app.check_dnc_one(&acc, "+14155552671").await;
    assert_eq!(
        ann.lists[0].expire_time,
        Some(ts_at("2026-03-05T00:00:00Z"))
    );
    let bob = app.check_dnc_one(&acc, "+14155552672").await;
    assert_eq!(
        bob.lists[0].expire_time,
        Some(ts_at("2026-06-01T00:00:00Z"))
    );
    // At its time, an entry stops blocking; no sweep runs in between.
    clock.set(crate::helpers::ms_at("2026-03-05T00:00:00Z"));
    assert!(!app.check_dnc_one(&acc, "+14155552671").await.dnc);
    assert!(app.check_dnc_one(&acc, "+14155552672").await.dnc);
}

async fn an_import_with_a_seen_request_id_returns_the_stored_result(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut o = options(&acc, "crm", pb::DncFileFormat::Plain);
    o.request_id = "upload-7".into();
    let first = import(&app, o.clone(), b"+14155552671\nbad\n", 64)
        .await
        .unwrap();
    assert!(!first.replayed);
    // A retry (even with other bytes) reads nothing and returns what the first did.
    let again = import(&app, o, b"+14155552672\n", 64).await.unwrap();
    assert!(again.replayed);
    assert_eq!(
        (
            again.id,
            again.read,
            again.added,
            again.invalid,
            again.invalid_lines.clone()
        ),
        (first.id, 2, 1, 1, first.invalid_lines.clone())
    );
    assert!(!app.check_dnc_one(&acc, "+14155552672").await.dnc);
}

async fn replacing_or_deleting_a_list_never_removes_manual_entries(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    app.mark_dnc(&acc, &[], &["+14155552671"], pb::DncSource::Manual)
        .await;
    let file = b"+14155552671\n+14155552672\n+14155552673\n";
    let r = import(
        &app,
        options(&acc, "crm", pb::DncFileFormat::Plain),
        file,
        64,
    )
    .await
    .unwrap();
    assert_eq!(r.added, 3);

    // The new file lacks ...71 and ...72: replacing removes their list entries only.
    let mut o = options(&acc, "crm", pb::DncFileFormat::Plain);
    o.replace = true;
    let replaced = import(&app, o, b"+14155552673\n+14155552674\n", 64)
        .await
        .unwrap();
    assert_eq!(
        (replaced.list_id, replaced.added, replaced.already_listed),
        (r.list_id, 1, 1)
    );
    assert_eq!(replaced.removed, 2);
    let manual = app.check_dnc_one(&acc, "+14155552671").await;
    assert!(manual.dnc, "the manual entry stays");
    assert_eq!(manual.source, pb::DncSource::Manual as i32);
    assert!(manual.lists.is_empty());
    assert!(!app.check_dnc_one(&acc, "+14155552672").await.dnc);
    assert!(app.check_dnc_one(&acc, "+14155552674").await.dnc);

    let deleted = delete_list(&app, &acc, r.list_id).await;
    assert_eq!(deleted.entries_removed, 2);
    assert!(!app.check_dnc_one(&acc, "+14155552673").await.dnc);
    assert!(app.check_dnc_one(&acc, "+14155552671").await.dnc);
}

async fn a_listed_number_is_not_dialable_and_dials_again_once_its_entry_expired(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let listed = app.contact(&acc, "+12122345678", "Ann").await;
    let free = app.contact(&acc, "+12122345679", "Bob").await;
    app.add_to_campaign(&acc, "camp", &[listed.id, free.id])
        .await;
    let mut o = options(&acc, "cooling off", pb::DncFileFormat::Plain);
    o.expire_time = Some(ts_at("2026-03-02T18:30:00Z"));
    import(&app, o, b"+12122345678\n", 64).await.unwrap();

    let check = app
        .check_dialable(&acc, listed.id, "camp", "d1", None)
        .await;
    assert_eq!(check.reason, pb::NotDialableReason::Dnc as i32);
    assert!(check.detail.contains("cooling off"), "{}", check.detail);
    let preview = app.preview(&acc, "camp", None).await;
    assert_eq!((preview.dnc, preview.dialable), (1, 1));
    let claimed = app.claim(&acc, "camp", "d1", 10, None).await;
    assert_eq!(
        claimed
            .iter()
            .map(|c| c.contact.as_ref().unwrap().id)
            .collect::<Vec<_>>(),
        [free.id]
    );

    // Half an hour later Bob is still within the account's call spacing; Ann's entry
    // stopped blocking at its time.
    clock.set(crate::helpers::ms_at("2026-03-02T18:30:00Z"));
    assert!(
        app.check_dialable(&acc, listed.id, "camp", "d2", None)
            .await
            .dialable
    );
    let claimed = app.claim(&acc, "camp", "d2", 10, None).await;
    assert_eq!(
        claimed
            .iter()
            .map(|c| c.contact.as_ref().unwrap().id)
            .collect::<Vec<_>>(),
        [listed.id]
    );
}

/// A dialer claims and gives back the campaign's 3,000 people in a loop while a list of
/// 1,500 of them (among 25,000 other numbers: three write transactions) is imported. No
/// claim that starts after the import answered returns a listed number.
async fn a_dnc_list_imported_while_a_dialer_claims_never_lets_a_listed_number_through(
    app: TestApp,
) {
    let acc = app.account(pb::Plan::Dental).await;
    let phones = app.seed_contacts(&acc, 0, 3_000).await;
    app.add_selection_to_campaign(
        &acc,
        "camp",
        Some(pb::ContactSelection {
            selection: Some(pb::contact_selection::Selection::Filter(
                pb::ContactFilter::default(),
            )),
        }),
    )
    .await;
    let listed: HashSet<String> = phones.iter().step_by(2).cloned().collect();
    let mut file = String::new();
    for i in 0..25_000u32 {
        file.push_str(&format!("212{:07}\n", 2_000_000 + i));
        if let Some(p) = phones.get(i as usize * 2) {
            // `+1415…` as the registry writes it: area code, comma, number.
            file.push_str(&format!("{},{}\n", &p[2..5], &p[5..]));
        }
    }
    let done = Arc::new(AtomicBool::new(false));
    let dialer = {
        let (app_client, acc, done, listed) = (
            app.client.clone(),
            acc.clone(),
            done.clone(),
            listed.clone(),
        );
        tokio::spawn(async move {
            let (mut claims, mut after_done, mut violations) = (0, 0, Vec::new());
            // Keep going until ten claims started after the import answered.
            while after_done < 10 {
                let started_after = done.load(Ordering::SeqCst);
                let got = app_client
                    .clone()
                    .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                        account_id: acc.clone(),
                        campaign_id: "camp".into(),
                        dialer_id: "d1".into(),
                        max_contacts: 100,
                        lease_seconds: 60,
                        rules: Some(rules(3, 0, crate::helpers::any_hour())),
                    })
                    .await
                    .expect("claim")
                    .into_inner()
                    .contacts;
                claims += 1;
                if started_after {
                    after_done += 1;
                    violations.extend(
                        got.iter()
                            .map(|c| c.contact.as_ref().unwrap().phone.clone())
                            .filter(|p| listed.contains(p)),
                    );
                }
                app_client
                    .clone()
                    .release_leases(pb::ReleaseLeasesRequest {
                        account_id: acc.clone(),
                        campaign_id: "camp".into(),
                        dialer_id: "d1".into(),
                        ..Default::default()
                    })
                    .await
                    .expect("release");
            }
            (claims, violations)
        })
    };
    let r = import(
        &app,
        options(&acc, "registry", pb::DncFileFormat::Registry),
        file.as_bytes(),
        64 * 1024,
    )
    .await
    .unwrap();
    done.store(true, Ordering::SeqCst);
    assert_eq!((r.added, r.invalid), (26_500, 0));
    let (claims, violations) = dialer.await.unwrap();
    assert!(claims > 10);
    assert!(
        violations.is_empty(),
        "listed numbers handed out: {violations:?}"
    );
    let preview = app
        .preview(&acc, "camp", Some(rules(3, 0, crate::helpers::any_hour())))
        .await;
    assert_eq!(preview.dnc, 1_500);
}

async fn bad_import_options_are_invalid_argument_naming_the_field_and_store_nothing(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let other = app.account(pb::Plan::Professional).await;
    let foreign = create_list(&app, &other, "theirs").await.unwrap();
    let file = b"+14155552671\n";
    let cases: Vec<(&str, pb::ImportDncListOptions)> = vec![
        (
            "options.format",
            options(&acc, "x", pb::DncFileFormat::Unspecified),
        ),
        ("options.list_id", {
            let mut o = options(&acc, "", pb::DncFileFormat::Plain);
            o.list_name.clear();
            o
        }),
        ("options.expire_time", {
            let mut o = options(&acc, "x", pb::DncFileFormat::Plain);
            o.expire_time = Some(ts_at("2001-01-01T00:00:00Z"));
            o
        }),
        ("options.phone_column", {
            let mut o = options(&acc, "x", pb::DncFileFormat::Plain);
            o.phone_column = "Mobile".into();
            o
        }),
        ("options.region", {
            let mut o = options(&acc, "x", pb::DncFileFormat::Plain);
            o.region = "XX".into();
            o
        }),
    ];
    for (field, o) in cases {
        let err = import(&app, o, file, 64).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(violated_fields(&err), [field]);
    }
    let mut missing = options(&acc, "x", pb::DncFileFormat::Csv);
    missing.phone_column = "Mobile".into();
    let err = import(&app, missing, b"Phone\n+14155552671\n", 64)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["options.phone_column"]);
    let mut theirs = options(&acc, "", pb::DncFileFormat::Plain);
    theirs.list_id = foreign.id;
    let err = import(&app, theirs, file, 64).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(!app.check_dnc_one(&acc, "+14155552671").await.dnc);
    assert_eq!(
        get_list(&app, &other, foreign.id)
            .await
            .unwrap()
            .entry_count,
        0
    );
}

// PostgreSQL only (SQLite's claim holds the one write lock from its check to its lease,
// so nothing commits in between).
postgres_only!(a_list_import_that_commits_while_a_claim_leases_keeps_its_numbers_out);

/// A claim's lease statement has begun (its snapshot taken, Ann and Bob picked) and waits
/// on Ann's `dial_state` row, which a transaction of the test holds, while a list import
/// with Bob's number commits and returns. When the claim goes on it must not lease Bob:
/// the import has returned, and its revocation could not see a lease not yet written.
/// (Before the claim compared row versions, it leased Bob: checked, and checked again
/// with the version condition taken out.)
async fn a_list_import_that_commits_while_a_claim_leases_keeps_its_numbers_out(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    use std::time::Duration;
    let acc = app.account(pb::Plan::Professional).await;
    let ann = app.contact(&acc, "+12122345670", "Ann").await;
    let bob = app.contact(&acc, "+12122345671", "Bob").await;
    app.add_to_campaign(&acc, "camp", &[ann.id, bob.id]).await;
    let db = contactd::store::connect(&app.db.url, 2).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO dial_state (contact_id, account_id) VALUES ({}, '{acc}')",
        ann.id
    ))
    .await
    .unwrap();
    let holder = db.begin().await.unwrap();
    holder
        .execute_unprepared(&format!(
            "SELECT 1 FROM dial_state WHERE contact_id = {} FOR UPDATE",
            ann.id
        ))
        .await
        .unwrap();
    let claim = {
        let (client, acc) = (app.client.clone(), acc.clone());
        tokio::spawn(async move {
            client
                .clone()
                .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                    account_id: acc,
                    campaign_id: "camp".into(),
                    dialer_id: "d1".into(),
                    max_contacts: 2,
                    lease_seconds: 60,
                    rules: Some(rules(3, 0, crate::helpers::any_hour())),
                })
                .await
                .expect("claim")
                .into_inner()
                .contacts
        })
    };
    let waiting = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query LIKE 'WITH picked%'",
    );
    let mut waited = 0;
    loop {
        let row = db.query_one_raw(waiting.clone()).await.unwrap().unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 1 {
            break;
        }
        waited += 1;
        assert!(
            waited < 500,
            "the claim's lease statement never waited on Ann's row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = tokio::time::timeout(
        Duration::from_secs(10),
        import(
            &app,
            options(&acc, "opt-outs", pb::DncFileFormat::Plain),
            b"+12122345671\n",
            64,
        ),
    )
    .await;
    holder.rollback().await.unwrap();
    let listed = listed
        .expect("the import waited for the claim (Bob locked before Ann?)")
        .unwrap();
    assert_eq!(listed.added, 1);
    let got: Vec<i64> = claim
        .await
        .unwrap()
        .iter()
        .map(|c| c.contact.as_ref().unwrap().id)
        .collect();
    assert!(got.contains(&ann.id), "{got:?}");
    assert!(
        !got.contains(&bob.id),
        "Bob handed out after the list import holding his number returned"
    );
}

// PostgreSQL only (SQLite compares text bytewise everywhere and has no collations here).
postgres_only!(the_dialers_dnc_probes_use_the_lists_keys);

/// The dialer's candidate read and lease statement keep listed numbers out with
/// `NOT EXISTS (… WHERE account_id = ? AND phone = contacts.phone …)` on both DNC tables.
/// PostgreSQL serves a comparison from an index only in the index's collation, and a
/// comparison of two columns of different collations has none: so each DNC table's
/// number must have `contacts.phone`'s collation, or the probe can use its key's account
/// only — the account's whole list read per contact, or hashed per statement (a
/// 25,000-number list made the candidate read ~70× dearer before m0021; BENCHMARKS.md).
/// Checked on the schema itself (both tables), and on a plan of the named lists' probe:
/// with the table's key the only way left, the number is part of its index condition.
async fn the_dialers_dnc_probes_use_the_lists_keys(app: TestApp) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let db = contactd::store::connect(&app.db.url, 1).await.unwrap();
    let collations = first_column(
        &db,
        "SELECT c.relname || ': ' || coalesce(k.collname, 'none') FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_collation k ON k.oid = a.attcollation \
         WHERE a.attname = 'phone' \
           AND c.relname IN ('contacts', 'dnc_entries', 'dnc_list_entries') ORDER BY 1"
            .to_string(),
    )
    .await;
    assert_eq!(
        collations,
        ["contacts: C", "dnc_entries: C", "dnc_list_entries: C"],
        "the numbers compared by the dialer's DNC probes"
    );
    // A plan over a list of 300 numbers, where reading the account's entries per contact
    // is what the planner must avoid.
    let acc = app.account(pb::Plan::Professional).await;
    app.contact(&acc, "+12122345670", "Ann").await;
    let mut file = String::new();
    for i in 0..300 {
        file.push_str(&format!("+1212555{i:04}\n"));
    }
    import(
        &app,
        options(&acc, "opt-outs", pb::DncFileFormat::Plain),
        file.as_bytes(),
        4096,
    )
    .await
    .unwrap();
    db.execute_unprepared("ANALYZE dnc_list_entries, dnc_entries, contacts")
        .await
        .unwrap();
    let txn = db.begin().await.unwrap();
    for off in [
        "enable_hashjoin",
        "enable_mergejoin",
        "enable_seqscan",
        "enable_bitmapscan",
        "enable_material",
    ] {
        txn.execute_unprepared(&format!("SET LOCAL {off} = off"))
            .await
            .unwrap();
    }
    let plan = first_column(
        &txn,
        format!(
            "EXPLAIN (COSTS OFF) SELECT c.id FROM contacts c WHERE c.account_id = '{acc}' \
             AND NOT EXISTS (SELECT 1 FROM dnc_list_entries l \
               WHERE l.account_id = '{acc}' AND l.phone = c.phone)"
        ),
    )
    .await;
    txn.rollback().await.unwrap();
    let text = plan.join("\n");
    let probe: Vec<&String> = plan
        .iter()
        .filter(|l| l.contains("phone = c.phone"))
        .collect();
    assert_eq!(probe.len(), 1, "{text}");
    assert!(
        probe[0].contains("Index Cond"),
        "not a key condition:\n{text}"
    );
}

/// The first column of every row `sql` returns, as text (PostgreSQL).
async fn first_column(db: &impl sea_orm::ConnectionTrait, sql: String) -> Vec<String> {
    db.query_all_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        sql,
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}
