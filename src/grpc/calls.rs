//! calls handlers (not implemented yet).

use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn record_call(
    _svc: &Services,
    _request: Request<pb::RecordCallRequest>,
) -> Result<Response<pb::RecordCallResponse>, Status> {
    Err(Status::unimplemented("record_call is not implemented yet"))
}

pub async fn list_calls(
    _svc: &Services,
    _request: Request<pb::ListCallsRequest>,
) -> Result<Response<pb::ListCallsResponse>, Status> {
    Err(Status::unimplemented("list_calls is not implemented yet"))
}
