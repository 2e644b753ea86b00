//! A property test of the CSV import path: a few hundred generated files (random bytes,
//! broken quoting, oversized fields, mixed encodings, odd delimiters, ragged rows, NULs,
//! empty and header-only files, a protocol error mid-file), each streamed in random
//! pieces into one account that fills up. For every case the server answers, no batch
//! is left running, the counts add up, and every rejected row is explained. The
//! generator has a fixed seed: a failure replays (commit points of a failed case vary).
//! How many cases ran, and how they ended, is printed and written to
//! `<target>/tmp/fuzz-cases-<backend>.txt`, which .ci/run shows.

use crate::helpers::{Rng, TestApp, all_pages};
use contactd::pb::{self, import_contacts_request::Payload, import_contacts_response::Event};
use tonic::Code;

both!(generated_csv_files_never_leave_a_batch_running_or_a_row_unexplained);

/// Cases per backend.
const CASES: usize = 300;
/// Where the case count is written for .ci/run (the target directory's `tmp`).
const REPORT_DIR: &str = env!("CARGO_TARGET_TMPDIR");
/// The per-field cap is 8 KiB; a record over 256 KiB is cut off as malformed.
const FIELD_CAP: usize = 8 * 1024;

/// One field's text: usually plausible, sometimes hostile.
fn field(rng: &mut Rng, delimiter: u8) -> Vec<u8> {
    match rng.below(14) {
        0 => b"\"unclosed".to_vec(),
        1 => b"mid\"quote".to_vec(),
        2 => b"\"quoted, with\nnewline\"".to_vec(),
        3 => vec![b'x'; FIELD_CAP + 1 + rng.below(4 * FIELD_CAP)],
        4 => b"Ren\xe9e M\xfcller".to_vec(), // Latin-1 bytes in a UTF-8 file
        5 => b"nul\0inside".to_vec(),
        6 => rng.bytes(12),
        7 => vec![delimiter; 1 + rng.below(3)],
        8 => "Zoë 日本".as_bytes().to_vec(),
        9 => b"\"\"\"doubled\"\"\"".to_vec(),
        _ => format!("name{}", rng.below(1000)).into_bytes(),
    }
}

/// A phone cell: mostly valid numbers from a small range (so files repeat numbers and
/// hit stored ones), sometimes junk.
fn phone(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        0 => b"".to_vec(),
        1 => b"1.5551E+10".to_vec(),
        2 => b"+1 (555) 0100".to_vec(),
        3 => rng.bytes(15),
        _ => format!("+1415555{:04}", rng.below(3000)).into_bytes(),
    }
}

/// A CSV file with a phone column and hostile rows, joined by `delimiter`.
fn csv_file(rng: &mut Rng, header_only: bool) -> Vec<u8> {
    let delimiter = *rng.pick(b",;\t|");
    let newline: &[u8] = if rng.chance(30) { b"\r\n" } else { b"\n" };
    let columns = 1 + rng.below(4);
    let mut out = Vec::new();
    if rng.chance(10) {
        out.extend_from_slice(b"\xef\xbb\xbf");
    }
    let head = ["phone", "first_name", "email", "company"];
    out.extend_from_slice(
        head[..columns]
            .join(&(delimiter as char).to_string())
            .as_bytes(),
    );
    out.extend_from_slice(newline);
    let rows = if header_only { 0 } else { rng.below(40) };
    for _ in 0..rows {
        // Ragged rows: one field fewer or more now and then.
        let n = match rng.below(10) {
            0 => columns.saturating_sub(1).max(1),
            1 => columns + 1 + rng.below(3),
            _ => columns,
        };
        for i in 0..n {
            if i > 0 {
                out.push(delimiter);
            }
            let cell = if i == 0 {
                phone(rng)
            } else {
                field(rng, delimiter)
            };
            out.extend_from_slice(&cell);
        }
        if rng.chance(3) {
            out.extend_from_slice(newline);
        }
        out.extend_from_slice(newline);
    }
    out
}

/// The same text as UTF-16 with a BOM, often with a dangling odd byte.
fn utf16_file(rng: &mut Rng) -> Vec<u8> {
    let text = String::from_utf8_lossy(&csv_file(rng, false)).into_owned();
    let big = rng.chance(50);
    let mut out: Vec<u8> = if big {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        let b = if big {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&b);
    }
    match rng.below(3) {
        0 => out.push(rng.next() as u8),
        1 => {
            out.pop();
        }
        _ => {}
    }
    out
}

/// A whole generated case.
fn case(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => Vec::new(),
        1 => csv_file(rng, true),
        2 | 3 => rng.bytes(2000),
        4 | 5 => utf16_file(rng),
        6 => {
            // A record larger than the whole-record bound (an unclosed quote).
            let mut f = csv_file(rng, false);
            f.extend_from_slice(b"+14155550001,\"");
            f.extend(std::iter::repeat_n(b'y', 300 * 1024));
            f
        }
        7 => {
            // Random bytes after a valid header.
            let mut f = b"phone,first_name\n".to_vec();
            f.extend(rng.bytes(3000));
            f
        }
        _ => csv_file(rng, false),
    }
}

/// The file in random pieces, after the options.
fn messages(rng: &mut Rng, opts: pb::ImportOptions, file: &[u8]) -> Vec<pb::ImportContactsRequest> {
    let mut msgs = vec![pb::ImportContactsRequest {
        payload: Some(Payload::Options(opts)),
    }];
    let mut rest = file;
    while !rest.is_empty() {
        let max = if rng.chance(50) { 16 } else { 4096 };
        let n = (1 + rng.below(max)).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        msgs.push(pb::ImportContactsRequest {
            payload: Some(Payload::Chunk(piece.to_vec())),
        });
        rest = tail;
    }
    if rng.chance(5) {
        // A protocol error mid-file: structured rows after CSV.
        msgs.push(pb::ImportContactsRequest {
            payload: Some(Payload::Rows(pb::ImportRows::default())),
        });
    }
    msgs
}

/// What one case ended as.
#[derive(Debug, Default)]
struct Tally {
    completed: usize,
    failed: usize,
    refused: usize,
    rows: i64,
    rejected: i64,
}

async fn generated_csv_files_never_leave_a_batch_running_or_a_row_unexplained(app: TestApp) {
    let account = app.account_with_limit(500).await;
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let mut tally = Tally::default();
    let mut started = Vec::new();
    for n in 0..CASES {
        let file = case(&mut rng);
        let opts = pb::ImportOptions {
            account_id: account.clone(),
            validation_mode: *rng.pick(&[0, 1, 2]),
            duplicate_policy: *rng.pick(&[0, 1, 2, 3]),
            delimiter: rng.pick(&["", "", "", ",", ";", "\t"]).to_string(),
            file_name: format!("case-{n}.csv"),
            ..Default::default()
        };
        let msgs = messages(&mut rng, opts, &file);
        let what = format!("case {n} ({} bytes): {:?}", file.len(), preview(&file));
        let (batch_id, ended) = run(&app, msgs).await;
        let Some(batch_id) = batch_id else {
            // Refused before a batch existed: only for a file it cannot read at all.
            let status = ended.expect_err("no batch, so an error");
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
            tally.refused += 1;
            continue;
        };
        if let Err(status) = &ended {
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        }
        started.push(batch_id.clone());
        let batch = get_batch(&app, &account, &batch_id).await;
        let c = batch.counts.expect("counts");
        match pb::ImportStatus::try_from(batch.status) {
            Ok(pb::ImportStatus::Completed) => {
                assert!(
                    ended.is_ok(),
                    "{what}: completed but the stream said {ended:?}"
                );
                tally.completed += 1;
            }
            Ok(pb::ImportStatus::Failed) => {
                assert!(ended.is_err(), "{what}: failed but the stream ended well");
                assert!(
                    !batch.error_message.is_empty(),
                    "{what}: failed without a reason"
                );
                tally.failed += 1;
            }
            other => panic!("{what}: the batch ended {other:?}"),
        }
        assert_eq!(
            c.rows,
            c.imported
                + c.updated
                + c.duplicates_in_file
                + c.duplicates_existing
                + c.invalid
                + c.over_limit,
            "{what}: counts do not add up: {c:?}"
        );
        let errors = errors(&app, &account, &batch_id).await;
        assert_eq!(
            errors.len() as i64,
            c.invalid + c.over_limit,
            "{what}: {c:?} but {} errors",
            errors.len()
        );
        let over = errors.iter().filter(|e| e.kind == "over_limit").count() as i64;
        assert_eq!(over, c.over_limit, "{what}: over-limit errors");
        for e in &errors {
            assert!(e.line >= 1, "{what}: error line {}", e.line);
            assert!(
                !e.reason.trim().is_empty(),
                "{what}: an error without a reason"
            );
            assert!(!e.kind.is_empty(), "{what}: an error without a kind");
        }
        tally.rows += c.rows;
        tally.rejected += errors.len() as i64;
    }
    // Nothing anywhere is left running, and every started case has its batch.
    let batches = all_batches(&app, &account).await;
    assert_eq!(batches.len(), started.len());
    assert!(
        batches
            .iter()
            .all(|b| b.status != pb::ImportStatus::Running as i32)
    );
    let stored = app.get_account(&account).await.contact_count;
    let imported: i64 = batches.iter().map(|b| b.counts.unwrap().imported).sum();
    assert_eq!(stored, imported, "contacts stored vs counted as imported");
    let backend = format!("{:?}", app.db.backend).to_lowercase();
    let report = format!(
        "fuzz ({backend}): {CASES} cases: {} completed, {} failed, {} refused; {} rows read, \
         {} rejected rows explained, {stored} contacts stored",
        tally.completed, tally.failed, tally.refused, tally.rows, tally.rejected
    );
    println!("{report}");
    // `cargo test` hides a passing test's output: .ci/run prints this file.
    let path = std::path::Path::new(REPORT_DIR).join(format!("fuzz-cases-{backend}.txt"));
    std::fs::write(&path, report + "\n")
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The start of a file, for failure messages.
fn preview(file: &[u8]) -> String {
    String::from_utf8_lossy(&file[..file.len().min(80)]).into_owned()
}

/// Streams one case; returns the batch id (if one was started) and how the stream ended.
async fn run(
    app: &TestApp,
    msgs: Vec<pb::ImportContactsRequest>,
) -> (Option<String>, Result<(), tonic::Status>) {
    let mut resp = match app
        .client
        .clone()
        .import_contacts(tokio_stream::iter(msgs))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(e) => return (None, Err(e)),
    };
    let mut batch = None;
    loop {
        match resp.message().await {
            Ok(Some(m)) => match m.event {
                Some(Event::Started(b)) => batch = Some(b.id),
                Some(Event::Finished(b)) => {
                    assert_eq!(Some(&b.id), batch.as_ref(), "finished the started batch");
                }
                Some(Event::Progress(_)) => {}
                None => panic!("an empty event"),
            },
            Ok(None) => return (batch, Ok(())),
            Err(e) => return (batch, Err(e)),
        }
    }
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
        .expect("batch")
}

async fn errors(app: &TestApp, account: &str, batch: &str) -> Vec<pb::ImportError> {
    all_pages(async |page_token| {
        let req = pb::ListImportErrorsRequest {
            account_id: account.into(),
            batch_id: batch.into(),
            page_size: 1000,
            page_token,
        };
        let page = app.client.clone().list_import_errors(req).await;
        let page = page.expect("list errors").into_inner();
        (page.errors, page.next_page_token)
    })
    .await
}

async fn all_batches(app: &TestApp, account: &str) -> Vec<pb::ImportBatch> {
    all_pages(async |page_token| {
        let req = pb::ListImportBatchesRequest {
            account_id: account.into(),
            page_size: 1000,
            page_token,
        };
        let page = app.client.clone().list_import_batches(req).await;
        let page = page.expect("list batches").into_inner();
        (page.batches, page.next_page_token)
    })
    .await
}
