//! Call handlers: RecordCall and ListCalls.

use super::convert::{self, account_id};
use crate::domain::call::{Call, CallDirection, CallOutcome, Sentiment};
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::service::calls::CallInput;
use tonic::{Request, Response, Status};

/// Longest external id, campaign id or dialer id.
pub(super) const MAX_ID: usize = 128;
/// Longest URL.
const MAX_URL: usize = 2048;
/// Longest inline transcript (1 MiB).
const MAX_TRANSCRIPT: usize = 1 << 20;

/// A campaign id: optional unless `required`, at most 128 bytes.
pub fn campaign_id(field: &str, id: &str, required: bool) -> Result<String> {
    let id = convert::free_text(field, id, MAX_ID)?;
    if required && id.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    Ok(id)
}

fn call_input(
    call: Option<pb::Call>,
    region: &str,
    callback: Option<pb::CallbackTime>,
) -> Result<CallInput> {
    let c = call.ok_or_else(|| Error::invalid("call", "is required"))?;
    let external_id = convert::free_text("call.external_id", &c.external_id, MAX_ID)?;
    if external_id.is_empty() {
        return Err(Error::invalid(
            "call.external_id",
            "is required (the call service's id, the idempotency key)",
        ));
    }
    if c.contact_id < 0 {
        return Err(Error::invalid("call.contact_id", "must be positive"));
    }
    if c.contact_id == 0 && c.phone.trim().is_empty() {
        return Err(Error::invalid(
            "call.contact_id",
            "give contact_id or phone to say who was called",
        ));
    }
    let direction = match convert::known_enum::<pb::CallDirection>("call.direction", c.direction)? {
        Some(d) if let Ok(d) = CallDirection::try_from(d) => d,
        _ => {
            return Err(Error::invalid(
                "call.direction",
                "must be INBOUND or OUTBOUND",
            ));
        }
    };
    let outcome = match convert::known_enum::<pb::CallOutcome>("call.outcome", c.outcome)? {
        Some(o) if let Ok(o) = CallOutcome::try_from(o) => o,
        _ => return Err(Error::invalid("call.outcome", "is required")),
    };
    let sentiment = convert::known_enum::<pb::Sentiment>("call.sentiment", c.sentiment)?
        .map_or(Sentiment::Unspecified, Sentiment::from);
    let started_at = c
        .start_time
        .as_ref()
        .map(|t| convert::timestamp("call.start_time", t))
        .ok_or_else(|| Error::invalid("call.start_time", "is required"))??;
    if c.duration_seconds < 0 {
        return Err(Error::invalid(
            "call.duration_seconds",
            "must not be negative",
        ));
    }
    let campaign_id = campaign_id("call.campaign_id", &c.campaign_id, false)?;
    let callback = super::callbacks::callback_time(callback)?;
    match (outcome == CallOutcome::CallbackRequested, &callback) {
        (true, None) => {
            return Err(Error::invalid(
                "callback",
                "is required with CALL_OUTCOME_CALLBACK_REQUESTED: when to call back",
            ));
        }
        (true, Some(_)) if campaign_id.is_empty() => {
            return Err(Error::invalid(
                "call.campaign_id",
                "is required with CALL_OUTCOME_CALLBACK_REQUESTED: the campaign whose claims \
                 deliver the callback",
            ));
        }
        (false, Some(_)) => {
            return Err(Error::invalid(
                "callback",
                "is only for CALL_OUTCOME_CALLBACK_REQUESTED",
            ));
        }
        _ => {}
    }
    Ok(CallInput {
        external_id,
        contact_id: (c.contact_id > 0).then_some(c.contact_id),
        phone: c.phone,
        region: convert::region("region", region)?,
        direction,
        campaign_id,
        started_at,
        duration_seconds: c.duration_seconds,
        outcome,
        sentiment,
        recording_url: web_url("call.recording_url", &c.recording_url)?,
        transcript: convert::free_text("call.transcript", &c.transcript, MAX_TRANSCRIPT)?,
        transcript_url: web_url("call.transcript_url", &c.transcript_url)?,
        dnc_requested: c.dnc_requested,
        dialer_id: convert::free_text("call.dialer_id", &c.dialer_id, MAX_ID)?,
        callback,
    })
}

/// An optional http(s) URL (recordings and transcripts are fetched by people's browsers
/// and by other services: no `javascript:`, `file:` or other schemes).
fn web_url(field: &str, value: &str) -> Result<String> {
    let url = convert::free_text(field, value, MAX_URL)?;
    if url.is_empty() {
        return Ok(url);
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(url)
        }
        _ => Err(Error::invalid(
            field,
            "must be an http:// or https:// URL with a host",
        )),
    }
}

/// A stored call to its message.
fn call_message(c: Call) -> pb::Call {
    pb::Call {
        id: c.id,
        account_id: c.account_id,
        external_id: c.external_id,
        contact_id: c.contact_id.unwrap_or_default(),
        phone: c.phone,
        direction: pb::CallDirection::from(c.direction) as i32,
        campaign_id: c.campaign_id,
        start_time: Some(convert::ts(c.started_at)),
        duration_seconds: c.duration_seconds,
        outcome: pb::CallOutcome::from(c.outcome) as i32,
        sentiment: pb::Sentiment::from(c.sentiment) as i32,
        recording_url: c.recording_url,
        transcript: c.transcript,
        transcript_url: c.transcript_url,
        dnc_requested: c.dnc_requested,
        dialer_id: c.dialer_id,
    }
}

pub async fn record_call(
    svc: &Services,
    request: Request<pb::RecordCallRequest>,
) -> Result<Response<pb::RecordCallResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    // A DNC request is honoured even when the rest of the call is refused.
    let dnc = req
        .call
        .as_ref()
        .filter(|c| c.dnc_requested || c.outcome == pb::CallOutcome::DncRequested as i32);
    let dnc = dnc.map(|c| (c.contact_id, c.phone.clone(), c.external_id.clone()));
    let input = match call_input(req.call, &req.region, req.callback) {
        Ok(input) => input,
        Err(e) => {
            if let Some((contact, phone, external_id)) = dnc {
                let region = convert::region("region", &req.region).unwrap_or(None);
                svc.dnc_from_refused_call(
                    account,
                    (contact > 0).then_some(contact),
                    &phone,
                    region,
                    &external_id,
                )
                .await?;
            }
            return Err(e.into());
        }
    };
    let recorded = svc.record_call(account, input).await?;
    let callback = match recorded.call.outcome {
        CallOutcome::CallbackRequested => svc.callback_of_call(account, recorded.call.id).await?,
        _ => None,
    };
    Ok(Response::new(pb::RecordCallResponse {
        call: Some(call_message(recorded.call)),
        created: recorded.created,
        callback: callback.map(super::callbacks::message),
    }))
}

pub async fn list_calls(
    svc: &Services,
    request: Request<pb::ListCallsRequest>,
) -> Result<Response<pb::ListCallsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    if req.contact_id < 0 {
        return Err(Error::invalid("contact_id", "must be positive (or 0 for the account)").into());
    }
    let contact = (req.contact_id > 0).then_some(req.contact_id);
    let (rows, next_page_token) = svc
        .list_calls(
            account,
            contact,
            super::convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListCallsResponse {
        calls: rows.into_iter().map(call_message).collect(),
        next_page_token,
    }))
}
