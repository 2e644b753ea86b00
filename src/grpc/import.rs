//! import handlers (not implemented yet).

use super::BoxStream;
use crate::pb;
use crate::service::Services;
use tonic::{Request, Response, Status};

pub async fn preview_import(
    _svc: &Services,
    _request: Request<tonic::Streaming<pb::PreviewImportRequest>>,
) -> Result<Response<pb::PreviewImportResponse>, Status> {
    Err(Status::unimplemented(
        "preview_import is not implemented yet",
    ))
}

pub async fn import_contacts(
    _svc: &Services,
    _request: Request<tonic::Streaming<pb::ImportContactsRequest>>,
) -> Result<Response<BoxStream<pb::ImportContactsResponse>>, Status> {
    Err(Status::unimplemented(
        "import_contacts is not implemented yet",
    ))
}

pub async fn get_import_batch(
    _svc: &Services,
    _request: Request<pb::GetImportBatchRequest>,
) -> Result<Response<pb::GetImportBatchResponse>, Status> {
    Err(Status::unimplemented(
        "get_import_batch is not implemented yet",
    ))
}

pub async fn list_import_batches(
    _svc: &Services,
    _request: Request<pb::ListImportBatchesRequest>,
) -> Result<Response<pb::ListImportBatchesResponse>, Status> {
    Err(Status::unimplemented(
        "list_import_batches is not implemented yet",
    ))
}

pub async fn list_import_errors(
    _svc: &Services,
    _request: Request<pb::ListImportErrorsRequest>,
) -> Result<Response<pb::ListImportErrorsResponse>, Status> {
    Err(Status::unimplemented(
        "list_import_errors is not implemented yet",
    ))
}

pub async fn export_import_errors(
    _svc: &Services,
    _request: Request<pb::ExportImportErrorsRequest>,
) -> Result<Response<BoxStream<pb::ExportImportErrorsResponse>>, Status> {
    Err(Status::unimplemented(
        "export_import_errors is not implemented yet",
    ))
}
