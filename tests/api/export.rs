//! ExportContacts (CSV with statistics, filters, injection safety, snapshot) and
//! BulkDeleteContacts (ids or filter, counts, DNC kept).

use crate::helpers::{TestApp, violated_fields};
use contactd::pb::{self, contact_selection::Selection as S, export_contacts_response::Event};
use std::collections::{BTreeMap, HashMap, HashSet};
use tonic::Code;

both!(
    export_lists_every_field_with_call_statistics,
    export_by_query_matches_names_and_phone_digits,
    export_by_status_separates_dnc_from_active,
    export_by_campaign_lists_its_members,
    export_by_call_dates_and_never_called,
    export_by_ids_skips_unknown_and_foreign_ids,
    campaigns_are_listed_for_dense_and_sparse_selections,
    formula_cells_are_neutralized_and_phones_stay_e164,
    chosen_columns_come_in_the_requested_order,
    unknown_column_is_invalid_and_named,
    more_than_10000_ids_is_resource_exhausted,
    export_of_an_unknown_account_is_not_found,
    export_reports_progress_and_ends_with_the_total,
    export_is_a_snapshot_while_contacts_are_written,
    exports_past_the_cap_are_refused_until_one_ends,
    an_export_past_its_deadline_ends_with_deadline_exceeded,
    a_gzip_client_imports_compressed_and_gets_its_export_compressed,
    cli_export_writes_the_filtered_csv_to_a_file,
    cli_export_into_a_fifo_keeps_the_fifo,
    cli_export_to_stdout_writes_only_the_csv_there,
    bulk_delete_by_ids_counts_deleted_and_not_found,
    bulk_delete_by_filter_deletes_only_matching_contacts,
    bulk_delete_requires_a_selection,
    dnc_entry_survives_bulk_delete,
    call_records_survive_bulk_delete_unlinked,
);

// ---- helpers -------------------------------------------------------------------------

/// A parsed export: the header and each row by column name.
pub(crate) struct Csv {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<HashMap<String, String>>,
}

impl Csv {
    fn parse(bytes: &[u8]) -> Csv {
        let mut reader = csv::Reader::from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                let r = r.expect("record");
                header
                    .iter()
                    .cloned()
                    .zip(r.iter().map(String::from))
                    .collect()
            })
            .collect();
        Csv { header, rows }
    }

    /// One column of every row, in file order.
    fn column(&self, name: &str) -> Vec<String> {
        self.rows.iter().map(|r| r[name].clone()).collect()
    }
}

/// A whole export as a client reads it.
#[derive(Debug)]
struct Export {
    /// The CSV file.
    bytes: Vec<u8>,
    /// The `rows_written` messages, in order.
    progress: Vec<i64>,
    /// The counts of the last message.
    result: pb::BulkResult,
}

/// Reads a whole export; it must end with its counts, and nothing after them.
async fn read_export(
    app: &TestApp,
    req: pb::ExportContactsRequest,
) -> Result<Export, tonic::Status> {
    let mut stream = app.client.clone().export_contacts(req).await?.into_inner();
    let (mut bytes, mut progress, mut result) = (Vec::new(), Vec::new(), None);
    while let Some(msg) = stream.message().await? {
        assert!(result.is_none(), "a message after the counts: {msg:?}");
        match msg.event.expect("an event") {
            Event::Chunk(c) => bytes.extend_from_slice(&c),
            Event::RowsWritten(n) => progress.push(n),
            Event::Result(r) => result = Some(r),
        }
    }
    Ok(Export {
        bytes,
        progress,
        result: result.expect("the export ends with its counts"),
    })
}

/// Starts a full export of `account` and reads only its first message.
async fn start_export(
    app: &TestApp,
    account: &str,
) -> (
    tonic::Streaming<pb::ExportContactsResponse>,
    pb::ExportContactsResponse,
) {
    let mut stream = app
        .client
        .clone()
        .export_contacts(request(account, None, &[]))
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().expect("a first message");
    (stream, first)
}

fn request(account: &str, selection: Option<S>, columns: &[&str]) -> pb::ExportContactsRequest {
    pb::ExportContactsRequest {
        account_id: account.into(),
        selection: selection.map(|s| pb::ContactSelection { selection: Some(s) }),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }
}

/// A whole export, parsed (other modules' tests export with it too).
pub(crate) async fn export_csv(
    app: &TestApp,
    account: &str,
    selection: Option<S>,
    columns: &[&str],
) -> Csv {
    let export = read_export(app, request(account, selection, columns))
        .await
        .expect("export");
    Csv::parse(&export.bytes)
}

/// First names of the contacts a filter exports, in export order.
async fn exported_names(app: &TestApp, account: &str, filter: pb::ContactFilter) -> Vec<String> {
    export_csv(app, account, Some(S::Filter(filter)), &["first_name"])
        .await
        .column("first_name")
}

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn ts(rfc3339: &str) -> prost_types::Timestamp {
    contactd::grpc::convert::ts(ms(rfc3339))
}

/// Four contacts: Ann Lee and Bob Stone (415-555-26xx), Cat Lee and Dan Wu (415-555-30xx).
async fn four_contacts(app: &TestApp) -> (String, [pb::Contact; 4]) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut out = Vec::new();
    for (phone, first, last) in [
        ("+14155552671", "Ann", "Lee"),
        ("+14155552672", "Bob", "Stone"),
        ("+14155553001", "Cat", "Lee"),
        ("+14155553002", "Dan", "Wu"),
    ] {
        let input = pb::ContactInput {
            phone: phone.into(),
            first_name: first.into(),
            last_name: last.into(),
            ..Default::default()
        };
        out.push(app.try_contact(input, &acc).await.unwrap());
    }
    (acc, out.try_into().unwrap())
}

fn skipped(result: &pb::BulkResult) -> BTreeMap<String, i64> {
    result
        .skipped
        .iter()
        .map(|s| (s.reason.clone(), s.count))
        .collect()
}

fn ids(ids: &[i64]) -> Option<S> {
    Some(S::Ids(pb::ContactIds { ids: ids.to_vec() }))
}

// ---- export --------------------------------------------------------------------------

async fn export_lists_every_field_with_call_statistics(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let ann = app
        .try_contact(
            pb::ContactInput {
                phone: "(415) 555-2671".into(),
                first_name: "Ann".into(),
                last_name: "Lee".into(),
                email: "ann@example.com".into(),
                company: "Acme, Inc.".into(),
                title: "CTO".into(),
                time_zone: "America/Los_Angeles".into(),
                custom_fields: [("Tier", "gold"), ("Notes", "says \"hi\"")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    let bob = app
        .try_contact(
            pb::ContactInput {
                phone: "+14155552672".into(),
                custom_fields: [("Zip".to_string(), "94110".to_string())].into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    app.add_to_campaign(&acc, "spring", &[ann.id]).await;
    app.add_to_campaign(&acc, "autumn", &[ann.id]).await;
    let called = ms("2026-03-02T15:00:00Z");
    app.fixture_call_stats(&acc, ann.id, 3, called, "ANSWERED", 95)
        .await;
    app.fixture_dnc_at(&acc, &bob.phone, ms("2026-03-01T09:30:00Z"))
        .await;

    let csv = export_csv(&app, &acc, None, &[]).await;

    assert_eq!(
        csv.header,
        [
            "phone",
            "phone_extension",
            "first_name",
            "last_name",
            "email",
            "company",
            "title",
            "time_zone",
            "custom.Notes",
            "custom.Tier",
            "custom.Zip",
            "status",
            "dnc_source",
            "dnc_at",
            "consent_kind",
            "consent_captured_at",
            "consent_source",
            "campaigns",
            "call_count",
            "last_called_at",
            "last_outcome",
            "total_talk_seconds",
            "id",
            "import_batch_id",
            "created_at",
            "updated_at",
        ]
    );
    assert_eq!(csv.rows.len(), 2);
    let (a, b) = (&csv.rows[0], &csv.rows[1]);
    let expected_ann = [
        ("phone", "+14155552671"),
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("email", "ann@example.com"),
        ("company", "Acme, Inc."),
        ("title", "CTO"),
        ("time_zone", "America/Los_Angeles"),
        ("custom.Notes", "says \"hi\""),
        ("custom.Tier", "gold"),
        ("custom.Zip", ""),
        ("status", "ACTIVE"),
        ("dnc_source", ""),
        ("dnc_at", ""),
        ("consent_kind", ""),
        ("consent_captured_at", ""),
        ("consent_source", ""),
        ("campaigns", "autumn;spring"),
        ("call_count", "3"),
        ("last_called_at", "2026-03-02T15:00:00.000Z"),
        ("last_outcome", "ANSWERED"),
        ("total_talk_seconds", "95"),
    ];
    for (column, value) in expected_ann {
        assert_eq!(a[column], value, "Ann's {column}");
    }
    assert_eq!(a["id"], ann.id.to_string());
    assert!(a["created_at"].ends_with('Z'), "{}", a["created_at"]);
    let expected_bob = [
        ("phone", "+14155552672"),
        ("custom.Zip", "94110"),
        ("status", "DNC"),
        ("dnc_source", "MANUAL"),
        ("dnc_at", "2026-03-01T09:30:00.000Z"),
        ("campaigns", ""),
        ("call_count", "0"),
        ("last_called_at", ""),
    ];
    for (column, value) in expected_bob {
        assert_eq!(b[column], value, "Bob's {column}");
    }
}

async fn export_by_query_matches_names_and_phone_digits(app: TestApp) {
    let (acc, _) = four_contacts(&app).await;
    let by_name = pb::ContactFilter {
        query: "lee".into(),
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, by_name).await, ["Ann", "Cat"]);
    let by_digits = pb::ContactFilter {
        query: "(415) 555-26".into(),
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, by_digits).await, ["Ann", "Bob"]);
}

async fn export_by_status_separates_dnc_from_active(app: TestApp) {
    let (acc, [_, bob, _, _]) = four_contacts(&app).await;
    app.fixture_dnc_at(&acc, &bob.phone, 1).await;
    let status = |s: pb::ContactStatus| pb::ContactFilter {
        status: s as i32,
        ..Default::default()
    };
    assert_eq!(
        exported_names(&app, &acc, status(pb::ContactStatus::Dnc)).await,
        ["Bob"]
    );
    assert_eq!(
        exported_names(&app, &acc, status(pb::ContactStatus::Active)).await,
        ["Ann", "Cat", "Dan"]
    );
}

async fn export_by_campaign_lists_its_members(app: TestApp) {
    let (acc, [ann, _, cat, dan]) = four_contacts(&app).await;
    app.add_to_campaign(&acc, "camp-1", &[dan.id]).await;
    app.add_to_campaign(&acc, "camp-1", &[ann.id]).await;
    app.add_to_campaign(&acc, "camp-2", &[cat.id]).await;
    let filter = pb::ContactFilter {
        campaign_id: "camp-1".into(),
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, filter).await, ["Ann", "Dan"]);
}

async fn export_by_call_dates_and_never_called(app: TestApp) {
    let (acc, [ann, bob, _, _]) = four_contacts(&app).await;
    app.fixture_call_stats(&acc, ann.id, 1, ms("2026-03-01T10:00:00Z"), "NO_ANSWER", 0)
        .await;
    app.fixture_call_stats(&acc, bob.id, 2, ms("2026-03-03T10:00:00Z"), "ANSWERED", 30)
        .await;
    let after = pb::ContactFilter {
        last_called_after: Some(ts("2026-03-02T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, after).await, ["Bob"]);
    let before = pb::ContactFilter {
        last_called_before: Some(ts("2026-03-02T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, before).await, ["Ann"]);
    let never = pb::ContactFilter {
        never_called: true,
        ..Default::default()
    };
    assert_eq!(exported_names(&app, &acc, never).await, ["Cat", "Dan"]);
}

async fn export_by_ids_skips_unknown_and_foreign_ids(app: TestApp) {
    let (acc, [ann, _, _, dan]) = four_contacts(&app).await;
    let other = app.account(pb::Plan::Professional).await;
    let foreign = app.contact(&other, "+14155559999", "Eve").await;
    let export = read_export(
        &app,
        request(
            &acc,
            ids(&[dan.id, 999_999, foreign.id, ann.id, dan.id]),
            &["first_name"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        Csv::parse(&export.bytes).column("first_name"),
        ["Ann", "Dan"]
    );
    // As for the other bulk actions: the repeated id counts once, the unknown and the
    // foreign id are `not_found`, and an export changes nothing.
    let r = &export.result;
    assert_eq!((r.matched, r.changed), (2, 0), "{r:?}");
    assert_eq!(skipped(r), BTreeMap::from([("not_found".into(), 2)]));
}

async fn campaigns_are_listed_for_dense_and_sparse_selections(app: TestApp) {
    let acc = app.account_with_limit(1_000).await;
    app.seed_contacts(&acc, 0, 100).await;
    let first = app.sql_i64("SELECT MIN(id) FROM contacts").await.unwrap();
    let (second, last) = (first + 1, first + 99);
    app.add_to_campaign(&acc, "c1", &[first]).await;
    app.add_to_campaign(&acc, "c2", &[second]).await;
    app.add_to_campaign(&acc, "c2", &[first + 50]).await;
    app.add_to_campaign(&acc, "c3", &[last]).await;
    app.add_to_campaign(&acc, "c1", &[last]).await;
    // Ids close together are looked up by range, far apart by list: same answer.
    let dense = export_csv(&app, &acc, ids(&[first, second]), &["campaigns"]).await;
    assert_eq!(dense.column("campaigns"), ["c1", "c2"]);
    let sparse = export_csv(&app, &acc, ids(&[first, last]), &["campaigns"]).await;
    assert_eq!(sparse.column("campaigns"), ["c1", "c1;c3"]);
}

async fn formula_cells_are_neutralized_and_phones_stay_e164(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let cases = [
        ("+14155552671", "=HYPERLINK(\"http://x\")", "=1"),
        ("+14155552672", "+1+1", "-1"),
        ("+14155552673", "-2+3", "@x"),
        ("+14155552674", "@SUM(A1)", "plain=1"),
    ];
    for (phone, first, note) in cases {
        app.try_contact(
            pb::ContactInput {
                phone: phone.into(),
                first_name: first.into(),
                last_name: "O'Brien".into(),
                custom_fields: [("Note".to_string(), note.to_string())].into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    }
    // Leading tab and CR cannot come in through the API (values are trimmed), but stored
    // data is neutralized whatever wrote it: put them in directly.
    app.exec_sql(&format!(
        r#"UPDATE contacts SET custom_fields = '{{"Note":"=1","Tab":"\tx","CR":"\rx"}}'
           WHERE account_id = '{acc}' AND phone = '+14155552671';"#
    ))
    .await;

    let csv = export_csv(&app, &acc, None, &[]).await;
    assert_eq!(
        csv.column("phone"),
        cases.map(|c| c.0),
        "phones stay usable E.164 numbers"
    );
    assert_eq!(
        csv.column("first_name"),
        cases.map(|c| format!("'{}", c.1)),
        "formula-like names are quoted"
    );
    assert_eq!(
        csv.column("custom.Note"),
        ["'=1", "'-1", "'@x", "plain=1"],
        "only cells starting with = + - @ tab CR are quoted"
    );
    assert_eq!(csv.column("custom.Tab")[0], "'\tx");
    assert_eq!(csv.column("custom.CR")[0], "'\rx");
    assert_eq!(csv.column("last_name"), ["O'Brien"; 4]);
}

async fn chosen_columns_come_in_the_requested_order(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    app.try_contact(
        pb::ContactInput {
            phone: "+14155552671".into(),
            first_name: "Ann".into(),
            custom_fields: [("Tier".to_string(), "gold".to_string())].into(),
            ..Default::default()
        },
        &acc,
    )
    .await
    .unwrap();
    let columns = ["custom.Tier", "phone", "call_count", "custom.Missing"];
    let export = read_export(&app, request(&acc, None, &columns))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(export.bytes).unwrap(),
        "custom.Tier,phone,call_count,custom.Missing\ngold,+14155552671,0,\n"
    );
}

async fn unknown_column_is_invalid_and_named(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let err = read_export(&app, request(&acc, None, &["phone", "shoe_size"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["columns[1]"]);
    assert!(err.message().contains("shoe_size"), "{}", err.message());
}

async fn more_than_10000_ids_is_resource_exhausted(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let too_many: Vec<i64> = (1..=10_001).collect();
    let err = read_export(&app, request(&acc, ids(&too_many), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    assert!(err.message().contains("10000"), "{}", err.message());
    let err = app.bulk_delete(&acc, ids(&too_many)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    // Exactly the cap is accepted.
    let export = read_export(&app, request(&acc, ids(&too_many[..10_000]), &["phone"]))
        .await
        .unwrap();
    assert_eq!(export.bytes, b"phone\n");
    assert_eq!(
        skipped(&export.result),
        BTreeMap::from([("not_found".into(), 10_000)])
    );
}

async fn export_of_an_unknown_account_is_not_found(app: TestApp) {
    let err = read_export(&app, request("no-such-account", None, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn export_reports_progress_and_ends_with_the_total(app: TestApp) {
    let acc = app.account_with_limit(10_000).await;
    app.seed_contacts(&acc, 0, 4_500).await;
    let Export {
        bytes,
        progress,
        result,
    } = read_export(&app, request(&acc, None, &[])).await.unwrap();
    assert_eq!(Csv::parse(&bytes).rows.len(), 4_500);
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&4_500));
    assert_eq!((result.matched, result.changed), (4_500, 0));
    assert!(
        result.skipped.is_empty(),
        "a filter skips nothing: {result:?}"
    );
}

/// `--max-concurrent-exports`: while every slot is taken by a running export, one more is
/// refused with RESOURCE_EXHAUSTED naming the flag and the cap; the slot comes back when
/// the client holding it goes away, and the next export runs to the end.
async fn exports_past_the_cap_are_refused_until_one_ends(app: TestApp) {
    let capped = TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.max_concurrent_exports = 1,
    )
    .await;
    let acc = capped.account_with_limit(100_000).await;
    // Wide rows, more than the server's buffers and the stream's flow-control window
    // hold: the first export stays running while its client reads nothing.
    capped.seed_contacts(&acc, 0, 30_000).await;
    let (running, _) = start_export(&capped, &acc).await;

    let err = read_export(&capped, request(&acc, None, &[]))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("--max-concurrent-exports") && err.message().contains("cap of 1"),
        "{}",
        err.message()
    );

    drop(running);
    // The server learns of the cancelled stream asynchronously.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let export = loop {
        match read_export(&capped, request(&acc, None, &[])).await {
            Ok(export) => break export,
            Err(e)
                if e.code() == Code::ResourceExhausted && std::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the slot did not come back: {e:?}"),
        }
    };
    assert_eq!(Csv::parse(&export.bytes).rows.len(), 30_000);
    assert_eq!(export.result.matched, 30_000);
}

async fn export_is_a_snapshot_while_contacts_are_written(app: TestApp) {
    const SEEDED: u32 = 30_000;
    let acc = app.account_with_limit(100_000).await;
    let seeded = app.seed_contacts(&acc, 0, SEEDED).await;
    let last_id = app
        .sql_i64("SELECT MAX(id) FROM contacts")
        .await
        .expect("seeded");
    // Every column: wide rows, so the server's bounded buffers hold only a few thousand
    // rows ahead of this (deliberately slow) reader.
    let (mut stream, first) = start_export(&app, &acc).await;
    let mut bytes = Vec::new();
    if let Some(Event::Chunk(c)) = first.event {
        bytes.extend_from_slice(&c);
    }

    // While the export is under way: new contacts, a rename and a delete at the end of
    // the id range (which the export has not reached yet).
    let mut client = app.new_client().await;
    for i in 0..20 {
        app.contact(&acc, &format!("+1415555{:04}", 1000 + i), "Late")
            .await;
    }
    client
        .update_contact(pb::UpdateContactRequest {
            account_id: acc.clone(),
            contact_id: last_id,
            contact: Some(pb::ContactInput {
                first_name: "Renamed".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["first_name".into()],
            }),
        })
        .await
        .unwrap();
    client
        .delete_contact(pb::DeleteContactRequest {
            account_id: acc.clone(),
            contact_id: last_id - 1,
        })
        .await
        .unwrap();

    while let Some(msg) = stream.message().await.unwrap() {
        if let Some(Event::Chunk(c)) = msg.event {
            bytes.extend_from_slice(&c);
        }
    }
    let csv = Csv::parse(&bytes);
    let phones = csv.column("phone");
    let before: HashSet<&String> = seeded.iter().collect();
    let extra: Vec<_> = phones.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        extra.is_empty(),
        "rows written during the export: {extra:?}"
    );
    assert!(
        phones == seeded,
        "not exactly the contacts at the start, in id order"
    );
    let last = csv.rows.last().unwrap();
    assert_eq!(last["id"], last_id.to_string());
    assert_eq!(last["first_name"], format!("Seed{:06}", SEEDED - 1));
}

/// A client's `grpc-timeout` bounds the whole export stream, not only its start: a
/// reader too slow to finish in time gets DEADLINE_EXCEEDED instead of the rest.
async fn an_export_past_its_deadline_ends_with_deadline_exceeded(app: TestApp) {
    const SEEDED: u32 = 30_000;
    let acc = app.account_with_limit(100_000).await;
    app.seed_contacts(&acc, 0, SEEDED).await;
    // Every column: wide rows, so the server's bounded buffers hold only a few thousand
    // rows ahead of this reader, which pauses past its deadline after the first message.
    let timeout = std::time::Duration::from_secs(1);
    let mut req = tonic::Request::new(request(&acc, None, &[]));
    req.set_timeout(timeout);
    let mut stream = app
        .client
        .clone()
        .export_contacts(req)
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    let mut status = None;
    let mut first = true;
    loop {
        match stream.message().await {
            Ok(Some(msg)) => {
                if let Some(Event::Chunk(c)) = msg.event {
                    bytes.extend_from_slice(&c);
                }
            }
            Ok(None) => break,
            Err(e) => {
                status = Some(e);
                break;
            }
        }
        if first {
            first = false;
            tokio::time::sleep(timeout * 2).await;
        }
    }
    let status = status.expect("the export ran past its deadline to the end");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    let rows = Csv::parse(&bytes).rows.len();
    assert!(rows < SEEDED as usize, "{rows} rows arrived");
}

/// Negotiated compression: a client that gzips its import stream is read, and one that
/// accepts gzip gets its export compressed (`grpc-encoding: gzip`), the same CSV.
async fn a_gzip_client_imports_compressed_and_gets_its_export_compressed(app: TestApp) {
    use pb::import_contacts_request::Payload;
    use tonic::codec::CompressionEncoding::Gzip;
    let acc = app.account_with_limit(10_000).await;
    let mut client = app
        .new_client()
        .await
        .send_compressed(Gzip)
        .accept_compressed(Gzip);
    let mut file = String::from("phone,first_name\n");
    for i in 0..2_000 {
        file.push_str(&format!("+1415555{i:04},Name{i}\n"));
    }
    let msgs = [
        Payload::Options(pb::ImportOptions {
            account_id: acc.clone(),
            ..Default::default()
        }),
        Payload::Chunk(file.into_bytes()),
    ]
    .map(|p| pb::ImportContactsRequest { payload: Some(p) });
    let mut events = client
        .import_contacts(tokio_stream::iter(msgs))
        .await
        .expect("a compressed import is accepted")
        .into_inner();
    let mut finished = None;
    while let Some(m) = events.message().await.expect("import events") {
        if let Some(pb::import_contacts_response::Event::Finished(b)) = m.event {
            finished = Some(b);
        }
    }
    let counts = finished.expect("finished").counts.expect("counts");
    assert_eq!(counts.imported, 2_000, "{counts:?}");

    let reply = client
        .export_contacts(request(&acc, None, &["phone", "first_name"]))
        .await
        .expect("export");
    let encoding = reply.metadata().get("grpc-encoding").cloned();
    assert_eq!(encoding.as_ref().map(|v| v.to_str().unwrap()), Some("gzip"));
    let mut stream = reply.into_inner();
    let mut bytes = Vec::new();
    while let Some(m) = stream.message().await.expect("export messages") {
        if let Some(Event::Chunk(c)) = m.event {
            bytes.extend_from_slice(&c);
        }
    }
    let csv = Csv::parse(&bytes);
    assert_eq!(csv.rows.len(), 2_000);
    assert_eq!(csv.rows[1999]["first_name"], "Name1999");
}

async fn cli_export_writes_the_filtered_csv_to_a_file(app: TestApp) {
    use clap::Parser;
    let (acc, [_, bob, _, _]) = four_contacts(&app).await;
    app.fixture_dnc_at(&acc, &bob.phone, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let server = format!("http://{}", app.addr);
    let cli = contactd::config::Cli::parse_from([
        "contactd",
        "export",
        "--server",
        &server,
        "--account",
        &acc,
        "--query",
        "lee",
        "--status",
        "active",
        "--never-called",
        "--columns",
        "first_name,phone",
        "-o",
        path.to_str().unwrap(),
    ]);
    contactd::cli::run(cli).await.expect("export runs");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "first_name,phone\nAnn,+14155552671\nCat,+14155553001\n"
    );
    assert!(!dir.path().join("out.csv.partial").exists());

    let bad = contactd::config::Cli::parse_from([
        "contactd",
        "export",
        "--server",
        &server,
        "--account",
        "no-such-account",
        "-o",
        dir.path().join("bad.csv").to_str().unwrap(),
    ]);
    assert!(contactd::cli::run(bad).await.is_err());
    assert!(!dir.path().join("bad.csv").exists());
    assert!(!dir.path().join("bad.csv.partial").exists());
}

/// `-o -`: the CSV goes to stdout and nothing else does (progress is on stderr), with
/// the campaign and called-after filters: each of them leaves a contact out.
async fn cli_export_to_stdout_writes_only_the_csv_there(app: TestApp) {
    let (acc, [ann, bob, _, dan]) = four_contacts(&app).await;
    app.add_to_campaign(&acc, "spring", &[ann.id, dan.id]).await;
    for (c, at) in [
        (&ann, "2026-03-03T10:00:00Z"),
        (&bob, "2026-03-05T10:00:00Z"),
        (&dan, "2026-03-01T10:00:00Z"),
    ] {
        app.fixture_call_stats(&acc, c.id, 1, ms(at), "ANSWERED", 30)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_contactd"))
        .current_dir(dir.path())
        .args(["export", "--server", &format!("http://{}", app.addr)])
        .args(["--account", &acc, "--campaign", "spring"])
        .args(["--called-after", "2026-03-02T00:00:00Z"])
        .args([
            "--columns",
            "first_name,phone,campaigns,last_called_at",
            "-o",
            "-",
        ])
        .output()
        .await
        .expect("contactd runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "first_name,phone,campaigns,last_called_at\n\
         Ann,+14155552671,spring,2026-03-03T10:00:00.000Z\n"
    );
    assert!(stderr.contains("exported 1 rows"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file is written"
    );
}

// ---- bulk delete ---------------------------------------------------------------------

async fn bulk_delete_by_ids_counts_deleted_and_not_found(app: TestApp) {
    let (acc, [ann, bob, cat, _]) = four_contacts(&app).await;
    let other = app.account(pb::Plan::Professional).await;
    let foreign = app.contact(&other, "+14155559999", "Eve").await;
    let result = app
        .bulk_delete(&acc, ids(&[ann.id, bob.id, 999_999, foreign.id, ann.id]))
        .await
        .unwrap();
    // `matched` counts contacts found (as for MarkDnc and AddToCampaign); the unknown and
    // foreign ids are `not_found`, the repeated id counts once.
    assert_eq!((result.matched, result.changed), (2, 2));
    assert_eq!(skipped(&result), BTreeMap::from([("not_found".into(), 2)]));
    let left: Vec<_> = app
        .list_all(&acc, Default::default())
        .await
        .into_iter()
        .map(|c| c.first_name)
        .collect();
    assert_eq!(left, ["Dan", "Cat"]);
    assert_eq!(app.get_account(&acc).await.contact_count, 2);
    assert_eq!(app.get_account(&other).await.contact_count, 1);
    let again = app.bulk_delete(&acc, ids(&[cat.id])).await.unwrap();
    assert_eq!((again.matched, again.changed), (1, 1));
}

async fn bulk_delete_by_filter_deletes_only_matching_contacts(app: TestApp) {
    let acc = app.account_with_limit(10_000).await;
    app.seed_contacts(&acc, 0, 2_500).await;
    app.contact(&acc, "+14155552671", "Ann").await;
    app.contact(&acc, "+14155552672", "Bob").await;
    let filter = pb::ContactFilter {
        query: "seed".into(),
        ..Default::default()
    };
    let result = app
        .bulk_delete(&acc, Some(S::Filter(filter)))
        .await
        .unwrap();
    assert_eq!((result.matched, result.changed), (2_500, 2_500));
    assert!(result.skipped.is_empty(), "{:?}", result.skipped);
    assert_eq!(app.get_account(&acc).await.contact_count, 2);
    let left: Vec<_> = app
        .list_all(&acc, Default::default())
        .await
        .into_iter()
        .map(|c| c.first_name)
        .collect();
    assert_eq!(left, ["Bob", "Ann"]);
    // An empty filter is an explicit "everything".
    let all = app
        .bulk_delete(&acc, Some(S::Filter(Default::default())))
        .await
        .unwrap();
    assert_eq!((all.matched, all.changed), (2, 2));
    assert_eq!(app.get_account(&acc).await.contact_count, 0);
}

async fn bulk_delete_requires_a_selection(app: TestApp) {
    let (acc, _) = four_contacts(&app).await;
    let err = app.bulk_delete(&acc, None).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["selection"]);
    assert_eq!(app.get_account(&acc).await.contact_count, 4);
}

async fn dnc_entry_survives_bulk_delete(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    app.fixture_dnc_at(&acc, &c.phone, ms("2026-03-01T09:30:00Z"))
        .await;
    let result = app.bulk_delete(&acc, ids(&[c.id])).await.unwrap();
    assert_eq!(result.changed, 1);

    let again = app.contact(&acc, "(415) 555-2671", "Ann").await;
    assert_ne!(again.id, c.id);
    assert_eq!(again.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(again.dnc_source, pb::DncSource::Manual as i32);
}

async fn call_records_survive_bulk_delete_unlinked(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    app.fixture_call_stats(&acc, c.id, 1, 1_000, "ANSWERED", 60)
        .await;
    app.bulk_delete(&acc, ids(&[c.id])).await.unwrap();
    let call = format!("FROM calls WHERE external_id = 'call-{}'", c.id);
    assert_eq!(
        app.sql_i64(&format!("SELECT COUNT(*) {call}")).await,
        Some(1)
    );
    assert_eq!(
        app.sql_i64(&format!("SELECT duration_seconds {call}"))
            .await,
        Some(60)
    );
    assert_eq!(
        app.sql_i64(&format!("SELECT contact_id {call}")).await,
        None
    );
}

/// `-o /dev/null` once replaced the device with a plain file (rename into place); a
/// special file is now written in place. A FIFO stands in for the device here.
async fn cli_export_into_a_fifo_keeps_the_fifo(app: TestApp) {
    use clap::Parser;
    use std::os::unix::fs::FileTypeExt;
    let (acc, _) = four_contacts(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let server = format!("http://{}", app.addr);
    let cli = contactd::config::Cli::parse_from([
        "contactd",
        "export",
        "--server",
        &server,
        "--account",
        &acc,
        "--columns",
        "phone",
        "-o",
        fifo.to_str().unwrap(),
    ]);
    contactd::cli::run(cli).await.expect("export runs");
    // Checked first: with the FIFO replaced, the reader would wait forever.
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the FIFO was replaced"
    );
    let text = reader.join().unwrap();
    assert!(text.starts_with("phone\n+1"), "{text}");
}
