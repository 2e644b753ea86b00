//! Duplicates: one number spelled several ways, repeated in a file, already stored
//! (skipped or merged under the policy), imported twice at once, and imports meeting
//! bulk deletes and campaign additions over the same contacts without deadlock.

use crate::helpers::TestApp;
use crate::import::{
    by_phone, counts, import, import_events, import_fast, number, numbers_file, options, try_import,
};
use contactd::pb::{self, import_contacts_response::Event};
use std::sync::Arc;

both!(
    spellings_of_one_number_are_one_contact,
    the_first_of_many_duplicates_wins_across_a_large_chunk,
    update_policies_fill_or_overwrite_stored_contacts,
    an_updating_import_and_a_bulk_delete_of_the_same_contacts_both_finish,
    a_campaign_import_and_add_to_campaign_of_the_same_contacts_both_finish,
    chunks_of_stored_and_new_numbers_import_exactly,
    two_imports_of_the_same_numbers_at_once_store_each_number_once,
);

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
