//! export handlers (not implemented yet).

use super::BoxStream;
use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn export_contacts(
    _svc: &Services,
    _request: Request<pb::ExportContactsRequest>,
) -> Result<Response<BoxStream<pb::ExportContactsResponse>>, Status> {
    Err(Status::unimplemented(
        "export_contacts is not implemented yet",
    ))
}
