//! `contactd renormalize`: numbers stored by an earlier parser are re-read with today's;
//! rows that now read differently are rewritten, collisions are reported and left alone,
//! and a contact moved onto a listed number becomes DNC.

use crate::helpers::{TestApp, contactd_command};
use contactd::pb;

both!(
    renormalize_rewrites_old_spellings_and_reports_collisions_without_merging,
    a_listed_old_spelling_lists_the_new_one_and_keeps_status_following_the_list,
);

/// Runs `contactd renormalize` on the test database; returns its output.
fn renormalize(app: &TestApp, extra: &[&str]) -> String {
    let mut args = vec!["renormalize", "--database-url", &app.db.url];
    args.extend_from_slice(extra);
    let out = contactd_command(&args, &[])
        .output()
        .expect("contactd runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "renormalize failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn id_of(app: &TestApp, phone: &str) -> i64 {
    app.sql_i64(&format!("SELECT id FROM contacts WHERE phone = '{phone}'"))
        .await
        .unwrap_or_else(|| panic!("no contact holds {phone}"))
}

async fn renormalize_rewrites_old_spellings_and_reports_collisions_without_merging(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    // Rows as an earlier parser stored them: a national prefix kept after the country
    // code (+33 0…, +44 0…, +7 8…), a number that is not possible, and one already right.
    let contacts = [
        ("+330612345678", "0612345678", "ACTIVE"),
        ("+4402079460018", "02079460018", "ACTIVE"),
        ("+442079460018", "2079460018", "ACTIVE"),
        ("+788001234567", "88001234567", "DNC"),
        ("+7001234567", "001234567", "ACTIVE"),
    ];
    for (phone, national, status) in contacts {
        app.exec_sql(&format!(
            "INSERT INTO contacts (account_id, phone, phone_national, status, created_at, \
             updated_at) VALUES ('{acc}', '{phone}', '{national}', '{status}', 1, 1)"
        ))
        .await;
    }
    for phone in ["+788001234567", "+33612345678"] {
        app.exec_sql(&format!(
            "INSERT INTO dnc_entries (account_id, phone, source, created_at) \
             VALUES ('{acc}', '{phone}', 'MANUAL', 5)"
        ))
        .await;
    }
    let fr = id_of(&app, "+330612345678").await;
    let gb_old = id_of(&app, "+4402079460018").await;
    let gb = id_of(&app, "+442079460018").await;
    let ru = id_of(&app, "+788001234567").await;

    let dry = renormalize(&app, &["--dry-run"]);
    assert!(dry.contains("would change: 3\n"), "{dry}");
    assert_eq!(app.get_contact(&acc, fr).await.phone, "+330612345678");

    let out = renormalize(&app, &[]);
    assert!(out.contains("read 5 contacts and 2 DNC entries"), "{out}");
    assert!(out.contains("changed: 3\n"), "{out}");
    assert!(
        out.contains(&format!(
            "contact {gb_old} (account {acc}): +4402079460018 -> +442079460018, held by contact {gb}"
        )),
        "{out}"
    );
    assert!(out.contains("unreadable, left unchanged: 1\n"), "{out}");
    assert!(out.contains("+7001234567"), "{out}");

    // Rewritten, and onto a listed number: DNC from now on.
    let c = app.get_contact(&acc, fr).await;
    assert_eq!(c.phone, "+33612345678");
    assert_eq!(c.status, pb::ContactStatus::Dnc as i32);
    // The collision: both rows as they were.
    assert_eq!(app.get_contact(&acc, gb_old).await.phone, "+4402079460018");
    assert_eq!(app.get_contact(&acc, gb).await.phone, "+442079460018");
    // The DNC entry and its contact moved together.
    assert_eq!(app.get_contact(&acc, ru).await.phone, "+78001234567");
    let listed = app
        .client
        .clone()
        .check_dnc(pb::CheckDncRequest {
            account_id: acc.clone(),
            phones: vec!["+7 800 123-45-67".into()],
            region: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(listed[0].dnc, "{listed:?}");
    // Search by the national digits finds the rewritten number.
    let found = app
        .list_all(
            &acc,
            pb::ContactFilter {
                query: "612345678".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [fr]);

    let again = renormalize(&app, &[]);
    assert!(again.contains("changed: 0\n"), "{again}");
    assert!(again.contains("collisions, left unchanged: 1\n"), "{again}");
}

/// A DNC entry under an old spelling whose new spelling another contact holds: the
/// contacts collide and stay as they are, and "status = DNC iff listed" holds for both —
/// the contact on the new spelling becomes DNC, the old spelling stays listed for the
/// contact still holding it.
async fn a_listed_old_spelling_lists_the_new_one_and_keeps_status_following_the_list(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    for (phone, national, status) in [
        ("+4402079460018", "02079460018", "DNC"),
        ("+442079460018", "2079460018", "ACTIVE"),
    ] {
        app.exec_sql(&format!(
            "INSERT INTO contacts (account_id, phone, phone_national, status, created_at, \
             updated_at) VALUES ('{acc}', '{phone}', '{national}', '{status}', 1, 1)"
        ))
        .await;
    }
    app.exec_sql(&format!(
        "INSERT INTO dnc_entries (account_id, phone, source, created_at) \
         VALUES ('{acc}', '+4402079460018', 'MANUAL', 5)"
    ))
    .await;
    let (old, new) = (
        id_of(&app, "+4402079460018").await,
        id_of(&app, "+442079460018").await,
    );
    let out = renormalize(&app, &[]);
    assert!(out.contains("collisions, left unchanged: 1\n"), "{out}");
    let listed = app
        .sql_i64(&format!(
            "SELECT count(*) FROM dnc_entries WHERE account_id = '{acc}' \
             AND phone IN ('+4402079460018', '+442079460018')"
        ))
        .await;
    assert_eq!(listed, Some(2), "both spellings listed");
    for id in [old, new] {
        let c = app.get_contact(&acc, id).await;
        assert_eq!(
            c.status,
            pb::ContactStatus::Dnc as i32,
            "contact {id} ({}) is listed, so DNC",
            c.phone
        );
    }
}
