//! Limits on an import: the plan's contact limit (at its boundary, across chunks and
//! concurrent imports) and the file size cap.

use crate::helpers::TestApp;
use crate::import::{
    counts, errors, import, import_fast, list_batches, number, numbers_file, options, try_import,
};
use contactd::pb;
use std::sync::Arc;

both!(
    rows_past_the_plan_limit_are_rejected_at_the_boundary,
    concurrent_imports_never_pass_the_limit,
    a_large_import_past_the_limit_keeps_the_files_first_rows,
    imports_racing_for_the_last_slots_store_exactly_the_limit,
    an_import_over_the_size_cap_fails_naming_the_cap,
);

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
