//! campaigns handlers (not implemented yet).

use super::BoxStream;
use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn add_to_campaign(
    _svc: &Services,
    _request: Request<pb::AddToCampaignRequest>,
) -> Result<Response<pb::AddToCampaignResponse>, Status> {
    Err(Status::unimplemented(
        "add_to_campaign is not implemented yet",
    ))
}

pub async fn remove_from_campaign(
    _svc: &Services,
    _request: Request<pb::RemoveFromCampaignRequest>,
) -> Result<Response<pb::RemoveFromCampaignResponse>, Status> {
    Err(Status::unimplemented(
        "remove_from_campaign is not implemented yet",
    ))
}

pub async fn claim_dialable_contacts(
    _svc: &Services,
    _request: Request<pb::ClaimDialableContactsRequest>,
) -> Result<Response<pb::ClaimDialableContactsResponse>, Status> {
    Err(Status::unimplemented(
        "claim_dialable_contacts is not implemented yet",
    ))
}

pub async fn stream_dialable_contacts(
    _svc: &Services,
    _request: Request<pb::StreamDialableContactsRequest>,
) -> Result<Response<BoxStream<pb::StreamDialableContactsResponse>>, Status> {
    Err(Status::unimplemented(
        "stream_dialable_contacts is not implemented yet",
    ))
}

pub async fn release_leases(
    _svc: &Services,
    _request: Request<pb::ReleaseLeasesRequest>,
) -> Result<Response<pb::ReleaseLeasesResponse>, Status> {
    Err(Status::unimplemented(
        "release_leases is not implemented yet",
    ))
}

pub async fn check_dialable(
    _svc: &Services,
    _request: Request<pb::CheckDialableRequest>,
) -> Result<Response<pb::CheckDialableResponse>, Status> {
    Err(Status::unimplemented(
        "check_dialable is not implemented yet",
    ))
}

pub async fn preview_dialable(
    _svc: &Services,
    _request: Request<pb::PreviewDialableRequest>,
) -> Result<Response<pb::PreviewDialableResponse>, Status> {
    Err(Status::unimplemented(
        "preview_dialable is not implemented yet",
    ))
}

pub async fn call_now(
    _svc: &Services,
    _request: Request<pb::CallNowRequest>,
) -> Result<Response<pb::CallNowResponse>, Status> {
    Err(Status::unimplemented("call_now is not implemented yet"))
}

pub async fn claim_call_requests(
    _svc: &Services,
    _request: Request<pb::ClaimCallRequestsRequest>,
) -> Result<Response<pb::ClaimCallRequestsResponse>, Status> {
    Err(Status::unimplemented(
        "claim_call_requests is not implemented yet",
    ))
}

pub async fn render_template(
    _svc: &Services,
    _request: Request<pb::RenderTemplateRequest>,
) -> Result<Response<pb::RenderTemplateResponse>, Status> {
    Err(Status::unimplemented(
        "render_template is not implemented yet",
    ))
}
