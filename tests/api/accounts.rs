//! Accounts and plan limits.

use crate::helpers::{TestApp, violated_fields};
use contactd::pb;
use tonic::Code;

both!(
    plans_carry_their_contact_limits,
    custom_plan_needs_a_valid_limit,
    unknown_account_is_not_found,
    update_account_changes_only_named_fields,
    account_counts_its_contacts,
);

async fn plans_carry_their_contact_limits(app: TestApp) {
    for (plan, limit) in [
        (pb::Plan::Professional, 1_000),
        (pb::Plan::Dental, 5_000),
        (pb::Plan::RealEstate, 50_000),
    ] {
        let id = app.account(plan).await;
        let acc = app.get_account(&id).await;
        assert_eq!(acc.plan, plan as i32);
        assert_eq!(acc.contact_limit, limit);
        assert_eq!(acc.contact_count, 0);
        assert_eq!(acc.default_region, "US");
    }
    let id = app.account_with_limit(250).await;
    assert_eq!(app.get_account(&id).await.contact_limit, 250);
}

async fn custom_plan_needs_a_valid_limit(app: TestApp) {
    let mut client = app.client.clone();
    for (plan, limit, field) in [
        (pb::Plan::Custom, 0, "contact_limit"),
        (pb::Plan::Professional, 5, "contact_limit"),
        (pb::Plan::Unspecified, 0, "plan"),
    ] {
        let err = client
            .create_account(pb::CreateAccountRequest {
                name: "x".into(),
                plan: plan as i32,
                contact_limit: limit,
                default_region: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&err), [field]);
    }
    let err = client
        .create_account(pb::CreateAccountRequest {
            name: "x".into(),
            plan: pb::Plan::Dental as i32,
            contact_limit: 0,
            default_region: "Narnia".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["default_region"]);
    // A NUL (which PostgreSQL cannot store) is a named field error, not INTERNAL.
    let err = client
        .create_account(pb::CreateAccountRequest {
            name: "Acme\0".into(),
            plan: pb::Plan::Dental as i32,
            contact_limit: 0,
            default_region: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["name"]);
}

async fn unknown_account_is_not_found(app: TestApp) {
    let err = app
        .client
        .clone()
        .get_account(pb::GetAccountRequest {
            account_id: "acc_nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .client
        .clone()
        .get_account(pb::GetAccountRequest {
            account_id: "".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["account_id"]);
}

async fn update_account_changes_only_named_fields(app: TestApp) {
    let id = app.account(pb::Plan::Professional).await;
    let updated = app
        .client
        .clone()
        .update_account(pb::UpdateAccountRequest {
            account_id: id.clone(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["plan".into()],
            }),
            name: "ignored".into(),
            plan: pb::Plan::RealEstate as i32,
            contact_limit: 0,
            default_region: "GB".into(),
            frequency: None,
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(updated.contact_limit, 50_000);
    assert_eq!(updated.name, "Test Co");
    assert_eq!(updated.default_region, "US");

    let err = app
        .client
        .clone()
        .update_account(pb::UpdateAccountRequest {
            account_id: id,
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["id".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["update_mask"]);
}

async fn account_counts_its_contacts(app: TestApp) {
    let id = app.account(pb::Plan::Professional).await;
    let a = app.contact(&id, "+14155552671", "Ann").await;
    app.contact(&id, "+14155552672", "Bob").await;
    assert_eq!(app.get_account(&id).await.contact_count, 2);
    app.client
        .clone()
        .delete_contact(pb::DeleteContactRequest {
            account_id: id.clone(),
            contact_id: a.id,
        })
        .await
        .unwrap();
    assert_eq!(app.get_account(&id).await.contact_count, 1);
}
