//! Do-Not-Call handlers: MarkDnc, ClearDnc, CheckDnc, ListDncEvents.

use super::convert::bulk_result;
use super::convert::{self, account_id};
use crate::domain::dnc::DncSource;
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::service::dnc::{DncTargets, MAX_PHONES};
use tonic::{Request, Response, Status};

/// The targets of a DNC change: a selection and/or numbers, at least one.
fn targets(t: Option<pb::DncTargets>) -> Result<DncTargets> {
    let t = t.unwrap_or_default();
    let selection = match t.selection {
        Some(s) if s.selection.is_some() => {
            Some(convert::selection("targets.selection", Some(s), false)?)
        }
        _ => None,
    };
    if selection.is_none() && t.phones.is_empty() {
        return Err(Error::invalid(
            "targets",
            "give contacts (selection) and/or phone numbers",
        ));
    }
    phones_capped("targets.phones", &t.phones)?;
    Ok(DncTargets {
        selection,
        phones: t.phones,
        region: convert::region("targets.region", &t.region)?,
    })
}

fn phones_capped(field: &str, phones: &[String]) -> Result<()> {
    if phones.len() > MAX_PHONES {
        return Err(Error::Cap {
            what: format!("{field} ({} numbers)", phones.len()),
            cap: MAX_PHONES as u64,
        });
    }
    Ok(())
}

/// A DNC change's reason (at most 4 KiB) and who made it (at most 256 bytes).
fn reason_and_actor(reason: &str, actor: &str) -> Result<(String, String)> {
    Ok((
        convert::free_text("reason", reason, 4096)?,
        convert::free_text("actor", actor, 256)?,
    ))
}

pub async fn mark_dnc(
    svc: &Services,
    request: Request<pb::MarkDncRequest>,
) -> Result<Response<pb::MarkDncResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let source = match super::convert::known_enum("source", req.source)? {
        Some(pb::DncSource::Manual) => DncSource::Manual,
        Some(pb::DncSource::CallRequest) => DncSource::CallRequest,
        Some(pb::DncSource::Api) => DncSource::Api,
        _ => {
            return Err(Error::invalid("source", "must be MANUAL, CALL_REQUEST or API").into());
        }
    };
    let targets = targets(req.targets)?;
    let (reason, actor) = reason_and_actor(&req.reason, &req.actor)?;
    let counts = svc
        .mark_dnc(account, targets, source, &reason, &actor)
        .await?;
    Ok(Response::new(pb::MarkDncResponse {
        result: Some(bulk_result(counts)),
    }))
}

pub async fn clear_dnc(
    svc: &Services,
    request: Request<pb::ClearDncRequest>,
) -> Result<Response<pb::ClearDncResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let targets = targets(req.targets)?;
    let (reason, actor) = reason_and_actor(&req.reason, &req.actor)?;
    let counts = svc.clear_dnc(account, targets, &reason, &actor).await?;
    Ok(Response::new(pb::ClearDncResponse {
        result: Some(bulk_result(counts)),
    }))
}

pub async fn check_dnc(
    svc: &Services,
    request: Request<pb::CheckDncRequest>,
) -> Result<Response<pb::CheckDncResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    phones_capped("phones", &req.phones)?;
    let region = convert::region("region", &req.region)?;
    let checks = svc.check_dnc(account, &req.phones, region).await?;
    Ok(Response::new(pb::CheckDncResponse {
        results: checks
            .into_iter()
            .map(|c| pb::DncStatus {
                phone: c.phone,
                e164: c.e164,
                dnc: c.dnc,
                source: c.entry.as_ref().map_or(pb::DncSource::Unspecified, |e| {
                    pb::DncSource::from(e.source)
                }) as i32,
                create_time: c.entry.as_ref().map(|e| convert::ts(e.created_at)),
                lists: super::dnc_lists::hits(&c.lists),
                error: c.error,
            })
            .collect(),
    }))
}

pub async fn list_dnc_events(
    svc: &Services,
    request: Request<pb::ListDncEventsRequest>,
) -> Result<Response<pb::ListDncEventsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let (rows, next_page_token) = svc
        .list_dnc_events(
            account,
            &req.phone,
            super::convert::page_size(req.page_size)?,
            &req.page_token,
        )
        .await?;
    Ok(Response::new(pb::ListDncEventsResponse {
        events: rows
            .into_iter()
            .map(|e| pb::DncEvent {
                phone: e.phone,
                added: e.added,
                source: pb::DncSource::from(e.source) as i32,
                reason: e.reason,
                actor: e.actor,
                time: Some(convert::ts(e.created_at)),
                contact_id: e.contact_id.unwrap_or_default(),
            })
            .collect(),
        next_page_token,
    }))
}
