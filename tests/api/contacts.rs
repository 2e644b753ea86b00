//! Contact CRUD, validation, plan limits and listing.

use crate::helpers::{TestApp, ms_at, outbound, ts_at, violated_fields};
use contactd::pb;
use std::collections::HashSet;
use tonic::Code;

both!(
    phone_is_stored_in_e164_whatever_the_spelling,
    duplicate_phone_names_the_existing_contact,
    every_bad_field_is_named,
    another_accounts_contact_is_not_found,
    update_changes_only_masked_fields,
    deleted_contact_is_gone,
    plan_limit_is_enforced_at_the_boundary,
    concurrent_creates_never_pass_the_limit,
    search_finds_names_and_phone_digits,
    pages_are_stable_while_contacts_are_inserted,
    page_tokens_are_validated,
    list_items_carry_what_the_contacts_page_shows,
    page_size_above_the_cap_is_quietly_lowered_and_zero_is_the_default,
);

async fn phone_is_stored_in_e164_whatever_the_spelling(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app
        .try_contact(
            pb::ContactInput {
                phone: "(415) 555-2671".into(),
                first_name: " Ann ".into(),
                last_name: "Lee".into(),
                email: "ann@example.com".into(),
                company: "Acme".into(),
                title: "CTO".into(),
                custom_fields: [("Notes".to_string(), "VIP".to_string())].into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    assert_eq!(c.phone, "+14155552671");
    assert_eq!(c.first_name, "Ann");
    assert_eq!(c.status, pb::ContactStatus::Active as i32);
    let got = app
        .client
        .clone()
        .get_contact(pb::GetContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        got.custom_fields.get("Notes").map(String::as_str),
        Some("VIP")
    );
    let stats = got.call_stats.unwrap();
    assert_eq!(stats.call_count, 0);
    assert!(stats.last_called_time.is_none());

    // A GB account reads local numbers as GB; a per-contact region overrides it.
    let gb = app.account_with(pb::Plan::Professional, 0, "GB").await;
    let c = app.contact(&gb, "020 7946 0018", "Liz").await;
    assert_eq!(c.phone, "+442079460018");
    let c = app
        .try_contact(
            pb::ContactInput {
                phone: "415 555 2671".into(),
                region: "US".into(),
                ..Default::default()
            },
            &gb,
        )
        .await
        .unwrap();
    assert_eq!(c.phone, "+14155552671");
}

async fn duplicate_phone_names_the_existing_contact(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let first = app.contact(&acc, "+1 415 555 2671", "Ann").await;
    for spelling in ["4155552671", "1-415-555-2671", "+1 (415) 555-2671"] {
        let err = app
            .try_contact(
                pb::ContactInput {
                    phone: spelling.into(),
                    ..Default::default()
                },
                &acc,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists, "{spelling}");
        assert!(
            err.message().contains(&first.id.to_string()),
            "{}",
            err.message()
        );
    }
    // The failed attempts did not consume plan slots.
    assert_eq!(app.get_account(&acc).await.contact_count, 1);
    // Another account may hold the same number.
    let other = app.account(pb::Plan::Professional).await;
    app.contact(&other, "+14155552671", "Ann").await;
}

async fn every_bad_field_is_named(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let cases: Vec<(pb::ContactInput, Vec<&str>)> = vec![
        (pb::ContactInput::default(), vec!["contact.phone"]),
        (
            pb::ContactInput {
                phone: "+15551234567".into(),
                ..Default::default()
            },
            vec!["contact.phone"],
        ),
        (
            pb::ContactInput {
                phone: "1.41555E+10".into(),
                ..Default::default()
            },
            vec!["contact.phone"],
        ),
        (
            pb::ContactInput {
                phone: "+14155552671".into(),
                email: "not-an-email".into(),
                time_zone: "Moon/Base".into(),
                ..Default::default()
            },
            vec!["contact.email", "contact.time_zone"],
        ),
        (
            pb::ContactInput {
                phone: "+14155552671".into(),
                first_name: "x".repeat(300),
                ..Default::default()
            },
            vec!["contact.first_name"],
        ),
        (
            pb::ContactInput {
                phone: "+14155552671".into(),
                region: "ZZ".into(),
                ..Default::default()
            },
            vec!["contact.region"],
        ),
    ];
    for (input, fields) in cases {
        let err = app.try_contact(input.clone(), &acc).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{input:?}");
        assert_eq!(violated_fields(&err), fields, "{}", err.message());
    }
    let err = app
        .client
        .clone()
        .create_contact(pb::CreateContactRequest {
            account_id: acc.clone(),
            contact: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["contact"]);
    // Nothing was stored by any of the failures.
    assert_eq!(app.get_account(&acc).await.contact_count, 0);
}

async fn another_accounts_contact_is_not_found(app: TestApp) {
    let mine = app.account(pb::Plan::Professional).await;
    let theirs = app.account(pb::Plan::Professional).await;
    let c = app.contact(&theirs, "+14155552671", "Eve").await;
    let mut client = app.client.clone();
    let get = client
        .get_contact(pb::GetContactRequest {
            account_id: mine.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    let update = client
        .update_contact(pb::UpdateContactRequest {
            account_id: mine.clone(),
            contact_id: c.id,
            contact: Some(pb::ContactInput {
                first_name: "Mallory".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["first_name".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::NotFound);
    let delete = client
        .delete_contact(pb::DeleteContactRequest {
            account_id: mine,
            contact_id: c.id,
        })
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Code::NotFound);
    // Still there, unchanged, for its owner.
    let got = client
        .get_contact(pb::GetContactRequest {
            account_id: theirs,
            contact_id: c.id,
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(got.first_name, "Eve");
}

async fn update_changes_only_masked_fields(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app
        .try_contact(
            pb::ContactInput {
                phone: "+14155552671".into(),
                first_name: "Ann".into(),
                company: "Acme".into(),
                custom_fields: [
                    ("a".to_string(), "1".to_string()),
                    ("b".to_string(), "2".to_string()),
                ]
                .into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    let other = app.contact(&acc, "+14155552672", "Bob").await;
    let mut client = app.client.clone();
    let update = |paths: &[&str], input: pb::ContactInput| pb::UpdateContactRequest {
        account_id: acc.clone(),
        contact_id: c.id,
        contact: Some(input),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    };
    let updated = client
        .update_contact(update(
            &["last_name", "custom_fields.b", "custom_fields.c"],
            pb::ContactInput {
                first_name: "IGNORED".into(),
                last_name: "Lee".into(),
                custom_fields: [("c".to_string(), "3".to_string())].into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(updated.first_name, "Ann");
    assert_eq!(updated.last_name, "Lee");
    assert_eq!(updated.company, "Acme");
    let mut keys: Vec<_> = updated.custom_fields.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["a", "c"]);

    // Phone changes are normalized and checked for duplicates.
    let moved = client
        .update_contact(update(
            &["phone"],
            pb::ContactInput {
                phone: "415.555.2699".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(moved.phone, "+14155552699");
    let taken = client
        .update_contact(update(
            &["phone"],
            pb::ContactInput {
                phone: other.phone.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert!(taken.message().contains(&other.id.to_string()));

    let bad = client
        .update_contact(update(
            &["email", "nickname"],
            pb::ContactInput {
                email: "x@".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["contact.email", "update_mask"]);
    let empty = client
        .update_contact(update(&[], pb::ContactInput::default()))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&empty), ["update_mask"]);
}

async fn deleted_contact_is_gone(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    let mut client = app.client.clone();
    client
        .delete_contact(pb::DeleteContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap();
    let err = client
        .get_contact(pb::GetContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let again = client
        .delete_contact(pb::DeleteContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    // The number can be added again.
    app.contact(&acc, "+14155552671", "Ann").await;
}

async fn plan_limit_is_enforced_at_the_boundary(app: TestApp) {
    let acc = app.account_with_limit(3).await;
    for i in 0..3 {
        app.contact(&acc, &format!("+1415555{:04}", 2671 + i), "x")
            .await;
    }
    let err = app
        .try_contact(
            pb::ContactInput {
                phone: "+14155552699".into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains('3'), "{}", err.message());
    assert_eq!(app.get_account(&acc).await.contact_count, 3);
}

async fn concurrent_creates_never_pass_the_limit(app: TestApp) {
    let acc = app.account_with_limit(20).await;
    for i in 0..19 {
        app.contact(&acc, &format!("+1415555{:04}", 1000 + i), "x")
            .await;
    }
    // 19/20: ten clients race for the last slot, on separate connections.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut client = app.new_client().await;
        let acc = acc.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_contact(pb::CreateContactRequest {
                    account_id: acc,
                    contact: Some(pb::ContactInput {
                        phone: format!("+1415555{:04}", 3000 + i),
                        ..Default::default()
                    }),
                })
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(app.get_account(&acc).await.contact_count, 20);
    assert_eq!(app.list_all(&acc, Default::default()).await.len(), 20);
}

async fn search_finds_names_and_phone_digits(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let people = [
        ("+14155550101", "John", "Smith", "jsmith@example.com"),
        ("+14155550102", "Johanna", "Baker", ""),
        ("+12125550103", "Mary", "Johnson", ""),
        ("+442079460018", "Liz", "Smithers", ""),
    ];
    for (phone, first, last, email) in people {
        app.try_contact(
            pb::ContactInput {
                phone: phone.into(),
                first_name: first.into(),
                last_name: last.into(),
                email: email.into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap();
    }
    let search = |q: &str| pb::ContactFilter {
        query: q.into(),
        ..Default::default()
    };
    let names = |list: Vec<pb::Contact>| -> HashSet<String> {
        list.into_iter().map(|c| c.first_name).collect()
    };
    let set = |v: &[&str]| -> HashSet<String> { v.iter().map(|s| s.to_string()).collect() };

    assert_eq!(
        names(app.list_all(&acc, search("joh")).await),
        set(&["John", "Johanna", "Mary"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("JOHN SM")).await),
        set(&["John"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("smith")).await),
        set(&["John", "Liz"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("415-555")).await),
        set(&["John", "Johanna"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("(212) 555")).await),
        set(&["Mary"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("+1 415")).await),
        set(&["John", "Johanna"])
    );
    assert_eq!(
        names(app.list_all(&acc, search("020 7946")).await),
        set(&[])
    );
    assert_eq!(
        names(app.list_all(&acc, search("2079")).await),
        set(&["Liz"])
    );
    assert_eq!(names(app.list_all(&acc, search("zzz")).await), set(&[]));
    assert_eq!(
        names(app.list_all(&acc, search("jsmith")).await),
        set(&[]),
        "email is not searched"
    );
    assert_eq!(app.list_all(&acc, search("")).await.len(), 4);
    let active = pb::ContactFilter {
        status: pb::ContactStatus::Active as i32,
        ..Default::default()
    };
    assert_eq!(app.list_all(&acc, active).await.len(), 4);
    let dnc = pb::ContactFilter {
        status: pb::ContactStatus::Dnc as i32,
        ..Default::default()
    };
    assert_eq!(app.list_all(&acc, dnc).await.len(), 0);
    let never = pb::ContactFilter {
        never_called: true,
        ..Default::default()
    };
    assert_eq!(app.list_all(&acc, never).await.len(), 4);
}

async fn pages_are_stable_while_contacts_are_inserted(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut original = HashSet::new();
    for i in 0..45 {
        original.insert(
            app.contact(&acc, &format!("+1415555{:04}", 1000 + i), "x")
                .await
                .id,
        );
    }
    let mut client = app.client.clone();
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut inserted = 0;
    loop {
        let page = client
            .list_contacts(pb::ListContactsRequest {
                account_id: acc.clone(),
                filter: None,
                page_size: 10,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.contacts.len() <= 10);
        seen.extend(page.contacts.iter().map(|c| c.id));
        // Someone imports while we page.
        for _ in 0..3 {
            app.contact(&acc, &format!("+1415555{:04}", 5000 + inserted), "new")
                .await;
            inserted += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a contact appeared twice");
    assert_eq!(
        unique, original,
        "every original contact exactly once, none inserted later"
    );
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
}

async fn page_tokens_are_validated(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let err = app
        .client
        .clone()
        .list_contacts(pb::ListContactsRequest {
            account_id: acc,
            filter: None,
            page_size: 10,
            page_token: "garbage!".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["page_token"]);
}

async fn list_items_carry_what_the_contacts_page_shows(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let acc = app.account(pb::Plan::Professional).await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let input = pb::ContactInput {
        phone: "(415) 555-2671".into(),
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        email: "ann@example.com".into(),
        company: "Acme Dental".into(),
        ..Default::default()
    };
    let id = app.try_contact(input, &acc).await.unwrap().id;
    for (call, at) in [
        ("c1", "2026-03-01T10:00:00Z"),
        ("c2", "2026-03-02T11:30:00Z"),
    ] {
        let call = outbound(call, id, "", at, pb::CallOutcome::Answered);
        app.record_call(&acc, call).await.expect("record call");
    }

    let page = app
        .client
        .clone()
        .list_contacts(pb::ListContactsRequest {
            account_id: acc.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let [item] = &page.contacts[..] else {
        panic!("one contact listed: {:?}", page.contacts);
    };
    assert_eq!(
        (&*item.first_name, &*item.last_name, &*item.phone),
        ("Ann", "Lee", "+14155552671")
    );
    assert_eq!(
        (&*item.email, &*item.company),
        ("ann@example.com", "Acme Dental")
    );
    assert_eq!(item.status, pb::ContactStatus::Active as i32);
    let stats = item.call_stats.expect("call stats on a list item");
    assert_eq!(stats.call_count, 2, "number of calls");
    assert_eq!(
        stats.last_called_time,
        Some(ts_at("2026-03-02T11:30:00Z")),
        "last called at is the latest call's start"
    );
}

async fn page_size_above_the_cap_is_quietly_lowered_and_zero_is_the_default(app: TestApp) {
    let acc = app.account_with_limit(2000).await;
    app.seed_contacts(&acc, 0, 1001).await;
    let page = async |page_size: i32| {
        app.client
            .clone()
            .list_contacts(pb::ListContactsRequest {
                account_id: acc.clone(),
                page_size,
                ..Default::default()
            })
            .await
            .expect("an oversized page_size is not an error")
            .into_inner()
    };
    let capped = page(5000).await;
    assert_eq!(capped.contacts.len(), 1000, "page_size is capped at 1000");
    assert!(
        !capped.next_page_token.is_empty(),
        "the rest is on a next page"
    );
    let unset = page(0).await;
    assert_eq!(unset.contacts.len(), 50, "page_size 0 gives the default");
}
