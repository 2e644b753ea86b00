//! Every RPC that takes a phone number reads it with the one parser: a `+CC` number whose
//! national number starts with `1` keeps that digit under a US default region (the
//! `phonenumber` crate this service used before stripped it as a US national prefix).

use crate::helpers::{TestApp, any_hour, clock_at, ms_at, outbound, rules};
use crate::import::import;
use contactd::pb;

both!(
    create_contact_keeps_a_plus_numbers_leading_1_under_a_us_default,
    update_contact_keeps_a_plus_numbers_leading_1_under_a_us_default,
    import_keeps_plus_numbers_leading_1_under_a_us_default,
    preview_finds_a_stored_plus_number_as_a_duplicate_under_a_us_default,
    mark_dnc_by_number_marks_the_contact_holding_that_number,
    clear_dnc_by_plus_number_reactivates_the_contact,
    check_dnc_reads_a_plus_number_under_a_us_default,
    record_call_by_plus_number_finds_the_contact,
    check_dialable_by_plus_number_sees_its_dnc_entry,
    search_by_a_plus_numbers_digits_finds_the_contact,
    import_dnc_list_blocks_plus_numbers_under_a_us_default,
    list_dnc_events_by_plus_number_under_a_us_default,
    an_extension_written_in_the_phone_is_kept_beside_the_number,
    an_extension_given_twice_must_agree,
    update_sets_an_extension_and_a_new_number_drops_the_old_one,
    extensions_import_from_their_column_or_the_phone_and_export_back,
    a_claimed_contact_carries_its_extension,
    a_call_now_request_carries_the_contacts_extension_to_the_worker,
);

/// A German mobile number as people write it, and its E.164 form.
const DE_MOBILE: &str = "+49 1512 3456789";
const DE_MOBILE_E164: &str = "+4915123456789";

/// A US-default account holding the German mobile number; returns (account, contact id).
async fn holding_de_mobile(app: &TestApp) -> (String, i64) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, DE_MOBILE, "Jonas").await;
    assert_eq!(c.phone, DE_MOBILE_E164);
    (acc, c.id)
}

async fn create_contact_keeps_a_plus_numbers_leading_1_under_a_us_default(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    for (raw, e164) in [
        (DE_MOBILE, DE_MOBILE_E164),
        ("+86 131 2345 6789", "+8613123456789"),
        ("+880 1812-345678", "+8801812345678"),
        ("+44 121 234 5678", "+441212345678"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+55 11 2345-6789", "+551123456789"),
    ] {
        let c = app.contact(&acc, raw, "Ann").await;
        assert_eq!(c.phone, e164, "{raw}");
    }
}

async fn update_contact_keeps_a_plus_numbers_leading_1_under_a_us_default(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+14155552671", "Ann").await;
    let updated = app
        .client
        .clone()
        .update_contact(pb::UpdateContactRequest {
            account_id: acc.clone(),
            contact_id: c.id,
            contact: Some(pb::ContactInput {
                phone: DE_MOBILE.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["phone".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(updated.phone, DE_MOBILE_E164);
}

async fn import_keeps_plus_numbers_leading_1_under_a_us_default(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = format!("phone,first name\n{DE_MOBILE},Jonas\n+86 131 2345 6789,Li\n");
    let batch = import(
        &app,
        pb::ImportOptions {
            account_id: acc.clone(),
            ..Default::default()
        },
        file.as_bytes(),
    )
    .await;
    assert_eq!(batch.counts.unwrap().imported, 2);
    let mut phones: Vec<String> = app
        .list_all(&acc, pb::ContactFilter::default())
        .await
        .into_iter()
        .map(|c| c.phone)
        .collect();
    phones.sort();
    assert_eq!(phones, [DE_MOBILE_E164, "+8613123456789"]);
}

async fn preview_finds_a_stored_plus_number_as_a_duplicate_under_a_us_default(app: TestApp) {
    let (acc, _) = holding_de_mobile(&app).await;
    let file = format!("phone,first name\n{DE_MOBILE},Jonas\n");
    let msgs = vec![
        pb::PreviewImportRequest {
            payload: Some(pb::preview_import_request::Payload::Options(
                pb::ImportOptions {
                    account_id: acc.clone(),
                    ..Default::default()
                },
            )),
            sample_rows: 1,
        },
        pb::PreviewImportRequest {
            payload: Some(pb::preview_import_request::Payload::Chunk(
                file.into_bytes(),
            )),
            sample_rows: 0,
        },
    ];
    let p = app
        .client
        .clone()
        .preview_import(tokio_stream::iter(msgs))
        .await
        .expect("preview")
        .into_inner();
    let c = p.counts.unwrap();
    assert_eq!(
        (c.imported, c.duplicates_existing, c.invalid),
        (0, 1, 0),
        "{c:?}"
    );
}

fn dnc_targets(phone: &str) -> Option<pb::DncTargets> {
    Some(pb::DncTargets {
        selection: None,
        phones: vec![phone.into()],
        region: String::new(),
    })
}

/// The example of issue #20: on a US-default account holding +4915123456789, marking that
/// number DNC must mark that contact (and list that number), so it is never dialed.
async fn mark_dnc_by_number_marks_the_contact_holding_that_number(app: TestApp) {
    let (acc, id) = holding_de_mobile(&app).await;
    let r = app
        .mark_dnc(&acc, &[], &[DE_MOBILE_E164], pb::DncSource::Manual)
        .await;
    assert_eq!((r.matched, r.changed), (1, 1), "{r:?}");
    let c = app.get_contact(&acc, id).await;
    assert_eq!(c.status, pb::ContactStatus::Dnc as i32);
    let events = app
        .client
        .clone()
        .list_dnc_events(pb::ListDncEventsRequest {
            account_id: acc.clone(),
            phone: String::new(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    let listed: Vec<&str> = events.iter().map(|e| e.phone.as_str()).collect();
    assert_eq!(listed, [DE_MOBILE_E164]);
}

async fn clear_dnc_by_plus_number_reactivates_the_contact(app: TestApp) {
    let (acc, id) = holding_de_mobile(&app).await;
    app.mark_dnc(&acc, &[id], &[], pb::DncSource::Manual).await;
    let r = app
        .client
        .clone()
        .clear_dnc(pb::ClearDncRequest {
            account_id: acc.clone(),
            targets: dnc_targets(DE_MOBILE),
            reason: "asked again".into(),
            actor: "tester".into(),
        })
        .await
        .expect("clear")
        .into_inner()
        .result
        .unwrap();
    assert_eq!((r.matched, r.changed), (1, 1), "{r:?}");
    let c = app.get_contact(&acc, id).await;
    assert_eq!(c.status, pb::ContactStatus::Active as i32);
}

async fn check_dnc_reads_a_plus_number_under_a_us_default(app: TestApp) {
    let (acc, id) = holding_de_mobile(&app).await;
    app.mark_dnc(&acc, &[id], &[], pb::DncSource::Manual).await;
    let s = app.check_dnc_one(&acc, DE_MOBILE).await;
    assert_eq!(
        (s.e164.as_str(), s.dnc, s.error.as_str()),
        (DE_MOBILE_E164, true, "")
    );
    let other = app.check_dnc_one(&acc, "+49 1512 3456788").await;
    assert_eq!((other.e164.as_str(), other.dnc), ("+4915123456788", false));
}

async fn record_call_by_plus_number_finds_the_contact(app: TestApp) {
    let (app, clock) = app.in_march_2026().await;
    let (acc, id) = holding_de_mobile(&app).await;
    clock.set(ms_at("2026-03-20T00:00:00Z"));
    let mut call = outbound(
        "ext-1",
        0,
        "",
        "2026-03-02T15:00:00Z",
        pb::CallOutcome::Answered,
    );
    call.phone = DE_MOBILE.into();
    let recorded = app.record_call(&acc, call).await.expect("record call");
    assert_eq!(recorded.call.unwrap().contact_id, id);
    let stats = app.get_contact(&acc, id).await.call_stats.unwrap();
    assert_eq!(stats.call_count, 1);
}

async fn check_dialable_by_plus_number_sees_its_dnc_entry(app: TestApp) {
    let (acc, _) = holding_de_mobile(&app).await;
    app.mark_dnc(&acc, &[], &[DE_MOBILE_E164], pb::DncSource::Manual)
        .await;
    let r = app
        .client
        .clone()
        .check_dialable(pb::CheckDialableRequest {
            account_id: acc.clone(),
            phone: DE_MOBILE.into(),
            ..Default::default()
        })
        .await
        .expect("check dialable")
        .into_inner();
    assert!(!r.dialable);
    assert_eq!(r.reason, pb::NotDialableReason::Dnc as i32, "{r:?}");
}

async fn search_by_a_plus_numbers_digits_finds_the_contact(app: TestApp) {
    let (acc, id) = holding_de_mobile(&app).await;
    app.contact(&acc, "+44 20 7946 0018", "Other").await;
    let found = app
        .list_all(
            &acc,
            pb::ContactFilter {
                query: DE_MOBILE.into(),
                ..Default::default()
            },
        )
        .await;
    let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
    assert_eq!(ids, [id]);
}

/// ImportDncList, as a plain file and as a CSV column, reads `+CC 1…` numbers as the
/// contacts were read: the listed contact cannot be dialed, and the list holds the number
/// itself.
async fn import_dnc_list_blocks_plus_numbers_under_a_us_default(app: TestApp) {
    use crate::dnc_lists::{import, options};
    let (acc, id) = holding_de_mobile(&app).await;
    let cn = app.contact(&acc, "+86 131 2345 6789", "Li").await;
    let files = [
        (pb::DncFileFormat::Plain, format!("{DE_MOBILE}\n")),
        (
            pb::DncFileFormat::Csv,
            "Name;Telefon\nLi;+86 131 2345 6789\n".into(),
        ),
    ];
    for (format, file) in files {
        let name = format!("{format:?}");
        let r = import(&app, options(&acc, &name, format), file.as_bytes(), 64)
            .await
            .expect("import dnc list");
        assert_eq!((r.added, r.invalid), (1, 0), "{name}: {r:?}");
    }
    for (contact, e164) in [(id, DE_MOBILE_E164), (cn.id, "+8613123456789")] {
        let r = app
            .client
            .clone()
            .check_dialable(pb::CheckDialableRequest {
                account_id: acc.clone(),
                contact_id: contact,
                ..Default::default()
            })
            .await
            .expect("check dialable")
            .into_inner();
        assert_eq!(
            (r.dialable, r.reason),
            (false, pb::NotDialableReason::Dnc as i32),
            "{e164}: {r:?}"
        );
        let s = app.check_dnc_one(&acc, e164).await;
        assert_eq!((s.dnc, s.lists.len()), (true, 1), "{e164}: {s:?}");
    }
}

async fn list_dnc_events_by_plus_number_under_a_us_default(app: TestApp) {
    let (acc, id) = holding_de_mobile(&app).await;
    app.mark_dnc(&acc, &[id], &[], pb::DncSource::Manual).await;
    let events = |phone: &str| {
        let mut client = app.client.clone();
        let req = pb::ListDncEventsRequest {
            account_id: acc.clone(),
            phone: phone.into(),
            page_size: 10,
            page_token: String::new(),
        };
        async move {
            let events = client.list_dnc_events(req).await.expect("events");
            let events = events.into_inner().events;
            events.into_iter().map(|e| e.phone).collect::<Vec<_>>()
        }
    };
    assert_eq!(events(DE_MOBILE).await, [DE_MOBILE_E164]);
    assert!(events("+49 1512 3456788").await.is_empty());
}

async fn update(
    app: &TestApp,
    acc: &str,
    id: i64,
    input: pb::ContactInput,
    paths: &[&str],
) -> Result<pb::Contact, tonic::Status> {
    app.client
        .clone()
        .update_contact(pb::UpdateContactRequest {
            account_id: acc.into(),
            contact_id: id,
            contact: Some(input),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
        })
        .await
        .map(|r| r.into_inner().contact.unwrap())
}

async fn an_extension_written_in_the_phone_is_kept_beside_the_number(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    for (raw, e164) in [
        ("+1 212 736 5000 ext. 22", "+12127365000"),
        ("+1 212 736 5001 x22", "+12127365001"),
        ("+1 212 736 5002;ext=22", "+12127365002"),
        ("(212) 736-5003 extension 22", "+12127365003"),
    ] {
        let c = app.contact(&acc, raw, "Ann").await;
        assert_eq!(
            (c.phone.as_str(), c.phone_extension.as_str()),
            (e164, "22"),
            "{raw}"
        );
        let stored = app.get_contact(&acc, c.id).await;
        assert_eq!(stored.phone_extension, "22");
    }
    // The extension is not part of the number: the same number with another extension is
    // the same contact.
    let again = app
        .try_contact(
            pb::ContactInput {
                phone: "+1 212 736 5000 x23".into(),
                ..Default::default()
            },
            &acc,
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::AlreadyExists, "{again:?}");
}

/// A contact input with a phone and an extension field.
fn input(phone: &str, ext: &str) -> pb::ContactInput {
    pb::ContactInput {
        phone: phone.into(),
        phone_extension: ext.into(),
        ..Default::default()
    }
}

async fn an_extension_given_twice_must_agree(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app
        .try_contact(input("+1 212 736 5000", "22"), &acc)
        .await
        .unwrap();
    assert_eq!(c.phone_extension, "22");
    for (phone, ext) in [("+1 212 736 5001 x22", "23"), ("+1 212 736 5002", "22a")] {
        let err = app.try_contact(input(phone, ext), &acc).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            crate::helpers::violated_fields(&err),
            ["contact.phone_extension"],
            "{phone} {ext}: {err:?}"
        );
    }
}

async fn update_sets_an_extension_and_a_new_number_drops_the_old_one(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+1 212 736 5000 x22", "Ann").await;
    let steps: [(&str, &str, &[&str], &str, &str); 3] = [
        ("", "7", &["phone_extension"], "+12127365000", "7"),
        ("+1 212 736 5009", "", &["phone"], "+12127365009", ""),
        (
            "+1 212 736 5008",
            "31",
            &["phone", "phone_extension"],
            "+12127365008",
            "31",
        ),
    ];
    for (phone, ext, paths, want_phone, want_ext) in steps {
        let u = update(&app, &acc, c.id, input(phone, ext), paths)
            .await
            .unwrap();
        let got = (u.phone.as_str(), u.phone_extension.as_str());
        assert_eq!(got, (want_phone, want_ext), "{paths:?}");
    }
}

async fn export_csv(app: &TestApp, acc: &str) -> String {
    let mut stream = app
        .client
        .clone()
        .export_contacts(pb::ExportContactsRequest {
            account_id: acc.into(),
            selection: None,
            columns: vec![
                "phone".into(),
                "phone_extension".into(),
                "first_name".into(),
            ],
        })
        .await
        .expect("export")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(msg) = stream.message().await.expect("export message") {
        if let Some(pb::export_contacts_response::Event::Chunk(c)) = msg.event {
            bytes.extend_from_slice(&c);
        }
    }
    String::from_utf8(bytes).unwrap()
}

async fn extensions_of(app: &TestApp, acc: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = app
        .list_all(acc, pb::ContactFilter::default())
        .await
        .into_iter()
        .map(|c| (c.phone, c.phone_extension))
        .collect();
    out.sort();
    out
}

async fn extensions_import_from_their_column_or_the_phone_and_export_back(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Phone,Ext,First Name\n\
                +1 212 736 5000,22,Ann\n\
                (212) 736-5001 x7,,Bo\n\
                +1 212 736 5002,,Cy\n";
    let opts = |acc: &str| pb::ImportOptions {
        account_id: acc.into(),
        ..Default::default()
    };
    let batch = import(&app, opts(&acc), file.as_bytes()).await;
    assert_eq!(batch.counts.unwrap().imported, 3);
    let expected = [
        ("+12127365000".to_string(), "22".to_string()),
        ("+12127365001".to_string(), "7".to_string()),
        ("+12127365002".to_string(), String::new()),
    ];
    assert_eq!(extensions_of(&app, &acc).await, expected);
    let csv = export_csv(&app, &acc).await;
    assert!(
        csv.starts_with("phone,phone_extension,first_name\n"),
        "{csv}"
    );
    assert!(csv.contains("+12127365000,22,Ann\n"), "{csv}");
    let other = app.account(pb::Plan::Professional).await;
    import(&app, opts(&other), csv.as_bytes()).await;
    assert_eq!(extensions_of(&app, &other).await, expected);
}

async fn a_claimed_contact_carries_its_extension(app: TestApp) {
    let clock = clock_at("2026-03-02T18:00:00Z");
    let app = app.with_clock(&clock).await;
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+1 212 736 5000 ext. 22", "Ann").await;
    app.add_to_campaign(&acc, "camp", &[c.id]).await;
    let claimed = app
        .claim(&acc, "camp", "d1", 10, Some(rules(5, 0, any_hour())))
        .await;
    let contact = claimed[0].contact.as_ref().unwrap();
    assert_eq!(
        (contact.phone.as_str(), contact.phone_extension.as_str()),
        ("+12127365000", "22")
    );
}

/// The telephony worker dials a Call Now request's number and sends its extension after
/// connect; a request whose extension changed since it was made is dropped, as one whose
/// number changed.
async fn a_call_now_request_carries_the_contacts_extension_to_the_worker(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let c = app.contact(&acc, "+1 212 736 5000 ext. 22", "Ann").await;
    let call_now = |id: i64| {
        let mut client = app.client.clone();
        let acc = acc.clone();
        async move {
            client
                .call_now(pb::CallNowRequest {
                    account_id: acc,
                    contact_id: id,
                    requested_by: "agent-7".into(),
                    override_calling_window: true,
                    rules: None,
                })
                .await
                .expect("call now")
                .into_inner()
                .request
                .expect("request")
        }
    };
    let made = call_now(c.id).await;
    assert_eq!(
        (made.phone.as_str(), made.phone_extension.as_str()),
        ("+12127365000", "22")
    );
    let claimed = crate::dialer::claim_requests(&app, &acc, "worker-1", 0).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (
            claimed[0].phone.as_str(),
            claimed[0].phone_extension.as_str()
        ),
        ("+12127365000", "22")
    );

    // Another contact's request, then its extension changes before a worker claims it.
    let d = app.contact(&acc, "+1 212 736 5001 x 7", "Bo").await;
    call_now(d.id).await;
    app.client
        .clone()
        .update_contact(pb::UpdateContactRequest {
            account_id: acc.clone(),
            contact_id: d.id,
            contact: Some(pb::ContactInput {
                phone: "+1 212 736 5001 x 8".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["phone".into()],
            }),
        })
        .await
        .expect("update");
    let claimed = crate::dialer::claim_requests(&app, &acc, "worker-1", 0).await;
    assert!(
        claimed.is_empty(),
        "a request for an extension since changed was handed out: {claimed:?}"
    );
}
