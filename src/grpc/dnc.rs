//! dnc handlers (not implemented yet).

use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn mark_dnc(
    _svc: &Services,
    _request: Request<pb::MarkDncRequest>,
) -> Result<Response<pb::MarkDncResponse>, Status> {
    Err(Status::unimplemented("mark_dnc is not implemented yet"))
}

pub async fn clear_dnc(
    _svc: &Services,
    _request: Request<pb::ClearDncRequest>,
) -> Result<Response<pb::ClearDncResponse>, Status> {
    Err(Status::unimplemented("clear_dnc is not implemented yet"))
}

pub async fn check_dnc(
    _svc: &Services,
    _request: Request<pb::CheckDncRequest>,
) -> Result<Response<pb::CheckDncResponse>, Status> {
    Err(Status::unimplemented("check_dnc is not implemented yet"))
}

pub async fn list_dnc_events(
    _svc: &Services,
    _request: Request<pb::ListDncEventsRequest>,
) -> Result<Response<pb::ListDncEventsResponse>, Status> {
    Err(Status::unimplemented(
        "list_dnc_events is not implemented yet",
    ))
}
