//! Tenant boundaries and bounded resources: what one tenant's key may change, what one
//! file may store, and how one tenant's long-running work leaves room for the others.

use crate::helpers::{Backend, TestApp, violated_fields};
use contactd::domain::SystemClock;
use contactd::pb::{self, import_contacts_request::Payload, import_contacts_response::Event};
use contactd::service::Services;
use contactd::service::import::{GIVE_UP_AFTER_ROWS, MAX_STORED_REJECTED_ROWS};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::{Code, Request};

both!(
    an_account_key_cannot_change_its_plan_or_limit,
    only_the_limit_of_a_custom_account_changes_alone,
    a_batch_keeps_a_bounded_list_of_rejected_rows_and_counts_the_rest,
    every_rejected_row_is_counted_by_kind_beyond_the_kept_list,
    a_mostly_invalid_import_stops_early_keeping_what_it_committed,
    stalled_exports_of_one_account_never_refuse_another_account,
    a_bad_byte_in_a_utf8_file_changes_only_its_own_row,
    a_nul_in_the_header_is_invalid_argument,
    no_free_connection_is_unavailable_within_the_clients_deadline,
    a_calling_window_of_the_whole_day_is_refused_naming_the_field,
    out_of_range_numbers_and_unknown_enums_are_invalid_argument_naming_the_field,
);

/// A server that requires keys, with an account on PLAN_PROFESSIONAL, its key, and an
/// internal key.
pub(crate) struct Keyed {
    pub app: TestApp,
    pub account: String,
    pub account_key: String,
    pub internal_key: String,
}

/// Built on `app`'s database; `app` itself is not used further.
pub(crate) async fn keyed(app: TestApp) -> Keyed {
    let db = app.db.clone();
    let svc = Services::new(
        contactd::store::connect(&db.url, 2).await.unwrap(),
        Arc::new(SystemClock),
    );
    let (_, internal_key) = svc.create_key(None, "billing").await.unwrap();
    let account = svc
        .create_account(contactd::service::accounts::NewAccount {
            name: "Tenant".into(),
            plan: contactd::domain::Plan::Professional,
            default_region: contactd::domain::Region::parse("US").unwrap(),
        })
        .await
        .unwrap()
        .id;
    let (_, account_key) = svc.create_key(Some(&account), "tenant").await.unwrap();
    let app = TestApp::spawn_configured(db, Arc::new(SystemClock), |s| s.require_auth = true).await;
    Keyed {
        app,
        account,
        account_key,
        internal_key,
    }
}

pub(crate) fn with_key<T>(message: T, key: &str) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    r
}

fn update(account: &str, paths: &[&str], plan: pb::Plan, limit: i64) -> pb::UpdateAccountRequest {
    pb::UpdateAccountRequest {
        account_id: account.into(),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        name: "Renamed".into(),
        plan: plan as i32,
        contact_limit: limit,
        default_region: "GB".into(),
        frequency: None,
    }
}

async fn account_as(k: &Keyed, key: &str) -> pb::Account {
    k.app
        .client
        .clone()
        .get_account(with_key(
            pb::GetAccountRequest {
                account_id: k.account.clone(),
            },
            key,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap()
}

/// Plans are what customers pay for: an account's own key may rename it or change its
/// region, never its plan or limit — PERMISSION_DENIED naming the field, nothing changed.
async fn an_account_key_cannot_change_its_plan_or_limit(app: TestApp) {
    let k = keyed(app).await;
    let mut client = k.app.client.clone();
    let before = account_as(&k, &k.account_key).await;
    for paths in [
        &["plan"][..],
        &["contact_limit"],
        &["plan", "contact_limit"],
        &["name", "contact_limit"],
    ] {
        let err = client
            .update_account(with_key(
                update(&k.account, paths, pb::Plan::Custom, 100_000_000),
                &k.account_key,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{paths:?}: {err:?}");
        let named = paths.iter().find(|p| **p != "name").unwrap();
        assert!(
            err.message().starts_with(&format!("{named}:")),
            "{paths:?}: {}",
            err.message()
        );
        assert_eq!(account_as(&k, &k.account_key).await, before, "{paths:?}");
    }
    // What is the tenant's own to change still changes.
    let renamed = client
        .update_account(with_key(
            update(
                &k.account,
                &["name", "default_region"],
                pb::Plan::Unspecified,
                0,
            ),
            &k.account_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.default_region.as_str()),
        ("Renamed", "GB")
    );
    assert_eq!(renamed.plan, pb::Plan::Professional as i32);
    // An internal key (billing) changes the plan.
    let raised = client
        .update_account(with_key(
            update(
                &k.account,
                &["plan", "contact_limit"],
                pb::Plan::Custom,
                20_000,
            ),
            &k.internal_key,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        (raised.plan, raised.contact_limit),
        (pb::Plan::Custom as i32, 20_000)
    );
}

/// `update_mask: [contact_limit]` on a custom account changes its limit and keeps its
/// plan; on a named plan it says what to do instead.
async fn only_the_limit_of_a_custom_account_changes_alone(app: TestApp) {
    let custom = app.account_with_limit(500).await;
    let mut client = app.client.clone();
    let changed = client
        .update_account(update(
            &custom,
            &["contact_limit"],
            pb::Plan::Unspecified,
            750,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        (changed.plan, changed.contact_limit),
        (pb::Plan::Custom as i32, 750)
    );

    let named = app.account(pb::Plan::Dental).await;
    let err = client
        .update_account(update(
            &named,
            &["contact_limit"],
            pb::Plan::Unspecified,
            750,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("PLAN_CUSTOM"), "{}", err.message());
    assert_eq!(app.get_account(&named).await.contact_limit, 5_000);
    let err = client
        .update_account(update(
            &custom,
            &["contact_limit"],
            pb::Plan::Unspecified,
            0,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["contact_limit"], "{err:?}");
}

/// Imports `file` with the options; returns the events and how the stream ended.
async fn import_events(
    app: &TestApp,
    opts: pb::ImportOptions,
    file: &[u8],
) -> (Vec<Event>, Result<(), tonic::Status>) {
    let mut msgs = vec![pb::ImportContactsRequest {
        payload: Some(Payload::Options(opts)),
    }];
    msgs.extend(file.chunks(64 * 1024).map(|c| pb::ImportContactsRequest {
        payload: Some(Payload::Chunk(c.to_vec())),
    }));
    let mut events = Vec::new();
    let mut stream = match app
        .client
        .clone()
        .import_contacts(tokio_stream::iter(msgs))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => return (events, Err(e)),
    };
    loop {
        match stream.message().await {
            Ok(Some(m)) => events.push(m.event.expect("an event")),
            Ok(None) => return (events, Ok(())),
            Err(e) => return (events, Err(e)),
        }
    }
}

fn options(account: &str) -> pb::ImportOptions {
    pb::ImportOptions {
        account_id: account.into(),
        ..Default::default()
    }
}

async fn batch(app: &TestApp, account: &str, id: &str) -> pb::ImportBatch {
    app.client
        .clone()
        .get_import_batch(pb::GetImportBatchRequest {
            account_id: account.into(),
            batch_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap()
}

/// The account's import batches, newest first (one page).
async fn batches(app: &TestApp, account: &str) -> Vec<pb::ImportBatch> {
    app.client
        .clone()
        .list_import_batches(pb::ListImportBatchesRequest {
            account_id: account.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .batches
}

/// The rejected rows a batch stores: at most MAX_STORED_REJECTED_ROWS, the earliest;
/// the counts stay exact and say how many the list lacks, and so do ListImportErrors and
/// ExportImportErrors.
async fn a_batch_keeps_a_bounded_list_of_rejected_rows_and_counts_the_rest(app: TestApp) {
    // One valid row in four: invalid enough to pass the cap, not to give up.
    const ROWS: usize = 16_000;
    let acc = app.account_with_limit(5_000).await;
    let mut file = String::from("phone\n");
    for i in 0..ROWS {
        if i % 4 == 0 {
            file.push_str(&format!("+1415{:07}\n", 3_000_000 + i));
        } else {
            file.push_str("x\n");
        }
    }
    let (events, end) = import_events(&app, options(&acc), file.as_bytes()).await;
    end.unwrap();
    let Some(Event::Finished(b)) = events.last() else {
        panic!("finished last: {events:?}");
    };
    assert_eq!(b.status, pb::ImportStatus::Completed as i32, "{b:?}");
    let c = b.counts.unwrap();
    let invalid = (ROWS - ROWS / 4) as i64;
    assert_eq!(
        (c.rows, c.imported, c.invalid),
        (ROWS as i64, (ROWS / 4) as i64, invalid)
    );
    assert_eq!(
        c.rejected_not_stored,
        invalid - MAX_STORED_REJECTED_ROWS,
        "{c:?}"
    );
    let stored = app
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM import_errors WHERE batch_id = '{}'",
            b.id
        ))
        .await
        .unwrap();
    assert_eq!(stored, MAX_STORED_REJECTED_ROWS);
    let page = app
        .client
        .clone()
        .list_import_errors(pb::ListImportErrorsRequest {
            account_id: acc.clone(),
            batch_id: b.id.clone(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.rejected_not_stored, c.rejected_not_stored);
    assert_eq!(page.errors[0].line, 3, "the earliest are kept");
    let mut export = app
        .client
        .clone()
        .export_import_errors(pb::ExportImportErrorsRequest {
            account_id: acc.clone(),
            batch_id: b.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = export.message().await.unwrap().unwrap();
    assert_eq!(first.rejected_not_stored, c.rejected_not_stored);
    let mut lines = first.chunk.iter().filter(|b| **b == b'\n').count() as i64;
    while let Some(m) = export.message().await.unwrap() {
        assert_eq!(m.rejected_not_stored, 0, "said once, in the first message");
        lines += m.chunk.iter().filter(|b| **b == b'\n').count() as i64;
    }
    assert_eq!(
        lines,
        1 + MAX_STORED_REJECTED_ROWS,
        "header and the kept rows"
    );
}

/// A file with rows rejected for every reason, more of them than a batch keeps: the
/// batch counts each kind exactly (the kinds add up to invalid + over limit), in the
/// finished event, GetImportBatch and ListImportBatches alike; duplicates are no kind.
async fn every_rejected_row_is_counted_by_kind_beyond_the_kept_list(app: TestApp) {
    use pb::RejectionKind as K;
    const LIMIT: usize = 10_000;
    const VALID: usize = 12_000;
    let acc = app.account_with_limit(LIMIT as i64).await;
    let mut file = String::from("phone,first_name,email,country\n");
    let mut number = 4_000_000;
    let mut next = || {
        number += 1;
        format!("+1415{number:07}")
    };
    // (kind, rows); each rejected row is followed by a valid one, so that the import
    // never looks like a file of junk.
    let kinds = [
        (K::InvalidPhone, 4_000),
        (K::MissingPhone, 3_000),
        (K::InvalidEmail, 2_000),
        (K::InvalidCountry, 500),
        (K::RaggedRow, 1_500),
        (K::FieldTooLong, 100),
        (K::MalformedCsv, 50),
    ];
    let long = "n".repeat(9 * 1024);
    let mut rejected = Vec::new();
    for (kind, rows) in kinds {
        for i in 0..rows {
            let row = match kind {
                K::InvalidPhone => format!("not a number {i},Ann,,\n"),
                K::MissingPhone => format!(",Ann {i},,\n"),
                K::InvalidEmail => format!("{},Ann,not-an-email-{i},\n", next()),
                K::InvalidCountry => format!("4155550{:03},Ann,,Atlantis\n", i % 1000),
                K::RaggedRow => format!("{},Ann,,,extra {i}\n", next()),
                K::FieldTooLong => format!("{},{long},,\n", next()),
                _ => format!("{},Ann\0{i},,\n", next()),
            };
            rejected.push(row);
        }
    }
    let valid: Vec<String> = (0..VALID).map(|_| next()).collect();
    let mut rejected = rejected.into_iter();
    for phone in &valid {
        file.push_str(&rejected.next().unwrap_or_default());
        file.push_str(&format!("{phone},Bob,,\n"));
    }
    assert!(rejected.next().is_none());
    // Duplicates in the file: counted as such, rejected as nothing.
    for phone in &valid[..300] {
        file.push_str(&format!("{phone},Bob again,,\n"));
    }
    let (events, end) = import_events(&app, options(&acc), file.as_bytes()).await;
    end.unwrap();
    let Some(Event::Finished(b)) = events.last() else {
        panic!("finished last: {events:?}");
    };
    assert_eq!(b.status, pb::ImportStatus::Completed as i32, "{b:?}");
    let c = b.counts.unwrap();
    let mut expected: Vec<(i32, i64)> = kinds
        .iter()
        .map(|(k, n)| (*k as i32, *n as i64))
        .chain([(K::OverLimit as i32, (VALID - LIMIT) as i64)])
        .collect();
    expected.sort();
    let by_kind: Vec<(i32, i64)> = b
        .rejected_by_kind
        .iter()
        .map(|r| (r.kind, r.rows))
        .collect();
    assert_eq!(by_kind, expected, "{c:?}");
    let invalid: i64 = kinds.iter().map(|(_, n)| *n as i64).sum();
    assert_eq!(
        (c.invalid, c.over_limit, c.imported, c.duplicates_in_file),
        (invalid, (VALID - LIMIT) as i64, LIMIT as i64, 300),
        "{c:?}"
    );
    assert_eq!(
        c.rejected_not_stored,
        invalid + (VALID - LIMIT) as i64 - MAX_STORED_REJECTED_ROWS,
        "more rows were rejected than kept: {c:?}"
    );
    let got = batch(&app, &acc, &b.id).await;
    assert_eq!(
        (got.counts, &got.rejected_by_kind),
        (b.counts, &b.rejected_by_kind),
        "GetImportBatch"
    );
    assert_eq!(
        batches(&app, &acc).await[0].rejected_by_kind,
        b.rejected_by_kind,
        "ListImportBatches"
    );
}

/// A file of junk lines is not read to its end: once nearly every row is invalid
/// (GIVE_UP_INVALID_PERCENT after GIVE_UP_AFTER_ROWS) the import stops as FAILED
/// saying why, and the rows it committed before stay, counted.
async fn a_mostly_invalid_import_stops_early_keeping_what_it_committed(app: TestApp) {
    const VALID: usize = 1_000;
    const JUNK: usize = 40_000;
    let acc = app.account_with_limit(5_000).await;
    let mut file = String::from("phone\n");
    for i in 0..VALID {
        file.push_str(&format!("+1415{:07}\n", 3_000_000 + i));
    }
    for _ in 0..JUNK {
        file.push_str("x\n");
    }
    let (events, end) = import_events(&app, options(&acc), file.as_bytes()).await;
    let err = end.expect_err("the import stops early");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("invalid"), "{}", err.message());
    let Some(Event::Started(started)) = events.first() else {
        panic!("started first: {events:?}");
    };
    let b = batch(&app, &acc, &started.id).await;
    assert_eq!(b.status, pb::ImportStatus::Failed as i32, "{b:?}");
    assert!(b.error_message.contains("invalid"), "{}", b.error_message);
    let c = b.counts.unwrap();
    assert!(
        c.rows >= GIVE_UP_AFTER_ROWS && c.rows < (VALID + JUNK) as i64,
        "stopped soon after the threshold, not at the end of the file: {c:?}"
    );
    assert_eq!(c.imported, VALID as i64, "{c:?}");
    assert_eq!(c.invalid, c.rows - VALID as i64, "{c:?}");
    assert_eq!(app.get_account(&acc).await.contact_count, VALID as i64);
}

/// Starts a full export of `account` on a connection of its own (with HTTP/2's smallest
/// default window, 64 KiB) and reads only its first message: the export then stalls once
/// the window and the server's buffers are full.
async fn stalled_export(app: &TestApp, account: &str) -> Result<StalledExport, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut stream = pb::contact_service_client::ContactServiceClient::new(channel)
        .export_contacts(pb::ExportContactsRequest {
            account_id: account.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    stream.message().await?.expect("a first message");
    Ok(StalledExport(stream))
}

struct StalledExport(tonic::Streaming<pb::ExportContactsResponse>);

impl StalledExport {
    /// Reads on to the end; the status it ended with.
    async fn finish(mut self) -> Result<(), tonic::Status> {
        while self.0.message().await?.is_some() {}
        Ok(())
    }
}

/// One tenant stalling exports (a client that reads nothing) takes at most its own
/// share of the server's export slots: another account's export runs meanwhile, and
/// after --export-stall-secs the stalled exports end with DEADLINE_EXCEEDED and give
/// their slots back.
async fn stalled_exports_of_one_account_never_refuse_another_account(app: TestApp) {
    let server = TestApp::spawn_configured(app.db.clone(), Arc::new(SystemClock), |s| {
        s.export_stall_secs = 3;
    })
    .await;
    let (greedy, other) = (
        server.account_with_limit(100_000).await,
        server.account_with_limit(100_000).await,
    );
    // Wide rows, more than the server's buffers and the stream's window hold.
    server.seed_contacts(&greedy, 0, 30_000).await;
    server.seed_contacts(&other, 100_000, 200).await;
    let mut stalled = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..4 {
        match stalled_export(&server, &greedy).await {
            Ok(s) => stalled.push(s),
            Err(e) => refused.push(e),
        }
    }
    assert_eq!(stalled.len(), 2, "{refused:?}");
    for e in &refused {
        assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
        assert!(
            e.message().contains("--max-account-exports"),
            "{}",
            e.message()
        );
    }
    // Meanwhile the other tenant exports.
    let mut client = server.new_client().await;
    let mut stream = client
        .export_contacts(pb::ExportContactsRequest {
            account_id: other.clone(),
            ..Default::default()
        })
        .await
        .expect("another account's export is not refused")
        .into_inner();
    let mut result = None;
    while let Some(m) = stream.message().await.unwrap() {
        if let Some(pb::export_contacts_response::Event::Result(r)) = m.event {
            result = Some(r);
        }
    }
    assert_eq!(result.unwrap().matched, 200);

    // The stalled exports give up, end with a clear status and free their slots: the
    // account gets both of its slots back.
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut again = Vec::new();
    while again.len() < 2 {
        match stalled_export(&server, &greedy).await {
            Ok(s) => again.push(s),
            Err(e) if e.code() == Code::ResourceExhausted && Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the stalled exports kept their slots: {e:?}"),
        }
    }
    for s in stalled {
        let err = s
            .finish()
            .await
            .expect_err("a stalled export does not complete");
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
        assert!(
            err.message().contains("--export-stall-secs"),
            "{}",
            err.message()
        );
    }
}

/// One invalid byte in a UTF-8 file marks its own row (U+FFFD where it stood); every
/// other row stays UTF-8, and the batch says UTF-8.
async fn a_bad_byte_in_a_utf8_file_changes_only_its_own_row(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = b"phone,first_name\n+14155550101,Bad\xff\n+14155550102,Jos\xc3\xa9\n";
    let (events, end) = import_events(&app, options(&acc), file).await;
    end.unwrap();
    let Some(Event::Finished(b)) = events.last() else {
        panic!("finished last: {events:?}");
    };
    assert_eq!(b.encoding, "UTF-8");
    assert_eq!(b.counts.unwrap().imported, 2);
    let mut names: Vec<String> = app
        .list_all(&acc, Default::default())
        .await
        .into_iter()
        .map(|c| c.first_name)
        .collect();
    names.sort();
    assert_eq!(names, ["Bad\u{FFFD}", "José"]);
}

/// A header holding a NUL byte (UTF-16 without its byte-order mark, a binary file) is
/// INVALID_ARGUMENT on every backend, before any batch exists; never INTERNAL.
async fn a_nul_in_the_header_is_invalid_argument(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut file = Vec::new();
    for u in "phone,first_name\n+14155550101,Ann\n".encode_utf16() {
        file.extend_from_slice(&u.to_le_bytes());
    }
    let (events, end) = import_events(&app, options(&acc), &file).await;
    let err = end.expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("NUL"), "{}", err.message());
    assert!(events.is_empty(), "{events:?}");
    let batches = batches(&app, &acc).await;
    assert!(batches.is_empty(), "{batches:?}");
}

/// Numbers out of their documented range and enum values the API does not define are
/// INVALID_ARGUMENT naming the field — never silently replaced by a default.
async fn out_of_range_numbers_and_unknown_enums_are_invalid_argument_naming_the_field(
    app: TestApp,
) {
    let acc = app.account(pb::Plan::Professional).await;
    let contact = app.contact(&acc, "+14155550101", "Ann").await;
    let mut c = app.client.clone();
    let page_size = [
        c.list_contacts(pb::ListContactsRequest {
            account_id: acc.clone(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .map(|_| ())
        .unwrap_err(),
        c.list_import_batches(pb::ListImportBatchesRequest {
            account_id: acc.clone(),
            page_size: -5,
            ..Default::default()
        })
        .await
        .map(|_| ())
        .unwrap_err(),
        c.list_calls(pb::ListCallsRequest {
            account_id: acc.clone(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .map(|_| ())
        .unwrap_err(),
        c.list_dnc_events(pb::ListDncEventsRequest {
            account_id: acc.clone(),
            page_size: -1,
            ..Default::default()
        })
        .await
        .map(|_| ())
        .unwrap_err(),
    ];
    for err in page_size {
        assert_eq!(violated_fields(&err), ["page_size"], "{err:?}");
    }

    // max_requests 0 hands out nothing: it is refused, and the request stays for a
    // worker that asks for 1..100.
    c.call_now(pb::CallNowRequest {
        account_id: acc.clone(),
        contact_id: contact.id,
        requested_by: "agent".into(),
        // The calling window has tests of its own; this one runs at any hour.
        override_calling_window: true,
        rules: None,
    })
    .await
    .unwrap();
    let claim = |max_requests| pb::ClaimCallRequestsRequest {
        account_id: acc.clone(),
        worker_id: "w1".into(),
        max_requests,
        ..Default::default()
    };
    let err = c.claim_call_requests(claim(0)).await.unwrap_err();
    assert_eq!(violated_fields(&err), ["max_requests"], "{err:?}");
    let got = c.claim_call_requests(claim(1)).await.unwrap().into_inner();
    assert_eq!(got.requests.len(), 1);

    // Both a contact and a phone: which one is checked would be a guess.
    let err = c
        .check_dialable(pb::CheckDialableRequest {
            account_id: acc.clone(),
            contact_id: contact.id,
            phone: "+14155550199".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["phone"], "{err:?}");

    // An outcome the API does not define is named as unknown, not as missing.
    let err = c
        .record_call(pb::RecordCallRequest {
            account_id: acc.clone(),
            call: Some(pb::Call {
                external_id: "call-1".into(),
                contact_id: contact.id,
                direction: pb::CallDirection::Outbound as i32,
                outcome: 99,
                start_time: Some(prost_types::Timestamp {
                    seconds: 1_800_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["call.outcome"], "{err:?}");
    assert!(err.message().contains("unknown"), "{}", err.message());
    let err = c
        .mark_dnc(pb::MarkDncRequest {
            account_id: acc.clone(),
            source: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["source"], "{err:?}");
    assert!(err.message().contains("unknown"), "{}", err.message());
}

/// Every connection of the server's pool held (by stalled exports): a request whose
/// deadline is shorter than the acquire cap (2 s) is answered UNAVAILABLE, saying why,
/// before its deadline — not left to run into DEADLINE_EXCEEDED. Once the connections
/// are free again, the same request succeeds.
async fn no_free_connection_is_unavailable_within_the_clients_deadline(app: TestApp) {
    let server = TestApp::spawn_configured(app.db.clone(), Arc::new(SystemClock), |s| {
        // One connection (SQLite pools keep two, so that reads go on beside a write).
        s.database.db_max_connections = 1;
        s.export_stall_secs = 60;
    })
    .await;
    let acc = server.account_with_limit(100_000).await;
    server.seed_contacts(&acc, 0, 30_000).await;
    let pool = match server.db.backend {
        Backend::Sqlite => 2,
        Backend::Postgres => 1,
    };
    let mut stalled = Vec::new();
    for _ in 0..pool {
        stalled.push(stalled_export(&server, &acc).await.expect("an export"));
    }
    let get = || {
        let mut request = Request::new(pb::GetAccountRequest {
            account_id: acc.clone(),
        });
        request.set_timeout(Duration::from_millis(1_000));
        request
    };
    let mut client = server.new_client().await;
    let err = client.get_account(get()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("deadline"), "{}", err.message());
    drop(stalled);
    let mut answered = None;
    for _ in 0..50 {
        match client.get_account(get()).await {
            Ok(r) => {
                answered = r.into_inner().account;
                break;
            }
            Err(e) => assert_eq!(e.code(), Code::Unavailable, "{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered.expect("answered once free").id, acc);
}

/// SQLite: another process holds the database's write lock. A write whose deadline is
/// shorter than SQLite's busy timeout is answered UNAVAILABLE before its deadline; once
/// the lock is released it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_is_unavailable_within_the_clients_deadline() {
    use sea_orm::sqlx::{Connection, SqliteConnection};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acc = app.account(pb::Plan::Professional).await;
    let mut other = SqliteConnection::connect(&app.db.url).await.unwrap();
    sea_orm::sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let create = |phone: &str| {
        let mut request = Request::new(pb::CreateContactRequest {
            account_id: acc.clone(),
            contact: Some(pb::ContactInput {
                phone: phone.into(),
                ..Default::default()
            }),
        });
        request.set_timeout(Duration::from_millis(1_000));
        request
    };
    let mut client = app.client.clone();
    let err = client
        .create_contact(create("+14155552671"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("deadline"), "{}", err.message());
    sea_orm::sqlx::raw_sql("ROLLBACK")
        .execute(&mut other)
        .await
        .unwrap();
    client.create_contact(create("+14155552671")).await.unwrap();
    assert_eq!(app.get_account(&acc).await.contact_count, 1);
}

/// A calling window exists to keep calls out of people's night: one that covers the whole
/// day (00:00–24:00) is INVALID_ARGUMENT naming the field, from every RPC that takes
/// dialing rules, and nothing is leased. The widest accepted (00:00–23:59) works.
async fn a_calling_window_of_the_whole_day_is_refused_naming_the_field(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let contact = app.contact(&acc, "+14155550101", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[contact.id]).await;
    let rules = |window| Some(crate::helpers::rules(0, 0, window));
    let mut c = app.client.clone();
    let claim = |window| pb::ClaimDialableContactsRequest {
        account_id: acc.clone(),
        campaign_id: "camp".into(),
        dialer_id: "d1".into(),
        max_contacts: 10,
        rules: rules(window),
        ..Default::default()
    };
    let err = c
        .claim_dialable_contacts(claim((0, 1440)))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["rules.window"], "{err:?}");
    assert!(err.message().contains("whole day"), "{}", err.message());
    let err = c
        .preview_dialable(pb::PreviewDialableRequest {
            account_id: acc.clone(),
            campaign_id: "camp".into(),
            rules: rules((0, 1440)),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["rules.window"], "{err:?}");
    let err = c
        .check_dialable(pb::CheckDialableRequest {
            account_id: acc.clone(),
            contact_id: contact.id,
            campaign_id: "camp".into(),
            rules: rules((0, 1440)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["rules.window"], "{err:?}");
    let leased = c
        .claim_dialable_contacts(claim(crate::helpers::any_hour()))
        .await
        .unwrap()
        .into_inner()
        .contacts;
    assert_eq!(leased.len(), 1, "refused requests leased nothing");
}
