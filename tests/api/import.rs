//! Importing contacts: the request and its events, structured rows, the preview, DNC
//! numbers and campaigns, and an export imported back. The helpers here serve every
//! import test module (import_csv, import_duplicates, import_limits, import_batches) and
//! other modules that import.

use crate::helpers::{TestApp, all_pages, violated_fields};
use contactd::pb::{self, import_contacts_request::Payload, import_contacts_response::Event};
use tonic::Code;

both!(
    campaign_import_excludes_dnc_contacts,
    a_new_contact_on_the_dnc_list_is_stored_as_dnc,
    structured_rows_import_without_csv,
    preview_reports_the_file_and_stores_nothing,
    a_file_without_a_phone_column_is_refused_before_anything_is_stored,
    an_export_imports_back_into_an_empty_account_as_the_same_contacts,
);

/// The documentation's example file (`shared/data/seed_example.csv`), verbatim.
pub(crate) const SEED_EXAMPLE: &str = "phone,first_name,last_name,email,company\n\
+15551234567,John,Smith,john@example.com,Acme Corp\n\
+15559876543,Jane,Doe,jane@example.com,Beta Inc\n";

pub(crate) fn options(account: &str) -> pb::ImportOptions {
    pb::ImportOptions {
        account_id: account.into(),
        ..Default::default()
    }
}

/// A valid US number, distinct for each `i` below 10,000.
pub(crate) fn number(i: usize) -> String {
    format!("+1415555{i:04}")
}

pub(crate) fn request_stream(
    opts: pb::ImportOptions,
    file: &[u8],
    chunk: usize,
) -> Vec<pb::ImportContactsRequest> {
    let mut msgs = vec![pb::ImportContactsRequest {
        payload: Some(Payload::Options(opts)),
    }];
    msgs.extend(file.chunks(chunk).map(|c| pb::ImportContactsRequest {
        payload: Some(Payload::Chunk(c.to_vec())),
    }));
    msgs
}

/// Imports `file` in pieces of `chunk` bytes; returns every event.
pub(crate) async fn import_events(
    app: &TestApp,
    opts: pb::ImportOptions,
    file: &[u8],
    chunk: usize,
) -> Result<Vec<Event>, tonic::Status> {
    let msgs = request_stream(opts, file, chunk);
    let mut resp = app
        .client
        .clone()
        .import_contacts(tokio_stream::iter(msgs))
        .await?
        .into_inner();
    let mut events = Vec::new();
    while let Some(m) = resp.message().await? {
        events.push(m.event.expect("an event"));
    }
    Ok(events)
}

/// Imports `file`; returns the finished batch.
pub(crate) async fn try_import(
    app: &TestApp,
    opts: pb::ImportOptions,
    file: &[u8],
) -> Result<pb::ImportBatch, tonic::Status> {
    let events = import_events(app, opts, file, 61).await?;
    assert!(
        matches!(events.first(), Some(Event::Started(_))),
        "started first"
    );
    match events.last() {
        Some(Event::Finished(b)) => Ok(b.clone()),
        other => panic!("the last event is not the finished batch: {other:?}"),
    }
}

/// Imports `file`; returns the finished batch (other modules' tests import with it too).
pub(crate) async fn import(app: &TestApp, opts: pb::ImportOptions, file: &[u8]) -> pb::ImportBatch {
    try_import(app, opts, file).await.expect("import")
}

pub(crate) fn counts(b: &pb::ImportBatch) -> pb::ImportCounts {
    b.counts.expect("counts")
}

pub(crate) async fn errors(app: &TestApp, account: &str, batch: &str) -> Vec<pb::ImportError> {
    all_pages(async |page_token| {
        let page = app
            .client
            .clone()
            .list_import_errors(pb::ListImportErrorsRequest {
                account_id: account.into(),
                batch_id: batch.into(),
                page_size: 1000,
                page_token,
            })
            .await
            .expect("list errors")
            .into_inner();
        (page.errors, page.next_page_token)
    })
    .await
}

pub(crate) async fn by_phone(app: &TestApp, account: &str, phone: &str) -> pb::Contact {
    app.list_all(account, pb::ContactFilter::default())
        .await
        .into_iter()
        .find(|c| c.phone == phone)
        .unwrap_or_else(|| panic!("{phone} is not stored"))
}

pub(crate) async fn get_contact(app: &TestApp, account: &str, id: i64) -> pb::Contact {
    app.client
        .clone()
        .get_contact(pb::GetContactRequest {
            account_id: account.into(),
            contact_id: id,
        })
        .await
        .expect("get contact")
        .into_inner()
        .contact
        .unwrap()
}

/// The account's import batches, newest first (one page).
pub(crate) async fn list_batches(app: &TestApp, account: &str) -> Vec<pb::ImportBatch> {
    app.client
        .clone()
        .list_import_batches(pb::ListImportBatchesRequest {
            account_id: account.into(),
            ..Default::default()
        })
        .await
        .expect("list batches")
        .into_inner()
        .batches
}

pub(crate) async fn get_batch(app: &TestApp, account: &str, batch: &str) -> pb::ImportBatch {
    app.client
        .clone()
        .get_import_batch(pb::GetImportBatchRequest {
            account_id: account.into(),
            batch_id: batch.into(),
        })
        .await
        .expect("get batch")
        .into_inner()
        .batch
        .unwrap()
}

pub(crate) fn field_of(b: &pb::ImportBatch, column: &str) -> pb::ContactField {
    b.mapping
        .iter()
        .find(|m| m.column == column)
        .map(|m| m.field())
        .unwrap_or(pb::ContactField::Unspecified)
}

pub(crate) fn numbers_file(range: std::ops::Range<usize>) -> String {
    let mut f = String::from("phone,first_name\n");
    for i in range {
        f.push_str(&format!("{},P{i}\n", number(i)));
    }
    f
}

/// Imports `file` in 64 KiB pieces; returns the finished batch.
pub(crate) async fn import_fast(
    app: &TestApp,
    opts: pb::ImportOptions,
    file: &[u8],
) -> pb::ImportBatch {
    match import_events(app, opts, file, 64 << 10)
        .await
        .expect("import")
        .pop()
    {
        Some(Event::Finished(b)) => b,
        other => panic!("the last event is not the finished batch: {other:?}"),
    }
}

async fn campaign_import_excludes_dnc_contacts(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let a = app.contact(&acc, &number(1), "A").await;
    let b = app.contact(&acc, &number(2), "B").await;
    app.mark_dnc(&acc, &[], &[&number(1)], pb::DncSource::Manual)
        .await; // a stored DNC contact
    app.mark_dnc(&acc, &[], &[&number(3)], pb::DncSource::Manual)
        .await; // a listed number not stored yet
    let mut opts = options(&acc);
    opts.campaign_id = "spring".into();
    let file = format!(
        "phone\n{}\n{}\n{}\n{}\n",
        number(1),
        number(2),
        number(3),
        number(4)
    );
    let batch = import(&app, opts, file.as_bytes()).await;
    let c = counts(&batch);
    assert_eq!(
        (
            c.imported,
            c.duplicates_existing,
            c.dnc,
            c.dnc_excluded,
            c.added_to_campaign
        ),
        (2, 2, 2, 2, 2)
    );
    let campaigns = |c: pb::Contact| c.campaign_ids;
    assert!(campaigns(get_contact(&app, &acc, a.id).await).is_empty());
    assert_eq!(campaigns(get_contact(&app, &acc, b.id).await), ["spring"]);
    let listed = by_phone(&app, &acc, &number(3)).await;
    assert!(campaigns(get_contact(&app, &acc, listed.id).await).is_empty());
    let new = by_phone(&app, &acc, &number(4)).await;
    assert_eq!(campaigns(get_contact(&app, &acc, new.id).await), ["spring"]);
}

async fn a_new_contact_on_the_dnc_list_is_stored_as_dnc(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    app.mark_dnc(&acc, &[], &[&number(7)], pb::DncSource::Manual)
        .await;
    let file = format!("phone\n{}\n{}\n", number(7), number(8));
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).dnc), (2, 1));
    let listed = by_phone(&app, &acc, &number(7)).await;
    assert_eq!(listed.status, pb::ContactStatus::Dnc as i32);
    assert_eq!(listed.import_batch_id, b.id);
    let other = by_phone(&app, &acc, &number(8)).await;
    assert_eq!(other.status, pb::ContactStatus::Active as i32);
}

async fn structured_rows_import_without_csv(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let row = |phone: &str, first: &str| pb::ImportRow {
        contact: Some(pb::ContactInput {
            phone: phone.into(),
            first_name: first.into(),
            custom_fields: [("source".to_string(), "crm".to_string())].into(),
            ..Default::default()
        }),
    };
    let msgs = vec![
        pb::ImportContactsRequest {
            payload: Some(Payload::Options(options(&acc))),
        },
        pb::ImportContactsRequest {
            payload: Some(Payload::Rows(pb::ImportRows {
                rows: vec![row("(415) 555-0100", "Ann"), row("nope", "Bad")],
            })),
        },
        pb::ImportContactsRequest {
            payload: Some(Payload::Rows(pb::ImportRows {
                rows: vec![row("+14155550101", "Bo"), row("+1 415 555 0100", "Dup")],
            })),
        },
    ];
    let mut resp = app
        .client
        .clone()
        .import_contacts(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(m) = resp.message().await.unwrap() {
        last = m.event;
    }
    let Some(Event::Finished(b)) = last else {
        panic!("not finished")
    };
    let c = counts(&b);
    assert_eq!(
        (c.rows, c.imported, c.invalid, c.duplicates_in_file),
        (4, 2, 1, 1)
    );
    let ann = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        ann.custom_fields.get("source").map(String::as_str),
        Some("crm")
    );
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!((errs[0].line, errs[0].column.as_str()), (2, "phone"));
}

pub(crate) async fn preview(
    app: &TestApp,
    opts: pb::ImportOptions,
    file: &[u8],
) -> Result<pb::PreviewImportResponse, tonic::Status> {
    let mut msgs = vec![pb::PreviewImportRequest {
        payload: Some(pb::preview_import_request::Payload::Options(opts)),
        sample_rows: 2,
    }];
    msgs.extend(file.chunks(5).map(|c| pb::PreviewImportRequest {
        payload: Some(pb::preview_import_request::Payload::Chunk(c.to_vec())),
        sample_rows: 0,
    }));
    app.client
        .clone()
        .preview_import(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner())
}

async fn preview_reports_the_file_and_stores_nothing(app: TestApp) {
    let acc = app.account_with_limit(4).await;
    app.contact(&acc, &number(1), "Stored").await;
    app.mark_dnc(&acc, &[], &[&number(2)], pb::DncSource::Manual)
        .await;
    let file = format!(
        "Mobile;Given Name;Notes\n{};Ann;x\n{};Bo;y\n{};Cy;z\nbad;Di;w\n{};Ed;v\n{};Fi;u\n{};Gus;t\n",
        number(1),
        number(2),
        number(3),
        number(3),
        number(4),
        number(5)
    );
    let p = preview(&app, options(&acc), file.as_bytes()).await.unwrap();
    assert_eq!((p.delimiter.as_str(), p.encoding.as_str()), (";", "UTF-8"));
    assert_eq!(p.unmapped_columns, ["Notes"]);
    assert_eq!(p.sample.len(), 2);
    assert_eq!(p.sample[0].phone, number(1));
    assert_eq!(p.sample[0].first_name, "Ann");
    let c = p.counts.unwrap();
    assert_eq!(
        (
            c.rows,
            c.imported,
            c.duplicates_existing,
            c.duplicates_in_file,
            c.invalid,
            c.over_limit,
            c.dnc
        ),
        (7, 3, 1, 1, 1, 1, 1)
    );
    let kinds: Vec<(i64, &str)> = p.errors.iter().map(|e| (e.line, e.kind.as_str())).collect();
    assert_eq!(kinds, [(5, "invalid_phone"), (8, "over_limit")]);
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 1);
    assert_eq!(app.get_account(&acc).await.contact_count, 1);
    let batches = list_batches(&app, &acc).await;
    assert!(batches.is_empty());
}

async fn a_file_without_a_phone_column_is_refused_before_anything_is_stored(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let err = try_import(&app, options(&acc), b"name,email\nAnn,ann@acme.com\n")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["options.mapping"]);
    let mut opts = options(&acc);
    opts.mapping = vec![pb::ColumnMapping {
        column: "Cell".into(),
        field: pb::ContactField::Phone as i32,
        custom_field_name: String::new(),
    }];
    let err = try_import(&app, opts, b"name,email\nAnn,ann@acme.com\n")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["options.mapping[0].column"]);
    let batches = list_batches(&app, &acc).await;
    assert!(batches.is_empty());
}

/// The export's CSV is a valid import: contact fields and `custom.<key>` columns come
/// back as they were; the export-only columns (status, statistics, ids) are ignored.
async fn an_export_imports_back_into_an_empty_account_as_the_same_contacts(app: TestApp) {
    use pb::export_contacts_response::Event as ExportEvent;
    let acc = app.account(pb::Plan::Professional).await;
    let inputs = [
        pb::ContactInput {
            phone: "+14155552671".into(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            email: "ann@example.com".into(),
            company: "Acme, \"the\" Inc.".into(),
            title: "CTO".into(),
            time_zone: "America/Chicago".into(),
            custom_fields: [("Notes", "line one\nline two"), ("Tier", "gold")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            ..Default::default()
        },
        pb::ContactInput {
            phone: "+442079460018".into(),
            first_name: "=cmd|' /C calc'!A0".into(),
            custom_fields: [("Zip".to_string(), "SW1A".to_string())].into(),
            ..Default::default()
        },
        pb::ContactInput {
            phone: "+14155552672".into(),
            last_name: "Ünïcødé".into(),
            ..Default::default()
        },
        // Every character the export neutralizes that a stored value can start with, and
        // values that already look neutralized or merely start with a quote.
        pb::ContactInput {
            phone: "+14155552673".into(),
            first_name: "'=looks neutralized".into(),
            last_name: "-Dash".into(),
            company: "@corp".into(),
            title: "'tis".into(),
            custom_fields: [("Score", "+1"), ("Quoted", "''-x"), ("Tier", "'")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            ..Default::default()
        },
    ];
    for input in inputs {
        app.try_contact(input, &acc).await.unwrap();
    }
    let mut stream = app
        .client
        .clone()
        .export_contacts(pb::ExportContactsRequest {
            account_id: acc.clone(),
            selection: None,
            columns: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let mut csv = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        if let Some(ExportEvent::Chunk(c)) = m.event {
            csv.extend(c);
        }
    }

    let copy = app.account(pb::Plan::Professional).await;
    let batch = import(
        &app,
        pb::ImportOptions {
            account_id: copy.clone(),
            ..Default::default()
        },
        &csv,
    )
    .await;
    assert_eq!(counts(&batch).imported, 4, "{batch:?}");
    let text = String::from_utf8_lossy(&csv);
    assert!(
        text.contains(",'=cmd|"),
        "the export neutralized the formula: {text}"
    );
    let fields = |c: pb::Contact| {
        let custom: std::collections::BTreeMap<_, _> = c.custom_fields.into_iter().collect();
        (
            c.phone,
            c.first_name,
            c.last_name,
            c.email,
            c.company,
            c.title,
            c.time_zone,
            custom,
        )
    };
    let mut original: Vec<_> = app
        .list_all(&acc, Default::default())
        .await
        .into_iter()
        .map(fields)
        .collect();
    let mut imported: Vec<_> = app
        .list_all(&copy, Default::default())
        .await
        .into_iter()
        .map(fields)
        .collect();
    original.sort();
    imported.sort();
    // Exactly: the quote an export adds against formula injection is taken off again.
    assert_eq!(imported, original);
}
