//! CSV and structured-row import: detection, encodings, validation, duplicates, plan
//! limits, campaigns and DNC, batch tracking, retries and the rejected-rows round trip.

use crate::helpers::{TestApp, all_pages, clock_at, violated_fields};
use contactd::pb::{self, import_contacts_request::Payload, import_contacts_response::Event};
use std::sync::Arc;
use tonic::Code;

both!(
    an_import_over_the_size_cap_fails_naming_the_cap,
    an_export_imports_back_into_an_empty_account_as_the_same_contacts,
    outlook_export_headers_are_mapped,
    google_contacts_export_headers_are_mapped,
    hubspot_export_headers_are_mapped,
    every_encoding_imports_the_same_names,
    semicolon_and_tab_delimiters_are_detected,
    quoted_newlines_stay_in_the_field_and_lines_count_physically,
    quotes_backslashes_and_emoji_are_stored_verbatim_and_tabs_refused,
    ragged_rows_are_rejected_per_line,
    oversized_fields_are_rejected_per_row,
    strict_flags_the_example_file_and_lenient_imports_it,
    spreadsheet_scientific_notation_is_rejected,
    local_numbers_use_the_given_region,
    spellings_of_one_number_are_one_contact,
    the_first_of_many_duplicates_wins_across_a_large_chunk,
    update_policies_fill_or_overwrite_stored_contacts,
    rows_past_the_plan_limit_are_rejected_at_the_boundary,
    concurrent_imports_never_pass_the_limit,
    a_large_import_past_the_limit_keeps_the_files_first_rows,
    imports_racing_for_the_last_slots_store_exactly_the_limit,
    chunks_of_stored_and_new_numbers_import_exactly,
    two_imports_of_the_same_numbers_at_once_store_each_number_once,
    an_updating_import_and_a_bulk_delete_of_the_same_contacts_both_finish,
    a_campaign_import_and_add_to_campaign_of_the_same_contacts_both_finish,
    campaign_import_excludes_dnc_contacts,
    a_new_contact_on_the_dnc_list_is_stored_as_dnc,
    disconnect_mid_stream_leaves_a_cancelled_batch_with_exact_counts,
    imports_past_the_cap_are_refused_until_one_ends,
    an_import_past_its_deadline_ends_cancelled_with_exact_counts,
    retry_with_the_same_request_id_imports_once,
    structured_rows_import_without_csv,
    rejected_rows_download_as_csv_to_fix_and_reimport,
    preview_reports_the_file_and_stores_nothing,
    a_file_without_a_phone_column_is_refused_before_anything_is_stored,
    progress_is_reported_while_importing,
    batches_are_listed_newest_first,
    a_batch_left_running_by_a_dead_server_is_failed_at_start_up,
);

/// The documentation's example file (`shared/data/seed_example.csv`), verbatim.
const SEED_EXAMPLE: &str = "phone,first_name,last_name,email,company\n\
+15551234567,John,Smith,john@example.com,Acme Corp\n\
+15559876543,Jane,Doe,jane@example.com,Beta Inc\n";

fn options(account: &str) -> pb::ImportOptions {
    pb::ImportOptions {
        account_id: account.into(),
        ..Default::default()
    }
}

/// A valid US number, distinct for each `i` below 10,000.
fn number(i: usize) -> String {
    format!("+1415555{i:04}")
}

fn request_stream(
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
async fn import_events(
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

fn counts(b: &pb::ImportBatch) -> pb::ImportCounts {
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

async fn by_phone(app: &TestApp, account: &str, phone: &str) -> pb::Contact {
    app.list_all(account, pb::ContactFilter::default())
        .await
        .into_iter()
        .find(|c| c.phone == phone)
        .unwrap_or_else(|| panic!("{phone} is not stored"))
}

async fn get_contact(app: &TestApp, account: &str, id: i64) -> pb::Contact {
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

async fn get_batch(app: &TestApp, account: &str, batch: &str) -> pb::ImportBatch {
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

fn field_of(b: &pb::ImportBatch, column: &str) -> pb::ContactField {
    b.mapping
        .iter()
        .find(|m| m.column == column)
        .map(|m| m.field())
        .unwrap_or(pb::ContactField::Unspecified)
}

async fn outlook_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "\"Title\",\"First Name\",\"Last Name\",\"Company\",\"Job Title\",\"Business Phone\",\"Mobile Phone\",\"E-mail Address\"\r\n\
\"Dr.\",\"Ann\",\"Lee\",\"Acme\",\"CTO\",\"(415) 555-0100\",\"\",\"ann@acme.com\"\r\n\
\"\",\"Bo\",\"Ng\",\"Beta\",\"CEO\",\"(415) 555-0101\",\"+1 415 555 0102\",\"\"\r\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 2);
    assert_eq!(field_of(&b, "Job Title"), pb::ContactField::Title);
    assert_eq!(field_of(&b, "Title"), pb::ContactField::Unspecified);
    let ann = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        (ann.first_name.as_str(), ann.last_name.as_str()),
        ("Ann", "Lee")
    );
    assert_eq!(
        (ann.title.as_str(), ann.email.as_str()),
        ("CTO", "ann@acme.com")
    );
    // The mobile number wins over the business one when both are there.
    let bo = by_phone(&app, &acc, "+14155550102").await;
    assert_eq!(bo.company, "Beta");
}

async fn google_contacts_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Organization 1 - Name,Organization 1 - Title\n\
Ann Lee,Ann,Lee,* Work,ann@acme.com,Mobile,+1 415-555-0100,Acme,CTO\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    assert_eq!(field_of(&b, "Phone 1 - Value"), pb::ContactField::Phone);
    assert_eq!(
        field_of(&b, "Phone 1 - Type"),
        pb::ContactField::Unspecified
    );
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        (
            c.first_name.as_str(),
            c.last_name.as_str(),
            c.email.as_str(),
            c.company.as_str(),
            c.title.as_str()
        ),
        ("Ann", "Lee", "ann@acme.com", "Acme", "CTO")
    );
}

async fn hubspot_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Lifecycle Stage\n\
501,Ann,Lee,ann@acme.com,4155550100,Acme,CTO,lead\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!((c.company.as_str(), c.title.as_str()), ("Acme", "CTO"));
    assert_eq!(
        c.custom_fields.get("Lifecycle Stage").map(String::as_str),
        Some("lead"),
        "unmapped columns kept as custom fields when asked"
    );
    assert_eq!(
        c.custom_fields.get("Record ID").map(String::as_str),
        Some("501")
    );
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

async fn every_encoding_imports_the_same_names(app: TestApp) {
    let text = "phone,first_name,last_name\n+14155550100,José,Müller\n";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let latin: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect();
    let cases = [
        ("UTF-8", text.as_bytes().to_vec()),
        ("UTF-8 (BOM)", bom),
        ("UTF-16LE", utf16(text, false)),
        ("UTF-16BE", utf16(text, true)),
        ("windows-1252", latin),
    ];
    for (encoding, bytes) in cases {
        let acc = app.account(pb::Plan::Professional).await;
        // Odd chunk sizes split multi-byte characters across messages.
        let events = import_events(&app, options(&acc), &bytes, 3).await.unwrap();
        let Some(Event::Finished(b)) = events.last() else {
            panic!("{encoding}: not finished");
        };
        assert_eq!(b.encoding, encoding);
        assert_eq!(counts(b).imported, 1, "{encoding}");
        let c = by_phone(&app, &acc, "+14155550100").await;
        assert_eq!(
            (c.first_name.as_str(), c.last_name.as_str()),
            ("José", "Müller"),
            "{encoding}"
        );
    }
}

async fn semicolon_and_tab_delimiters_are_detected(app: TestApp) {
    for (delimiter, file) in [
        (
            ";",
            "phone;first_name;company\n+14155550100;Ann;Acme, Inc.\n",
        ),
        (
            "\t",
            "phone\tfirst_name\tcompany\n+14155550100\tAnn\tAcme, Inc.\n",
        ),
    ] {
        let acc = app.account(pb::Plan::Professional).await;
        let b = import(&app, options(&acc), file.as_bytes()).await;
        assert_eq!(b.delimiter, delimiter);
        let c = by_phone(&app, &acc, "+14155550100").await;
        assert_eq!(
            (c.first_name.as_str(), c.company.as_str()),
            ("Ann", "Acme, Inc.")
        );
    }
}

async fn quoted_newlines_stay_in_the_field_and_lines_count_physically(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,Notes\n\
+14155550100,Ann,\"line one\nline two, with \"\"quotes\"\"\"\n\
\n\
not-a-phone,Bo,x\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!(
        (counts(&b).rows, counts(&b).imported, counts(&b).invalid),
        (2, 1, 1)
    );
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        c.custom_fields.get("Notes").map(String::as_str),
        Some("line one\nline two, with \"quotes\"")
    );
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].line, 5,
        "the physical line, after a 2-line record and a blank line"
    );
    assert_eq!(errs[0].column, "phone");
    assert_eq!(errs[0].raw_value, "not-a-phone");
}

/// Characters that need escaping on their way to the database (PostgreSQL receives a
/// chunk's rows as JSON) come back exactly as written.
async fn quotes_backslashes_and_emoji_are_stored_verbatim_and_tabs_refused(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,last_name,company,Note\n\
+14155550101,\"Zoë \"\"Z\"\"\",O\\Brien,\"Co 😀, Inc\",\"{\"\"a\"\": \\u0041}\"\n\
+14155550102,Al,Bo,\"Tab\tCo\",x\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (1, 1));
    let c = by_phone(&app, &acc, "+14155550101").await;
    assert_eq!(
        (
            c.first_name.as_str(),
            c.last_name.as_str(),
            c.company.as_str()
        ),
        ("Zoë \"Z\"", "O\\Brien", "Co 😀, Inc")
    );
    assert_eq!(
        c.custom_fields.get("Note").map(String::as_str),
        Some("{\"a\": \\u0041}")
    );
    // A tab is a control character: the agent would read it aloud wrongly, so the row is
    // refused with the column named rather than stored.
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!((errs[0].line, errs[0].column.as_str()), (3, "company"));
    assert!(errs[0].reason.contains("control"), "{}", errs[0].reason);
}

async fn ragged_rows_are_rejected_per_line(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,last_name\n\
+14155550100,Ann\n\
+14155550101,Bo,Ng,extra\n\
+14155550102,Cy,Li,\n\
+14155550103,Di,Wu\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    let c = counts(&b);
    assert_eq!((c.rows, c.imported, c.invalid), (4, 2, 2));
    let errs = errors(&app, &acc, &b.id).await;
    let got: Vec<(i64, &str)> = errs.iter().map(|e| (e.line, e.kind.as_str())).collect();
    assert_eq!(got, [(2, "ragged_row"), (3, "ragged_row")]);
    assert!(errs[0].reason.contains("2 fields"), "{}", errs[0].reason);
}

async fn oversized_fields_are_rejected_per_row(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = format!(
        "phone,Notes\n+14155550100,{}\n+14155550101,short\n",
        "x".repeat(9000)
    );
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (1, 1));
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(
        (errs[0].line, errs[0].kind.as_str(), errs[0].column.as_str()),
        (2, "field_too_long", "Notes")
    );
}

async fn strict_flags_the_example_file_and_lenient_imports_it(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let b = import(&app, options(&acc), SEED_EXAMPLE.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (0, 2));
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(errs.len(), 2);
    for e in &errs {
        assert_eq!(e.kind, "invalid_phone");
        assert!(
            e.reason.contains("not a valid phone number") && e.reason.contains("LENIENT"),
            "a reason a person understands: {}",
            e.reason
        );
    }
    let mut lenient = options(&acc);
    lenient.validation_mode = pb::ValidationMode::Lenient as i32;
    let b = import(&app, lenient, SEED_EXAMPLE.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (2, 0));
    let john = by_phone(&app, &acc, "+15551234567").await;
    assert_eq!(
        (john.first_name.as_str(), john.company.as_str()),
        ("John", "Acme Corp")
    );
}

async fn spreadsheet_scientific_notation_is_rejected(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut opts = options(&acc);
    opts.validation_mode = pb::ValidationMode::Lenient as i32;
    let b = import(&app, opts, b"phone\n1.41555E+10\n").await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (0, 1));
    let errs = errors(&app, &acc, &b.id).await;
    assert!(
        errs[0].reason.contains("scientific notation"),
        "{}",
        errs[0].reason
    );
}

async fn local_numbers_use_the_given_region(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await; // region US
    let file = "phone\n020 7946 0018\n";
    let mut gb = options(&acc);
    gb.default_region = "GB".into();
    let b = import(&app, gb, file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    by_phone(&app, &acc, "+442079460018").await;
    // Without the option, the account's region (US) reads local numbers.
    let b = import(&app, options(&acc), b"phone\n(415) 555-0100\n").await;
    assert_eq!(counts(&b).imported, 1);
    by_phone(&app, &acc, "+14155550100").await;
}

async fn spellings_of_one_number_are_one_contact(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    app.contact(&acc, "+14155550100", "Stored").await;
    let file = "phone,first_name\n\
+1 (415) 555-0100,A\n\
4155550101,B\n\
1-415-555-0101,C\n\
(415) 555 0101,D\n\
415.555.0100,E\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    let c = counts(&b);
    assert_eq!(
        (
            c.rows,
            c.imported,
            c.duplicates_in_file,
            c.duplicates_existing
        ),
        (5, 1, 3, 1)
    );
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 2);
    assert_eq!(by_phone(&app, &acc, "+14155550101").await.first_name, "B");
    assert_eq!(
        by_phone(&app, &acc, "+14155550100").await.first_name,
        "Stored"
    );
    assert_eq!(app.get_account(&acc).await.contact_count, 2);
}

async fn the_first_of_many_duplicates_wins_across_a_large_chunk(app: TestApp) {
    let acc = app.account_with_limit(10_000).await;
    // Rows checked in parallel halves: each number's second spelling comes 600 rows later.
    let mut file = String::from("phone,first_name\n");
    for i in 0..600 {
        file.push_str(&format!("{},first{i}\n", number(i)));
    }
    for i in 0..600 {
        file.push_str(&format!("(415) 555-{i:04},second{i}\n"));
    }
    // One message: the worker sees all rows at once and checks them in two halves.
    let events = import_events(&app, options(&acc), file.as_bytes(), 1 << 20)
        .await
        .unwrap();
    let Some(Event::Finished(b)) = events.last() else {
        panic!("finished last")
    };
    let c = counts(b);
    assert_eq!((c.rows, c.imported, c.duplicates_in_file), (1200, 600, 600));
    assert_eq!(
        by_phone(&app, &acc, &number(599)).await.first_name,
        "first599"
    );
}

async fn update_policies_fill_or_overwrite_stored_contacts(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    app.contact(&acc, "+14155550100", "Ann").await;
    let file = b"phone,first_name,company\n+14155550100,Annie,Acme\n";
    let mut empty = options(&acc);
    empty.duplicate_policy = pb::DuplicatePolicy::UpdateEmpty as i32;
    let b = import(&app, empty, file).await;
    assert_eq!((counts(&b).updated, counts(&b).imported), (1, 0));
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!((c.first_name.as_str(), c.company.as_str()), ("Ann", "Acme"));
    let mut all = options(&acc);
    all.duplicate_policy = pb::DuplicatePolicy::UpdateAll as i32;
    import(&app, all, file).await;
    assert_eq!(
        by_phone(&app, &acc, "+14155550100").await.first_name,
        "Annie"
    );
    // SKIP (the default) leaves it alone and counts a duplicate.
    let b = import(&app, options(&acc), b"phone,first_name\n+14155550100,Zed\n").await;
    assert_eq!((counts(&b).updated, counts(&b).duplicates_existing), (0, 1));
    assert_eq!(
        by_phone(&app, &acc, "+14155550100").await.first_name,
        "Annie"
    );
}

/// An import that updates stored contacts (UPDATE_ALL), or adds them to a campaign,
/// while a bulk delete removes the same contacts, whose ids run opposite to their numbers: a writer locking them by id
/// and one locking them by number would each hold what the other waits for. Both finish
/// whatever the timing, every row is accounted for, and the account's count matches the
/// contacts left.
async fn an_updating_import_and_a_bulk_delete_of_the_same_contacts_both_finish(app: TestApp) {
    let app = Arc::new(app);
    for round in 0..6u64 {
        let acc = account_with_reversed_ids(&app).await;
        let mut opts = options(&acc);
        if round % 2 == 0 {
            opts.duplicate_policy = pb::DuplicatePolicy::UpdateAll as i32;
        } else {
            // Skipped duplicates still join the campaign: their rows must not vanish
            // under the new memberships.
            opts.campaign_id = "spring".into();
        }
        let everything = pb::contact_selection::Selection::Filter(Default::default());
        let (c, deleted) = import_while(&app, opts, round / 2 * 20, round, async {
            app.bulk_delete(&acc, Some(everything))
                .await
                .unwrap_or_else(|e| panic!("round {round}: bulk delete: {e:?}"))
        })
        .await;
        assert_eq!(
            c.imported + c.updated + c.duplicates_existing,
            1000,
            "round {round}: {c:?}"
        );
        let left = app.list_all(&acc, Default::default()).await;
        assert_eq!(
            app.get_account(&acc).await.contact_count,
            left.len() as i64,
            "round {round}: deleted {}, import {c:?}",
            deleted.changed
        );
        // What is left is what the import inserted after the delete passed.
        assert!(left.len() as i64 <= c.imported, "round {round}: {c:?}");
    }
}

/// A campaign import of stored contacts while AddToCampaign adds the same contacts to the
/// same campaign, their ids running opposite to their numbers: the import meets them in
/// number order, AddToCampaign walks them in id order, and membership rows inserted in
/// two orders would deadlock on the campaign's unique index. Both finish, and every
/// contact joins exactly once.
async fn a_campaign_import_and_add_to_campaign_of_the_same_contacts_both_finish(app: TestApp) {
    let app = Arc::new(app);
    for round in 0..16u64 {
        let acc = account_with_reversed_ids(&app).await;
        let mut opts = options(&acc);
        opts.campaign_id = "spring".into();
        let everything = pb::ContactSelection {
            selection: Some(pb::contact_selection::Selection::Filter(Default::default())),
        };
        let (c, added) = import_while(&app, opts, round % 8 * 5, round, async {
            app.try_add_selection_to_campaign(&acc, "spring", Some(everything))
                .await
                .unwrap_or_else(|e| panic!("round {round}: add to campaign: {e:?}"))
        })
        .await;
        assert_eq!(c.duplicates_existing, 1000, "round {round}: {c:?}");
        assert_eq!(
            c.added_to_campaign + added.changed,
            1000,
            "round {round}: {c:?}, {added:?}"
        );
        let members = pb::ContactFilter {
            campaign_id: "spring".into(),
            ..Default::default()
        };
        assert_eq!(
            app.list_all(&acc, members).await.len(),
            1000,
            "round {round}"
        );
    }
}

/// Imports the numbers of [`account_with_reversed_ids`] with `opts` while `other` runs,
/// started `delay_ms` later; the import must complete. Returns its counts and what
/// `other` gave.
async fn import_while<T>(
    app: &Arc<TestApp>,
    opts: pb::ImportOptions,
    delay_ms: u64,
    round: u64,
    other: impl std::future::Future<Output = T>,
) -> (pb::ImportCounts, T) {
    let import = {
        let app = app.clone();
        tokio::spawn(async move { try_import(&app, opts, numbers_file(0..1000).as_bytes()).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
    let got = other.await;
    let b = import
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("round {round}: import: {e:?}"));
    assert_eq!(
        b.status(),
        pb::ImportStatus::Completed,
        "round {round}: {b:?}"
    );
    (counts(&b), got)
}

/// An account holding 1,000 stored contacts, inserted highest number first: ids ascend
/// as numbers descend.
async fn account_with_reversed_ids(app: &TestApp) -> String {
    let acc = app.account_with_limit(10_000).await;
    let rows: Vec<String> = (0..1000)
        .rev()
        .map(|i| {
            let p = number(i);
            format!("('{acc}', '{p}', '{}', 'Old', 'old', 0, 0)", &p[2..])
        })
        .collect();
    app.exec_sql(&format!(
        "BEGIN; INSERT INTO contacts (account_id, phone, phone_national, first_name, \
         name_key, created_at, updated_at) VALUES {}; \
         UPDATE accounts SET contact_count = 1000 WHERE id = '{acc}'; COMMIT;",
        rows.join(",")
    ))
    .await;
    acc
}

fn numbers_file(range: std::ops::Range<usize>) -> String {
    let mut f = String::from("phone,first_name\n");
    for i in range {
        f.push_str(&format!("{},P{i}\n", number(i)));
    }
    f
}

async fn rows_past_the_plan_limit_are_rejected_at_the_boundary(app: TestApp) {
    let acc = app.account_with_limit(3).await;
    app.contact(&acc, &number(0), "Stored").await;
    let b = import(&app, options(&acc), numbers_file(0..5).as_bytes()).await;
    let c = counts(&b);
    assert_eq!(
        (c.rows, c.imported, c.duplicates_existing, c.over_limit),
        (5, 2, 1, 2)
    );
    assert_eq!(app.get_account(&acc).await.contact_count, 3);
    let errs = errors(&app, &acc, &b.id).await;
    let got: Vec<(i64, &str)> = errs.iter().map(|e| (e.line, e.kind.as_str())).collect();
    assert_eq!(got, [(5, "over_limit"), (6, "over_limit")]);
    assert!(errs[0].reason.contains("limit of 3"), "{}", errs[0].reason);
}

async fn concurrent_imports_never_pass_the_limit(app: TestApp) {
    let acc = app.account_with_limit(50).await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for k in 0..2 {
        let app = app.clone();
        let acc = acc.clone();
        tasks.push(tokio::spawn(async move {
            let file = numbers_file(k * 100..k * 100 + 40);
            import(&app, options(&acc), file.as_bytes()).await
        }));
    }
    let creator = {
        let app = app.clone();
        let acc = acc.clone();
        tokio::spawn(async move {
            let mut created = 0;
            for i in 500..510 {
                let input = pb::ContactInput {
                    phone: number(i),
                    ..Default::default()
                };
                if app.try_contact(input, &acc).await.is_ok() {
                    created += 1;
                }
            }
            created
        })
    };
    let mut imported = 0;
    let mut over = 0;
    for t in tasks {
        let b = t.await.unwrap();
        imported += counts(&b).imported;
        over += counts(&b).over_limit;
    }
    let created = creator.await.unwrap();
    assert_eq!(imported + created, 50);
    assert_eq!(over, 80 - imported);
    assert_eq!(app.get_account(&acc).await.contact_count, 50);
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 50);
}

/// The account's stored numbers.
async fn stored_phones(app: &TestApp, account: &str) -> std::collections::BTreeSet<String> {
    let contacts = app.list_all(account, Default::default()).await;
    contacts.into_iter().map(|c| c.phone).collect()
}

/// An import of several chunks past the limit keeps exactly the file's first rows: near
/// the limit its chunks commit one after the other.
async fn a_large_import_past_the_limit_keeps_the_files_first_rows(app: TestApp) {
    let acc = app.account_with_limit(3000).await;
    let b = import_fast(&app, options(&acc), numbers_file(0..5000).as_bytes()).await;
    let c = counts(&b);
    assert_eq!(
        (c.rows, c.imported, c.over_limit),
        (5000, 3000, 2000),
        "{c:?}"
    );
    let lines: Vec<i64> = errors(&app, &acc, &b.id)
        .await
        .iter()
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, (3002..5002).collect::<Vec<i64>>());
    let stored = stored_phones(&app, &acc).await;
    assert_eq!(stored, (0..3000).map(number).collect());
}

/// Two imports whose chunks all fit the room as it was read: whichever takes the counter
/// last keeps what still fits and removes the rest of what it inserted, as over-limit
/// rows; the account ends exactly at its limit with every row accounted for.
async fn imports_racing_for_the_last_slots_store_exactly_the_limit(app: TestApp) {
    let acc = app.account_with_limit(3000).await;
    let app = Arc::new(app);
    let starts = [0, 5000];
    let mut tasks = Vec::new();
    for start in starts {
        let (app, acc) = (app.clone(), acc.clone());
        tasks.push(tokio::spawn(async move {
            let file = numbers_file(start..start + 2500);
            import_fast(&app, options(&acc), file.as_bytes()).await
        }));
    }
    let mut expected = std::collections::BTreeSet::new();
    let (mut imported, mut over) = (0, 0);
    for (t, start) in tasks.into_iter().zip(starts) {
        let b = t.await.unwrap();
        let c = counts(&b);
        assert_eq!((c.rows, c.imported + c.over_limit), (2500, 2500), "{c:?}");
        let mut rejected = std::collections::BTreeSet::new();
        for e in errors(&app, &acc, &b.id).await {
            assert_eq!(e.kind, "over_limit", "{e:?}");
            rejected.insert(e.line as usize - 2);
        }
        assert_eq!(rejected.len() as i64, c.over_limit);
        expected.extend(
            (0..2500)
                .filter(|i| !rejected.contains(i))
                .map(|i| number(start + i)),
        );
        imported += c.imported;
        over += c.over_limit;
    }
    assert_eq!((imported, over), (3000, 2000));
    assert_eq!(app.get_account(&acc).await.contact_count, 3000);
    let stored = stored_phones(&app, &acc).await;
    assert_eq!(stored, expected);
}

/// Imports `file` in 64 KiB pieces; returns the finished batch.
async fn import_fast(app: &TestApp, opts: pb::ImportOptions, file: &[u8]) -> pb::ImportBatch {
    match import_events(app, opts, file, 64 << 10)
        .await
        .expect("import")
        .pop()
    {
        Some(Event::Finished(b)) => b,
        other => panic!("the last event is not the finished batch: {other:?}"),
    }
}

/// The import writes 2,000-row chunks: here they alternate between all new numbers and
/// some stored ones (new, 100 stored, new, 50 stored), and every count and contact is
/// exact; the stored contacts keep their values (the default policy skips duplicates).
async fn chunks_of_stored_and_new_numbers_import_exactly(app: TestApp) {
    let acc = app.account(pb::Plan::RealEstate).await;
    let mut stored = String::from("phone,first_name\n");
    for i in (2_500..2_600).chain(7_000..7_050) {
        stored.push_str(&format!("{},Old{i}\n", number(i)));
    }
    let first = import_fast(&app, options(&acc), stored.as_bytes()).await;
    assert_eq!(counts(&first).imported, 150);
    let b = import_fast(&app, options(&acc), numbers_file(0..8_000).as_bytes()).await;
    let c = counts(&b);
    assert_eq!(
        (c.rows, c.imported, c.duplicates_existing, c.invalid),
        (8_000, 7_850, 150, 0)
    );
    assert_eq!(app.get_account(&acc).await.contact_count, 8_000);
    let all = app.list_all(&acc, Default::default()).await;
    assert_eq!(all.len(), 8_000);
    for c in &all {
        let i: usize = c.phone[8..].parse().unwrap();
        let stored_before = (2_500..2_600).contains(&i) || (7_000..7_050).contains(&i);
        let want = if stored_before {
            format!("Old{i}")
        } else {
            format!("P{i}")
        };
        assert_eq!(c.first_name, want, "{}", c.phone);
    }
}

/// Two imports of the same 3,000 numbers at once: each number is stored once, by one of
/// them, and the other counts it as a duplicate (on PostgreSQL the second one's insert
/// meets the first one's uncommitted rows).
async fn two_imports_of_the_same_numbers_at_once_store_each_number_once(app: TestApp) {
    let acc = app.account(pb::Plan::Dental).await;
    let app = Arc::new(app);
    let file = numbers_file(0..3_000);
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (app, acc, file) = (app.clone(), acc.clone(), file.clone());
            tokio::spawn(async move { import_fast(&app, options(&acc), file.as_bytes()).await })
        })
        .collect();
    let (mut imported, mut duplicates) = (0, 0);
    for t in tasks {
        let c = counts(&t.await.unwrap());
        assert_eq!((c.rows, c.invalid, c.over_limit), (3_000, 0, 0));
        imported += c.imported;
        duplicates += c.duplicates_existing;
    }
    assert_eq!((imported, duplicates), (3_000, 3_000));
    assert_eq!(app.get_account(&acc).await.contact_count, 3_000);
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 3_000);
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

async fn wait_until_ended(app: &TestApp, account: &str, batch: &str) -> pb::ImportBatch {
    for _ in 0..200 {
        let b = get_batch(app, account, batch).await;
        if b.status != pb::ImportStatus::Running as i32 {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("batch {batch} still running");
}

/// An upload that stalls: the options, 30 complete rows and the start of a 31st that
/// never completes. Returns the sender (the upload stays open while it lives) and the
/// stream to send.
async fn stalled_upload(
    account: &str,
) -> (
    tokio::sync::mpsc::Sender<pb::ImportContactsRequest>,
    tokio_stream::wrappers::ReceiverStream<pb::ImportContactsRequest>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut part = numbers_file(0..30);
    part.push_str("+1415555");
    for payload in [
        Payload::Options(options(account)),
        Payload::Chunk(part.into_bytes()),
    ] {
        let msg = pb::ImportContactsRequest {
            payload: Some(payload),
        };
        tx.send(msg).await.unwrap();
    }
    (tx, tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// `--max-concurrent-imports`: while every slot is taken by a running import, one more
/// import or preview is refused with RESOURCE_EXHAUSTED naming the flag and the cap,
/// before any batch exists; the slot comes back when the running import has ended.
async fn imports_past_the_cap_are_refused_until_one_ends(app: TestApp) {
    let capped = TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.max_concurrent_imports = 1,
    )
    .await;
    let acc = capped.account(pb::Plan::Professional).await;
    let (tx, upload) = stalled_upload(&acc).await;
    let mut running = capped
        .client
        .clone()
        .import_contacts(upload)
        .await
        .unwrap()
        .into_inner();
    let Some(Event::Started(batch)) = running.message().await.unwrap().and_then(|m| m.event) else {
        panic!("started first");
    };

    let file = numbers_file(100..110);
    let refused = [
        try_import(&capped, options(&acc), file.as_bytes())
            .await
            .map(|_| ())
            .unwrap_err(),
        preview(&capped, options(&acc), file.as_bytes())
            .await
            .map(|_| ())
            .unwrap_err(),
    ];
    for err in refused {
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        assert!(
            err.message().contains("--max-concurrent-imports")
                && err.message().contains("cap of 1"),
            "{}",
            err.message()
        );
    }
    let batches = list_batches(&capped, &acc).await;
    assert_eq!(
        batches.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        [batch.id.as_str()],
        "a refused import leaves no batch"
    );

    // The upload ends: the running import finishes, its stream ends, and its slot is
    // free again.
    drop(tx);
    while running.message().await.unwrap().is_some() {}
    let next = try_import(&capped, options(&acc), file.as_bytes())
        .await
        .unwrap();
    assert_eq!(counts(&next).imported, 10);
}

async fn disconnect_mid_stream_leaves_a_cancelled_batch_with_exact_counts(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let (addr, account) = (app.addr, acc.clone());
    // The client runs on a runtime of its own that is then dropped mid-upload: its
    // connection closes as when a client process dies.
    let batch_id = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (id, tx) = rt.block_on(async move {
            let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = pb::contact_service_client::ContactServiceClient::new(channel);
            let (tx, upload) = stalled_upload(&account).await;
            let mut resp = client.import_contacts(upload).await.unwrap().into_inner();
            let Some(Event::Started(batch)) = resp.message().await.unwrap().and_then(|m| m.event)
            else {
                panic!("started first");
            };
            // Wait until the 30 rows are committed.
            loop {
                match resp.message().await.unwrap().and_then(|m| m.event) {
                    Some(Event::Progress(p)) if p.counts.unwrap().imported == 30 => break,
                    Some(Event::Progress(_)) => continue,
                    other => panic!("unexpected {other:?}"),
                }
            }
            (batch.id, tx)
        });
        drop(rt);
        drop(tx);
        id
    })
    .await
    .unwrap();
    let b = wait_until_ended(&app, &acc, &batch_id).await;
    assert_eq!(b.status, pb::ImportStatus::Cancelled as i32);
    assert!(b.error_message.contains("went away"), "{}", b.error_message);
    assert_eq!((counts(&b).rows, counts(&b).imported), (30, 30));
    assert!(b.finish_time.is_some());
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 30);
    assert_eq!(app.get_account(&acc).await.contact_count, 30);
}

/// A client's `grpc-timeout` bounds the whole upload, not only the response headers: a
/// slow upload past it is stopped, its batch ends cancelled with the counts of what was
/// committed, and the still-listening client gets DEADLINE_EXCEEDED.
async fn an_import_past_its_deadline_ends_cancelled_with_exact_counts(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    // The server's first phone parse loads the numbering metadata (slow in a debug build):
    // done here, outside the deadline.
    app.client
        .clone()
        .check_dnc(pb::CheckDncRequest {
            account_id: acc.clone(),
            phones: vec![number(0)],
            region: String::new(),
        })
        .await
        .unwrap();
    let (tx, upload) = stalled_upload(&acc).await;
    let timeout = std::time::Duration::from_secs(2);
    let mut request = tonic::Request::new(upload);
    request.set_timeout(timeout);
    let started = std::time::Instant::now();
    let mut resp = app
        .client
        .clone()
        .import_contacts(request)
        .await
        .unwrap()
        .into_inner();
    let (mut batch_id, mut committed) = (None, 0);
    let status = loop {
        let next = tokio::time::timeout(timeout * 10, resp.message()).await;
        match next
            .expect("the server ignored the deadline")
            .map(|m| m.and_then(|m| m.event))
        {
            Ok(Some(Event::Started(b))) => batch_id = Some(b.id),
            Ok(Some(Event::Progress(p))) => committed = p.counts.unwrap().imported,
            Ok(other) => panic!("the import ended without an error: {other:?}"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(
        committed, 30,
        "the complete rows were committed before the deadline"
    );
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
    // The client is still connected: the deadline, not a disconnect, stopped the import.
    drop(tx);
    let batch_id = batch_id.expect("a started batch");
    let b = get_batch(&app, &acc, &batch_id).await;
    assert_eq!(b.status(), pb::ImportStatus::Cancelled);
    assert!(b.error_message.contains("deadline"), "{}", b.error_message);
    assert_eq!((counts(&b).rows, counts(&b).imported), (30, 30));
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 30);
    assert_eq!(app.get_account(&acc).await.contact_count, 30);
}

async fn retry_with_the_same_request_id_imports_once(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut opts = options(&acc);
    opts.client_request_id = "upload-7".into();
    let file = numbers_file(0..3);
    let first = import(&app, opts.clone(), file.as_bytes()).await;
    let again = import(&app, opts, file.as_bytes()).await;
    assert_eq!(again.id, first.id);
    assert_eq!(counts(&again).imported, 3);
    assert_eq!(counts(&again).duplicates_existing, 0);
    let list = list_batches(&app, &acc).await;
    assert_eq!(list.len(), 1);
    // The id belongs to the account: another account may use it too.
    let other = app.account(pb::Plan::Professional).await;
    let mut opts = options(&other);
    opts.client_request_id = "upload-7".into();
    let b = import(&app, opts, file.as_bytes()).await;
    assert_ne!(b.id, first.id);
    assert_eq!(counts(&b).imported, 3);
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

async fn export_errors(app: &TestApp, account: &str, batch: &str) -> String {
    let mut stream = app
        .client
        .clone()
        .export_import_errors(pb::ExportImportErrorsRequest {
            account_id: account.into(),
            batch_id: batch.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        out.extend(m.chunk);
    }
    String::from_utf8(out).unwrap()
}

async fn rejected_rows_download_as_csv_to_fix_and_reimport(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,email\n\
+14155550100,Ann,ann@acme.com\n\
415-555-01O1,\"Bo, Jr.\",bo@acme.com\n\
+14155550102,Cy,not-an-email\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (1, 2));
    let csv = export_errors(&app, &acc, &b.id).await;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("phone,first_name,email,reason"));
    let rest: Vec<&str> = lines.collect();
    assert_eq!(rest.len(), 2, "{csv}");
    assert!(
        rest[0].starts_with("415-555-01O1,\"Bo, Jr.\",bo@acme.com,"),
        "{csv}"
    );
    assert!(rest[1].contains("email"), "{csv}");
    // The user fixes the two rows and imports the same file again.
    let fixed = csv
        .replace("415-555-01O1", "415-555-0101")
        .replace("not-an-email", "cy@acme.com");
    let again = import(&app, options(&acc), fixed.as_bytes()).await;
    assert_eq!((counts(&again).imported, counts(&again).invalid), (2, 0));
    assert_eq!(
        by_phone(&app, &acc, "+14155550101").await.first_name,
        "Bo, Jr."
    );
    assert_eq!(
        by_phone(&app, &acc, "+14155550102").await.email,
        "cy@acme.com"
    );
}

async fn preview(
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

async fn progress_is_reported_while_importing(app: TestApp) {
    let acc = app.account_with_limit(10_000).await;
    let file = numbers_file(0..5000);
    let events = import_events(&app, options(&acc), file.as_bytes(), 64 * 1024)
        .await
        .unwrap();
    let imported: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress(p) => Some(p.counts.unwrap().imported),
            _ => None,
        })
        .collect();
    assert!(
        imported.len() >= 3,
        "a chunk commits at most 2,000 rows: {imported:?}"
    );
    assert!(imported.windows(2).all(|w| w[0] <= w[1]), "{imported:?}");
    let Some(Event::Finished(b)) = events.last() else {
        panic!("finished last")
    };
    assert_eq!(counts(b).imported, 5000, "{:?}", counts(b));
    assert_eq!(b.status, pb::ImportStatus::Completed as i32);
}

async fn batches_are_listed_newest_first(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut opts = options(&acc);
        opts.file_name = format!("f{i}.csv");
        ids.push(
            import(&app, opts, numbers_file(i..i + 1).as_bytes())
                .await
                .id,
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .clone()
            .list_import_batches(pb::ListImportBatchesRequest {
                account_id: acc.clone(),
                page_size: 2,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.batches.into_iter().map(|b| b.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    ids.reverse();
    assert_eq!(seen, ids);
}

async fn a_batch_left_running_by_a_dead_server_is_failed_at_start_up(app: TestApp) {
    // This server's clock is stopped in the past: its batch's heartbeat looks stale to
    // a server starting now, as after a crash.
    let app = TestApp::spawn_on(app.db.clone(), Arc::new(clock_at("2026-03-02T15:00:00Z"))).await;
    let acc = app.account(pb::Plan::Professional).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(pb::ImportContactsRequest {
        payload: Some(Payload::Options(options(&acc))),
    })
    .await
    .unwrap();
    tx.send(pb::ImportContactsRequest {
        payload: Some(Payload::Chunk(numbers_file(0..2).into_bytes())),
    })
    .await
    .unwrap();
    let mut resp = app
        .client
        .clone()
        .import_contacts(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let Some(Event::Started(batch)) = resp.message().await.unwrap().and_then(|m| m.event) else {
        panic!("started first");
    };
    let restarted = app.replica().await;
    let b = get_batch(&restarted, &acc, &batch.id).await;
    assert_eq!(b.status, pb::ImportStatus::Failed as i32);
    assert!(
        b.error_message.contains("interrupted"),
        "{}",
        b.error_message
    );
    drop(tx);
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

/// PostgreSQL only: SQLite plans from its indexes without statistics (its twin of the
/// refresh is a no-op), so there is nothing to observe there.
mod a_large_import_leaves_planner_statistics {
    use crate::helpers::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(pg_tests),
        ignore = "PostgreSQL variant: set CONTACTD_TEST_PG_URL to run it"
    )]
    async fn postgres() {
        super::a_large_import_leaves_planner_statistics(TestApp::spawn(Backend::Postgres).await)
            .await
    }
}

async fn a_large_import_leaves_planner_statistics(app: TestApp) {
    let acc = app.account_with_limit(20_000).await;
    let b = import(&app, options(&acc), numbers_file(0..10_000).as_bytes()).await;
    assert_eq!(counts(&b).imported, 10_000);
    // Never analyzed, a table's reltuples is -1 (autovacuum waits its naptime first).
    let tuples = app
        .sql_i64("SELECT reltuples::bigint FROM pg_class WHERE relname = 'contacts'")
        .await;
    assert_eq!(tuples, Some(10_000));
}

/// `--max-import-bytes`: past it the import fails with RESOURCE_EXHAUSTED naming the cap;
/// what was committed before stays, counted on a FAILED batch (never left running).
async fn an_import_over_the_size_cap_fails_naming_the_cap(app: TestApp) {
    let capped = TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.max_import_bytes = 2_000,
    )
    .await;
    let acc = capped.account_with_limit(1_000).await;
    let file = numbers_file(0..400);
    assert!(file.len() > 2_000);
    let err = try_import(&capped, options(&acc), file.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("2000"), "{}", err.message());
    let batches = list_batches(&capped, &acc).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].status(), pb::ImportStatus::Failed);
    let stored = capped.get_account(&acc).await.contact_count;
    assert_eq!(counts(&batches[0]).imported, stored);
}
