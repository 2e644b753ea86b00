//! Callback handlers and conversions: ListCallbacks, the callback time of RecordCall, and
//! the `Callback` message the claims, CheckDialable and RecordCall return.

use super::convert::{self, account_id, opt_ts, ts};
use crate::domain::callback::{Callback, CallbackStatus, CallbackTime, CancelReason, parse_local};
use crate::domain::timezone;
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::store::callbacks::ListFilter;
use tonic::{Request, Response, Status};

impl From<CallbackStatus> for pb::CallbackStatus {
    fn from(s: CallbackStatus) -> Self {
        match s {
            CallbackStatus::Pending => pb::CallbackStatus::Pending,
            CallbackStatus::Delivered => pb::CallbackStatus::Delivered,
            CallbackStatus::Cancelled => pb::CallbackStatus::Cancelled,
        }
    }
}

impl From<CancelReason> for pb::CallbackCancelReason {
    fn from(r: CancelReason) -> Self {
        match r {
            CancelReason::None => pb::CallbackCancelReason::Unspecified,
            CancelReason::Dnc => pb::CallbackCancelReason::Dnc,
            CancelReason::CallRecorded => pb::CallbackCancelReason::CallRecorded,
            CancelReason::RemovedFromCampaign => pb::CallbackCancelReason::RemovedFromCampaign,
        }
    }
}

/// A stored callback to its message.
pub fn message(c: Callback) -> pb::Callback {
    pb::Callback {
        id: c.id,
        account_id: c.account_id,
        campaign_id: c.campaign_id,
        contact_id: c.contact_id,
        request_time: Some(ts(c.requested_at)),
        time_zone: c.time_zone,
        local_time: c.local_time,
        due_time: Some(ts(c.due_at)),
        status: pb::CallbackStatus::from(c.status) as i32,
        cancel_reason: pb::CallbackCancelReason::from(c.cancel_reason) as i32,
        call_id: c.call_id.unwrap_or_default(),
        settled_call_id: c.settled_call_id.unwrap_or_default(),
        create_time: Some(ts(c.created_at)),
        settle_time: opt_ts(c.settled_at),
    }
}

/// RecordCall's callback time, checked for shape (the service checks it against the
/// clock and the contact's zone).
pub fn callback_time(t: Option<pb::CallbackTime>) -> Result<Option<CallbackTime>> {
    let Some(t) = t else { return Ok(None) };
    let zone = convert::free_text("callback.time_zone", &t.time_zone, 64)?;
    match t.time {
        None => Err(Error::invalid(
            "callback",
            "give callback_time (an instant) or local_time (with the contact's or time_zone's \
             wall clock)",
        )),
        Some(pb::callback_time::Time::CallbackTime(at)) => {
            if !zone.is_empty() {
                return Err(Error::invalid(
                    "callback.time_zone",
                    "is only for local_time (callback_time is an instant)",
                ));
            }
            Ok(Some(CallbackTime::At(convert::timestamp(
                "callback.callback_time",
                &at,
            )?)))
        }
        Some(pb::callback_time::Time::LocalTime(text)) => {
            let text = convert::free_text("callback.local_time", &text, 64)?;
            let at = parse_local(&text).map_err(|m| Error::invalid("callback.local_time", m))?;
            let zone = if zone.is_empty() {
                None
            } else {
                Some(timezone::parse_iana(&zone).ok_or_else(|| {
                    let hint = timezone::suggest(&zone)
                        .map(|z| format!(" (did you mean {z}?)"))
                        .unwrap_or_default();
                    Error::invalid(
                        "callback.time_zone",
                        format!("{zone:?} is not an IANA place zone like America/New_York{hint}"),
                    )
                })?)
            };
            Ok(Some(CallbackTime::Local { text, at, zone }))
        }
    }
}

pub async fn list_callbacks(
    svc: &Services,
    request: Request<pb::ListCallbacksRequest>,
) -> Result<Response<pb::ListCallbacksResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    if req.contact_id < 0 {
        return Err(
            Error::invalid("contact_id", "must be positive (or 0 for every contact)").into(),
        );
    }
    let campaign = super::calls::campaign_id("campaign_id", &req.campaign_id, false)?;
    let status = match convert::known_enum::<pb::CallbackStatus>("status", req.status)? {
        None | Some(pb::CallbackStatus::Unspecified) => None,
        Some(pb::CallbackStatus::Pending) => Some(CallbackStatus::Pending),
        Some(pb::CallbackStatus::Delivered) => Some(CallbackStatus::Delivered),
        Some(pb::CallbackStatus::Cancelled) => Some(CallbackStatus::Cancelled),
    };
    let filter = ListFilter {
        campaign_id: (!campaign.is_empty()).then_some(campaign),
        status,
        contact_id: (req.contact_id > 0).then_some(req.contact_id),
    };
    let (rows, next_page_token) = svc
        .list_callbacks(
            account,
            &filter,
            convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListCallbacksResponse {
        callbacks: rows.into_iter().map(message).collect(),
        next_page_token,
    }))
}
