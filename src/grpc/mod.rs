//! The tonic handlers. Each RPC has the same four steps — validate, convert, call the
//! service, convert back — in the module of its area; this file only routes the
//! generated trait to them, so a new RPC is one line here plus its handler.

pub mod accounts;
pub mod calls;
pub mod campaigns;
pub mod contacts;
pub mod convert;
pub mod dnc;
pub mod export;
pub mod import;

use crate::pb::{self, contact_service_server::ContactService};
use crate::service::Services;
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// A server-streaming response.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The ContactService implementation.
#[derive(Clone, Debug)]
pub struct ContactApi {
    svc: Services,
}

impl ContactApi {
    /// Handlers over `svc`.
    pub fn new(svc: Services) -> Self {
        Self { svc }
    }
}

#[tonic::async_trait]
impl ContactService for ContactApi {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        accounts::create_account(&self.svc, request).await
    }
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        accounts::get_account(&self.svc, request).await
    }
    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::UpdateAccountResponse>, Status> {
        accounts::update_account(&self.svc, request).await
    }
    async fn create_contact(
        &self,
        request: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::CreateContactResponse>, Status> {
        contacts::create_contact(&self.svc, request).await
    }
    async fn get_contact(
        &self,
        request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::GetContactResponse>, Status> {
        contacts::get_contact(&self.svc, request).await
    }
    async fn update_contact(
        &self,
        request: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        contacts::update_contact(&self.svc, request).await
    }
    async fn delete_contact(
        &self,
        request: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        contacts::delete_contact(&self.svc, request).await
    }
    async fn list_contacts(
        &self,
        request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        contacts::list_contacts(&self.svc, request).await
    }
    async fn bulk_delete_contacts(
        &self,
        request: Request<pb::BulkDeleteContactsRequest>,
    ) -> Result<Response<pb::BulkDeleteContactsResponse>, Status> {
        contacts::bulk_delete_contacts(&self.svc, request).await
    }
    async fn preview_import(
        &self,
        request: Request<tonic::Streaming<pb::PreviewImportRequest>>,
    ) -> Result<Response<pb::PreviewImportResponse>, Status> {
        import::preview_import(&self.svc, request).await
    }
    type ImportContactsStream = BoxStream<pb::ImportContactsResponse>;
    async fn import_contacts(
        &self,
        request: Request<tonic::Streaming<pb::ImportContactsRequest>>,
    ) -> Result<Response<Self::ImportContactsStream>, Status> {
        import::import_contacts(&self.svc, request).await
    }
    async fn get_import_batch(
        &self,
        request: Request<pb::GetImportBatchRequest>,
    ) -> Result<Response<pb::GetImportBatchResponse>, Status> {
        import::get_import_batch(&self.svc, request).await
    }
    async fn list_import_batches(
        &self,
        request: Request<pb::ListImportBatchesRequest>,
    ) -> Result<Response<pb::ListImportBatchesResponse>, Status> {
        import::list_import_batches(&self.svc, request).await
    }
    async fn list_import_errors(
        &self,
        request: Request<pb::ListImportErrorsRequest>,
    ) -> Result<Response<pb::ListImportErrorsResponse>, Status> {
        import::list_import_errors(&self.svc, request).await
    }
    type ExportImportErrorsStream = BoxStream<pb::ExportImportErrorsResponse>;
    async fn export_import_errors(
        &self,
        request: Request<pb::ExportImportErrorsRequest>,
    ) -> Result<Response<Self::ExportImportErrorsStream>, Status> {
        import::export_import_errors(&self.svc, request).await
    }
    type ExportContactsStream = BoxStream<pb::ExportContactsResponse>;
    async fn export_contacts(
        &self,
        request: Request<pb::ExportContactsRequest>,
    ) -> Result<Response<Self::ExportContactsStream>, Status> {
        export::export_contacts(&self.svc, request).await
    }
    async fn mark_dnc(
        &self,
        request: Request<pb::MarkDncRequest>,
    ) -> Result<Response<pb::MarkDncResponse>, Status> {
        dnc::mark_dnc(&self.svc, request).await
    }
    async fn clear_dnc(
        &self,
        request: Request<pb::ClearDncRequest>,
    ) -> Result<Response<pb::ClearDncResponse>, Status> {
        dnc::clear_dnc(&self.svc, request).await
    }
    async fn check_dnc(
        &self,
        request: Request<pb::CheckDncRequest>,
    ) -> Result<Response<pb::CheckDncResponse>, Status> {
        dnc::check_dnc(&self.svc, request).await
    }
    async fn list_dnc_events(
        &self,
        request: Request<pb::ListDncEventsRequest>,
    ) -> Result<Response<pb::ListDncEventsResponse>, Status> {
        dnc::list_dnc_events(&self.svc, request).await
    }
    async fn record_call(
        &self,
        request: Request<pb::RecordCallRequest>,
    ) -> Result<Response<pb::RecordCallResponse>, Status> {
        calls::record_call(&self.svc, request).await
    }
    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        calls::list_calls(&self.svc, request).await
    }
    async fn add_to_campaign(
        &self,
        request: Request<pb::AddToCampaignRequest>,
    ) -> Result<Response<pb::AddToCampaignResponse>, Status> {
        campaigns::add_to_campaign(&self.svc, request).await
    }
    async fn remove_from_campaign(
        &self,
        request: Request<pb::RemoveFromCampaignRequest>,
    ) -> Result<Response<pb::RemoveFromCampaignResponse>, Status> {
        campaigns::remove_from_campaign(&self.svc, request).await
    }
    async fn claim_dialable_contacts(
        &self,
        request: Request<pb::ClaimDialableContactsRequest>,
    ) -> Result<Response<pb::ClaimDialableContactsResponse>, Status> {
        campaigns::claim_dialable_contacts(&self.svc, request).await
    }
    type StreamDialableContactsStream = BoxStream<pb::StreamDialableContactsResponse>;
    async fn stream_dialable_contacts(
        &self,
        request: Request<pb::StreamDialableContactsRequest>,
    ) -> Result<Response<Self::StreamDialableContactsStream>, Status> {
        campaigns::stream_dialable_contacts(&self.svc, request).await
    }
    async fn release_leases(
        &self,
        request: Request<pb::ReleaseLeasesRequest>,
    ) -> Result<Response<pb::ReleaseLeasesResponse>, Status> {
        campaigns::release_leases(&self.svc, request).await
    }
    async fn check_dialable(
        &self,
        request: Request<pb::CheckDialableRequest>,
    ) -> Result<Response<pb::CheckDialableResponse>, Status> {
        campaigns::check_dialable(&self.svc, request).await
    }
    async fn preview_dialable(
        &self,
        request: Request<pb::PreviewDialableRequest>,
    ) -> Result<Response<pb::PreviewDialableResponse>, Status> {
        campaigns::preview_dialable(&self.svc, request).await
    }
    async fn call_now(
        &self,
        request: Request<pb::CallNowRequest>,
    ) -> Result<Response<pb::CallNowResponse>, Status> {
        campaigns::call_now(&self.svc, request).await
    }
    async fn claim_call_requests(
        &self,
        request: Request<pb::ClaimCallRequestsRequest>,
    ) -> Result<Response<pb::ClaimCallRequestsResponse>, Status> {
        campaigns::claim_call_requests(&self.svc, request).await
    }
    async fn render_template(
        &self,
        request: Request<pb::RenderTemplateRequest>,
    ) -> Result<Response<pb::RenderTemplateResponse>, Status> {
        campaigns::render_template(&self.svc, request).await
    }
}
