//! The tonic handlers. Each RPC has the same four steps — validate, convert, call the
//! service, convert back — in the module of its area. This file routes the generated
//! trait to them, and every route first passes the [`auth`] gate with the account the
//! request names: a new RPC cannot be added here without saying whose data it touches.

pub mod accounts;
pub mod auth;
pub mod callbacks;
pub mod calling_hours;
pub mod calls;
pub mod campaigns;
pub mod consents;
pub mod contacts;
pub mod convert;
pub mod deadline;
pub mod dnc;
pub mod dnc_lists;
pub mod export;
pub mod import;

use crate::error::Error;
use crate::pb::{self, contact_service_server::ContactService};
use crate::service::Services;
use auth::{Gate, Scope};
use std::pin::Pin;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, body::Body};

/// Largest accepted request message, once decompressed (an import chunk is at most 4 MiB
/// of CSV). Start-up sets it on the server; the CLI's client accepts answers as large.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// A server-streaming response.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A request message over [`MAX_MESSAGE_BYTES`]: RESOURCE_EXHAUSTED naming the cap.
pub fn message_over_cap() -> Error {
    Error::Cap {
        what: "a request message".into(),
        cap: MAX_MESSAGE_BYTES as u64,
    }
}

/// tonic refuses a request message over [`MAX_MESSAGE_BYTES`] with OUT_OF_RANGE, before
/// any handler runs; the gRPC spec, like every other cap of this API, calls that
/// RESOURCE_EXHAUSTED. No handler answers OUT_OF_RANGE, so every such answer is that
/// refusal and is rewritten here (a layer around the server). In a client stream the
/// refusal reaches the handler instead, which maps it with [`message_over_cap`].
pub fn message_cap_status(response: http::Response<Body>) -> http::Response<Body> {
    let refused = response
        .headers()
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"11");
    if refused {
        Status::from(message_over_cap()).into_http()
    } else {
        response
    }
}

/// The ContactService implementation.
#[derive(Clone, Debug)]
pub struct ContactApi {
    svc: Services,
    gate: Gate,
}

impl ContactApi {
    /// Handlers over `svc`, behind `gate`.
    pub fn new(svc: Services, gate: Gate) -> Self {
        Self { svc, gate }
    }
}

#[tonic::async_trait]
impl ContactService for ContactApi {
    async fn create_account(
        &self,
        mut request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        self.gate.admit(&mut request, |_| Scope::Global).await?;
        accounts::create_account(&self.svc, request).await
    }
    async fn get_account(
        &self,
        mut request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        accounts::get_account(&self.svc, request).await
    }
    async fn update_account(
        &self,
        mut request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::UpdateAccountResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        accounts::update_account(&self.svc, request).await
    }
    async fn create_contact(
        &self,
        mut request: Request<pb::CreateContactRequest>,
    ) -> Result<Response<pb::CreateContactResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::create_contact(&self.svc, request).await
    }
    async fn get_contact(
        &self,
        mut request: Request<pb::GetContactRequest>,
    ) -> Result<Response<pb::GetContactResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::get_contact(&self.svc, request).await
    }
    async fn update_contact(
        &self,
        mut request: Request<pb::UpdateContactRequest>,
    ) -> Result<Response<pb::UpdateContactResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::update_contact(&self.svc, request).await
    }
    async fn delete_contact(
        &self,
        mut request: Request<pb::DeleteContactRequest>,
    ) -> Result<Response<pb::DeleteContactResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::delete_contact(&self.svc, request).await
    }
    async fn list_contacts(
        &self,
        mut request: Request<pb::ListContactsRequest>,
    ) -> Result<Response<pb::ListContactsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::list_contacts(&self.svc, request).await
    }
    async fn bulk_delete_contacts(
        &self,
        mut request: Request<pb::BulkDeleteContactsRequest>,
    ) -> Result<Response<pb::BulkDeleteContactsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        contacts::bulk_delete_contacts(&self.svc, request).await
    }
    async fn preview_import(
        &self,
        mut request: Request<tonic::Streaming<pb::PreviewImportRequest>>,
    ) -> Result<Response<pb::PreviewImportResponse>, Status> {
        self.gate.admit(&mut request, |_| Scope::Deferred).await?;
        import::preview_import(&self.svc, request).await
    }
    type ImportContactsStream = BoxStream<pb::ImportContactsResponse>;
    async fn import_contacts(
        &self,
        mut request: Request<tonic::Streaming<pb::ImportContactsRequest>>,
    ) -> Result<Response<Self::ImportContactsStream>, Status> {
        self.gate.admit(&mut request, |_| Scope::Deferred).await?;
        import::import_contacts(&self.svc, request).await
    }
    async fn get_import_batch(
        &self,
        mut request: Request<pb::GetImportBatchRequest>,
    ) -> Result<Response<pb::GetImportBatchResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        import::get_import_batch(&self.svc, request).await
    }
    async fn list_import_batches(
        &self,
        mut request: Request<pb::ListImportBatchesRequest>,
    ) -> Result<Response<pb::ListImportBatchesResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        import::list_import_batches(&self.svc, request).await
    }
    async fn list_import_errors(
        &self,
        mut request: Request<pb::ListImportErrorsRequest>,
    ) -> Result<Response<pb::ListImportErrorsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        import::list_import_errors(&self.svc, request).await
    }
    type ExportImportErrorsStream = BoxStream<pb::ExportImportErrorsResponse>;
    async fn export_import_errors(
        &self,
        mut request: Request<pb::ExportImportErrorsRequest>,
    ) -> Result<Response<Self::ExportImportErrorsStream>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        import::export_import_errors(&self.svc, request).await
    }
    type ExportContactsStream = BoxStream<pb::ExportContactsResponse>;
    async fn export_contacts(
        &self,
        mut request: Request<pb::ExportContactsRequest>,
    ) -> Result<Response<Self::ExportContactsStream>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        export::export_contacts(&self.svc, request).await
    }
    async fn mark_dnc(
        &self,
        mut request: Request<pb::MarkDncRequest>,
    ) -> Result<Response<pb::MarkDncResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc::mark_dnc(&self.svc, request).await
    }
    async fn clear_dnc(
        &self,
        mut request: Request<pb::ClearDncRequest>,
    ) -> Result<Response<pb::ClearDncResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc::clear_dnc(&self.svc, request).await
    }
    async fn check_dnc(
        &self,
        mut request: Request<pb::CheckDncRequest>,
    ) -> Result<Response<pb::CheckDncResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc::check_dnc(&self.svc, request).await
    }
    async fn list_dnc_events(
        &self,
        mut request: Request<pb::ListDncEventsRequest>,
    ) -> Result<Response<pb::ListDncEventsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc::list_dnc_events(&self.svc, request).await
    }
    async fn create_dnc_list(
        &self,
        mut request: Request<pb::CreateDncListRequest>,
    ) -> Result<Response<pb::CreateDncListResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc_lists::create_dnc_list(&self.svc, request).await
    }
    async fn get_dnc_list(
        &self,
        mut request: Request<pb::GetDncListRequest>,
    ) -> Result<Response<pb::GetDncListResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc_lists::get_dnc_list(&self.svc, request).await
    }
    async fn list_dnc_lists(
        &self,
        mut request: Request<pb::ListDncListsRequest>,
    ) -> Result<Response<pb::ListDncListsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc_lists::list_dnc_lists(&self.svc, request).await
    }
    async fn update_dnc_list(
        &self,
        mut request: Request<pb::UpdateDncListRequest>,
    ) -> Result<Response<pb::UpdateDncListResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc_lists::update_dnc_list(&self.svc, request).await
    }
    async fn delete_dnc_list(
        &self,
        mut request: Request<pb::DeleteDncListRequest>,
    ) -> Result<Response<pb::DeleteDncListResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        dnc_lists::delete_dnc_list(&self.svc, request).await
    }
    async fn import_dnc_list(
        &self,
        mut request: Request<tonic::Streaming<pb::ImportDncListRequest>>,
    ) -> Result<Response<pb::ImportDncListResponse>, Status> {
        self.gate.admit(&mut request, |_| Scope::Deferred).await?;
        dnc_lists::import_dnc_list(&self.svc, request).await
    }
    async fn record_consent(
        &self,
        mut request: Request<pb::RecordConsentRequest>,
    ) -> Result<Response<pb::RecordConsentResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        consents::record_consent(&self.svc, request).await
    }
    async fn list_consents(
        &self,
        mut request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ListConsentsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        consents::list_consents(&self.svc, request).await
    }
    async fn revoke_consent(
        &self,
        mut request: Request<pb::RevokeConsentRequest>,
    ) -> Result<Response<pb::RevokeConsentResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        consents::revoke_consent(&self.svc, request).await
    }
    async fn record_call(
        &self,
        mut request: Request<pb::RecordCallRequest>,
    ) -> Result<Response<pb::RecordCallResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        calls::record_call(&self.svc, request).await
    }
    async fn list_calls(
        &self,
        mut request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        calls::list_calls(&self.svc, request).await
    }
    async fn list_callbacks(
        &self,
        mut request: Request<pb::ListCallbacksRequest>,
    ) -> Result<Response<pb::ListCallbacksResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        callbacks::list_callbacks(&self.svc, request).await
    }
    async fn add_to_campaign(
        &self,
        mut request: Request<pb::AddToCampaignRequest>,
    ) -> Result<Response<pb::AddToCampaignResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::add_to_campaign(&self.svc, request).await
    }
    async fn remove_from_campaign(
        &self,
        mut request: Request<pb::RemoveFromCampaignRequest>,
    ) -> Result<Response<pb::RemoveFromCampaignResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::remove_from_campaign(&self.svc, request).await
    }
    async fn claim_dialable_contacts(
        &self,
        mut request: Request<pb::ClaimDialableContactsRequest>,
    ) -> Result<Response<pb::ClaimDialableContactsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::claim_dialable_contacts(&self.svc, request).await
    }
    type StreamDialableContactsStream = BoxStream<pb::StreamDialableContactsResponse>;
    async fn stream_dialable_contacts(
        &self,
        mut request: Request<tonic::Streaming<pb::StreamDialableContactsRequest>>,
    ) -> Result<Response<Self::StreamDialableContactsStream>, Status> {
        self.gate.admit(&mut request, |_| Scope::Deferred).await?;
        campaigns::stream_dialable_contacts(&self.svc, request).await
    }
    async fn release_leases(
        &self,
        mut request: Request<pb::ReleaseLeasesRequest>,
    ) -> Result<Response<pb::ReleaseLeasesResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::release_leases(&self.svc, request).await
    }
    async fn check_dialable(
        &self,
        mut request: Request<pb::CheckDialableRequest>,
    ) -> Result<Response<pb::CheckDialableResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::check_dialable(&self.svc, request).await
    }
    async fn preview_dialable(
        &self,
        mut request: Request<pb::PreviewDialableRequest>,
    ) -> Result<Response<pb::PreviewDialableResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::preview_dialable(&self.svc, request).await
    }
    async fn call_now(
        &self,
        mut request: Request<pb::CallNowRequest>,
    ) -> Result<Response<pb::CallNowResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::call_now(&self.svc, request).await
    }
    async fn claim_call_requests(
        &self,
        mut request: Request<pb::ClaimCallRequestsRequest>,
    ) -> Result<Response<pb::ClaimCallRequestsResponse>, Status> {
        self.gate
            .admit(&mut request, |r| {
                if r.account_id.is_empty() {
                    Scope::Global
                } else {
                    Scope::Account(&r.account_id)
                }
            })
            .await?;
        campaigns::claim_call_requests(&self.svc, request).await
    }
    async fn render_template(
        &self,
        mut request: Request<pb::RenderTemplateRequest>,
    ) -> Result<Response<pb::RenderTemplateResponse>, Status> {
        self.gate
            .admit(&mut request, |r| Scope::Account(&r.account_id))
            .await?;
        campaigns::render_template(&self.svc, request).await
    }
}
