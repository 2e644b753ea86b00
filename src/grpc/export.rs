//! ExportContacts: validate the selection and columns, start the export, and turn its
//! events into response messages as the client reads them, until the client's deadline.

use super::BoxStream;
use super::convert::{account_id, bulk_result, selection};
use crate::export::{ColumnChoice, ExportEvent};
use crate::pb::{self, export_contacts_response::Event};
use crate::service::Services;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

pub async fn export_contacts(
    svc: &Services,
    request: Request<pb::ExportContactsRequest>,
) -> Result<Response<BoxStream<pb::ExportContactsResponse>>, Status> {
    let deadline = super::deadline::deadline(request.metadata());
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let selection = selection("selection", req.selection, true)?;
    let columns = ColumnChoice::parse("columns", &req.columns)?;
    let events = svc.export_contacts(account, selection, columns).await?;
    let stream = events.map(|event| {
        let event = match event? {
            ExportEvent::Chunk(bytes) => Event::Chunk(bytes),
            ExportEvent::Progress(rows) => Event::RowsWritten(rows as i64),
            ExportEvent::Done(counts) => Event::Result(bulk_result(counts)),
        };
        Ok(pb::ExportContactsResponse { event: Some(event) })
    });
    Ok(Response::new(super::deadline::bounded(
        Box::pin(stream),
        deadline,
        "export",
    )))
}
