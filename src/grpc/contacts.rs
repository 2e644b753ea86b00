//! Contact handlers.

use super::convert::{self, account_id, contact_id};
use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn create_contact(
    svc: &Services,
    request: Request<pb::CreateContactRequest>,
) -> Result<Response<pb::CreateContactResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let draft = convert::draft("contact", req.contact)?;
    let view = svc.create_contact(account, draft).await?;
    Ok(Response::new(pb::CreateContactResponse {
        contact: Some(convert::contact_view(view)),
    }))
}

pub async fn get_contact(
    svc: &Services,
    request: Request<pb::GetContactRequest>,
) -> Result<Response<pb::GetContactResponse>, Status> {
    let req = request.into_inner();
    let view = svc
        .get_contact(
            account_id(&req.account_id)?,
            contact_id("contact_id", req.contact_id)?,
        )
        .await?;
    Ok(Response::new(pb::GetContactResponse {
        contact: Some(convert::contact_view(view)),
    }))
}

pub async fn update_contact(
    svc: &Services,
    request: Request<pb::UpdateContactRequest>,
) -> Result<Response<pb::UpdateContactResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let id = contact_id("contact_id", req.contact_id)?;
    let draft = convert::draft("contact", req.contact)?;
    let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
    let view = svc.update_contact(account, id, draft, &paths).await?;
    Ok(Response::new(pb::UpdateContactResponse {
        contact: Some(convert::contact_view(view)),
    }))
}

pub async fn delete_contact(
    svc: &Services,
    request: Request<pb::DeleteContactRequest>,
) -> Result<Response<pb::DeleteContactResponse>, Status> {
    let req = request.into_inner();
    svc.delete_contact(
        account_id(&req.account_id)?,
        contact_id("contact_id", req.contact_id)?,
    )
    .await?;
    Ok(Response::new(pb::DeleteContactResponse {}))
}

pub async fn list_contacts(
    svc: &Services,
    request: Request<pb::ListContactsRequest>,
) -> Result<Response<pb::ListContactsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let filter = convert::filter("filter", req.filter)?;
    let (rows, next_page_token) = svc
        .list_contacts(
            account,
            &filter,
            super::convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListContactsResponse {
        contacts: rows
            .into_iter()
            .map(|c| convert::contact(c, vec![]))
            .collect(),
        next_page_token,
    }))
}

pub async fn bulk_delete_contacts(
    svc: &Services,
    request: Request<pb::BulkDeleteContactsRequest>,
) -> Result<Response<pb::BulkDeleteContactsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let selection = convert::selection("selection", req.selection, false)?;
    let result = svc.bulk_delete_contacts(account, &selection).await?;
    Ok(Response::new(pb::BulkDeleteContactsResponse {
        result: Some(convert::bulk_result(result)),
    }))
}
