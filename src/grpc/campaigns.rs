//! Campaign and dialer handlers: membership, claims and the claim stream, leases,
//! CheckDialable, PreviewDialable, Call Now and its claims, script templates.

use super::BoxStream;
use super::calls::{MAX_ID, campaign_id};
use super::convert::bulk_result;
use super::convert::{self, account_id, contact_id};
use crate::domain::call::CallRequest;
use crate::domain::consent::ConsentRequirement;
use crate::domain::dialing::{
    DialRules, FrequencyOverride, LeaseId, MAX_DIALS, Refusal, ReleaseTarget, WEEK_MS,
};
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::service::dialable::DialTarget;
use crate::service::dialer::{Claim, Leased, StreamInput, WindowPolicy};
use std::time::Duration;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

/// Most contacts per claim.
const MAX_CLAIM: i32 = 1000;
/// Longest dialer lease, seconds.
const MAX_LEASE_SECONDS: i64 = 3600;
/// Default dialer lease, seconds.
const DEFAULT_LEASE_SECONDS: i64 = 300;
/// Longest ClaimCallRequests wait, ms.
const MAX_WAIT_MS: i32 = 30_000;

/// A required worker/dialer id.
fn worker(field: &str, id: &str) -> Result<String> {
    let id = convert::free_text(field, id, MAX_ID)?;
    if id.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    Ok(id)
}

/// Dialing rules with defaults for unset (zero) fields.
fn rules(field: &str, r: Option<pb::DialRules>) -> Result<DialRules> {
    let r = r.unwrap_or_default();
    let mut out = DialRules::default();
    match r.max_attempts {
        0 => {}
        n if n > 0 => out.max_attempts = n,
        _ => {
            return Err(Error::invalid(
                format!("{field}.max_attempts"),
                "must be positive",
            ));
        }
    }
    match r.retry_interval_seconds {
        0 => {}
        n if n > 0 && n <= 365 * 86_400 => out.retry_interval_ms = n * 1000,
        _ => {
            return Err(Error::invalid(
                format!("{field}.retry_interval_seconds"),
                "must be between 1 and 31536000",
            ));
        }
    }
    out.calling = std::sync::Arc::new(super::calling_hours::calling_rules(field, &r)?);
    out.frequency = FrequencyOverride {
        per_day: r
            .max_calls_per_day
            .map(|n| dial_limit(&format!("{field}.max_calls_per_day"), n))
            .transpose()?,
        per_week: r
            .max_calls_per_week
            .map(|n| dial_limit(&format!("{field}.max_calls_per_week"), n))
            .transpose()?,
        min_spacing_ms: r
            .min_call_spacing_seconds
            .map(|n| spacing(&format!("{field}.min_call_spacing_seconds"), n))
            .transpose()?,
    };
    out.require_consent =
        consent_requirement(&format!("{field}.require_consent"), r.require_consent)?;
    Ok(out)
}

/// The consent a campaign requires (unset: none).
fn consent_requirement(field: &str, value: i32) -> Result<ConsentRequirement> {
    Ok(
        match convert::known_enum::<pb::ConsentRequirement>(field, value)? {
            None | Some(pb::ConsentRequirement::Unspecified) => ConsentRequirement::NotRequired,
            Some(pb::ConsentRequirement::Express) => ConsentRequirement::Express,
            Some(pb::ConsentRequirement::ExpressWritten) => ConsentRequirement::ExpressWritten,
        },
    )
}

/// A frequency limit: 1..=50 dials.
pub(super) fn dial_limit(field: &str, n: i32) -> Result<i32> {
    if (1..=MAX_DIALS).contains(&n) {
        Ok(n)
    } else {
        Err(Error::invalid(
            field,
            format!("must be between 1 and {MAX_DIALS}; got {n}"),
        ))
    }
}

/// A spacing between two dials: 0..=7 days, in seconds; returns ms.
pub(super) fn spacing(field: &str, seconds: i64) -> Result<i64> {
    if (0..=WEEK_MS / 1000).contains(&seconds) {
        Ok(seconds * 1000)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "must be between 0 and {} seconds; got {seconds}",
                WEEK_MS / 1000
            ),
        ))
    }
}

fn claim(req: Option<pb::ClaimDialableContactsRequest>, prefix: &str) -> Result<(String, Claim)> {
    let req = req.ok_or_else(|| Error::invalid(prefix.trim_end_matches('.'), "is required"))?;
    let f = |name: &str| format!("{prefix}{name}");
    let account = account_id(&req.account_id)
        .map_err(|e| match e {
            Error::Invalid(mut v) => {
                v.iter_mut().for_each(|v| v.field = f(&v.field));
                Error::Invalid(v)
            }
            other => other,
        })?
        .to_string();
    if !(1..=MAX_CLAIM).contains(&req.max_contacts) {
        return Err(Error::invalid(
            f("max_contacts"),
            format!("must be between 1 and {MAX_CLAIM}"),
        ));
    }
    let lease_seconds = match req.lease_seconds {
        0 => DEFAULT_LEASE_SECONDS,
        n if (1..=MAX_LEASE_SECONDS).contains(&n) => n,
        _ => {
            return Err(Error::invalid(
                f("lease_seconds"),
                format!("must be between 1 and {MAX_LEASE_SECONDS}"),
            ));
        }
    };
    Ok((
        account,
        Claim {
            campaign_id: campaign_id(&f("campaign_id"), &req.campaign_id, true)?,
            dialer_id: worker(&f("dialer_id"), &req.dialer_id)?,
            max_contacts: req.max_contacts as usize,
            lease_ms: lease_seconds * 1000,
            rules: rules(&f("rules"), req.rules)?,
        },
    ))
}

fn dialable(l: Leased) -> pb::DialableContact {
    pb::DialableContact {
        contact: Some(convert::contact(l.contact, vec![])),
        lease_expire_time: Some(convert::ts(l.lease_expires_at)),
        attempts: l.attempts,
        time_zone: l.time_zone,
        lease_id: l.lease.to_string(),
        callback: l.callback.map(super::callbacks::message),
    }
}

fn call_request_message(r: CallRequest) -> pb::CallRequest {
    pb::CallRequest {
        id: r.id,
        account_id: r.account_id,
        contact_id: r.contact_id,
        phone: r.phone,
        requested_by: r.requested_by,
        create_time: Some(convert::ts(r.created_at)),
        lease_expire_time: convert::opt_ts(r.lease_expires_at),
        window_override: r.window_override,
        phone_extension: r.phone_extension,
    }
}

pub async fn add_to_campaign(
    svc: &Services,
    request: Request<pb::AddToCampaignRequest>,
) -> Result<Response<pb::AddToCampaignResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let campaign = campaign_id("campaign_id", &req.campaign_id, true)?;
    let selection = convert::selection("selection", req.selection, false)?;
    let counts = svc.add_to_campaign(account, &campaign, &selection).await?;
    Ok(Response::new(pb::AddToCampaignResponse {
        result: Some(bulk_result(counts)),
    }))
}

pub async fn remove_from_campaign(
    svc: &Services,
    request: Request<pb::RemoveFromCampaignRequest>,
) -> Result<Response<pb::RemoveFromCampaignResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let campaign = campaign_id("campaign_id", &req.campaign_id, true)?;
    let selection = convert::selection("selection", req.selection, false)?;
    let counts = svc
        .remove_from_campaign(account, &campaign, &selection)
        .await?;
    Ok(Response::new(pb::RemoveFromCampaignResponse {
        result: Some(bulk_result(counts)),
    }))
}

pub async fn claim_dialable_contacts(
    svc: &Services,
    request: Request<pb::ClaimDialableContactsRequest>,
) -> Result<Response<pb::ClaimDialableContactsResponse>, Status> {
    let (account, claim) = claim(Some(request.into_inner()), "")?;
    let leased = svc.claim_dialable(&account, &claim).await?;
    Ok(Response::new(pb::ClaimDialableContactsResponse {
        contacts: leased.into_iter().map(dialable).collect(),
    }))
}

/// Open demand one message may add.
const MAX_DEMAND: i32 = 10_000;

fn demand(n: i32) -> Result<u64> {
    if (0..=MAX_DEMAND).contains(&n) {
        Ok(n as u64)
    } else {
        Err(Error::invalid(
            "demand",
            format!("must be between 0 and {MAX_DEMAND}; got {n}"),
        ))
    }
}

/// The dialer's side of the stream failed (it went away, or sent too much).
fn dialer_gone(status: Status) -> Error {
    Error::Cancelled(format!("the dialer's stream ended: {}", status.message()))
}

/// A later message of the dialer's side: demand and/or releases, nothing else.
fn stream_input(m: pb::StreamDialableContactsRequest) -> Result<Vec<StreamInput>> {
    if m.claim.is_some() || m.poll_interval_ms != 0 {
        return Err(Error::invalid(
            "claim",
            "is only allowed in the first message of the stream",
        ));
    }
    let targets = release_targets(
        "release_contact_ids",
        &m.release_contact_ids,
        "release_lease_ids",
        &m.release_lease_ids,
    )?;
    let mut out = Vec::new();
    if !targets.is_empty() {
        out.push(StreamInput::Release(targets));
    }
    let n = demand(m.demand)?;
    if n > 0 {
        out.push(StreamInput::Demand(n));
    }
    Ok(out)
}

pub async fn stream_dialable_contacts(
    svc: &Services,
    request: Request<tonic::Streaming<pb::StreamDialableContactsRequest>>,
) -> Result<Response<BoxStream<pb::StreamDialableContactsResponse>>, Status> {
    let principal = super::auth::principal_of(&request);
    let token = super::auth::token_of(&request);
    let mut input = request.into_inner();
    let first = match input.next().await {
        Some(Ok(m)) => m,
        Some(Err(status)) => return Err(status),
        None => {
            return Err(Error::invalid("claim", "the first message must carry the claim").into());
        }
    };
    let account_in_request = first.claim.as_ref().map_or("", |c| c.account_id.as_str());
    super::auth::check_admitted(principal.as_ref(), account_in_request)?;
    let (account, claim) = claim(first.claim, "claim.")?;
    let poll_ms = match first.poll_interval_ms {
        0 => 1000,
        n if (10..=60_000).contains(&n) => n,
        _ => {
            return Err(Error::invalid("poll_interval_ms", "must be between 10 and 60000").into());
        }
    };
    for (field, empty) in [
        ("release_contact_ids", first.release_contact_ids.is_empty()),
        ("release_lease_ids", first.release_lease_ids.is_empty()),
    ] {
        if !empty {
            return Err(Error::invalid(field, "nothing is leased yet in the first message").into());
        }
    }
    let first_demand = demand(first.demand)?;
    svc.get_account(&account).await?;
    let later = futures::StreamExt::flat_map(input, |m| {
        futures::stream::iter(match m.map_err(dialer_gone).and_then(stream_input) {
            Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    });
    let rx = svc.stream_dialable(
        account,
        claim,
        Duration::from_millis(poll_ms as u64),
        first_demand,
        token,
        Box::pin(later),
    );
    let stream = ReceiverStream::new(rx).map(|batch| {
        batch
            .map(|b| pb::StreamDialableContactsResponse {
                contacts: b.into_iter().map(dialable).collect(),
            })
            .map_err(Status::from)
    });
    Ok(Response::new(Box::pin(stream)))
}

/// Leases to give back, by contact and by lease id (each checked, the field named).
fn release_targets(
    ids_field: &str,
    ids: &[i64],
    leases_field: &str,
    leases: &[String],
) -> Result<Vec<ReleaseTarget>> {
    let mut out = Vec::with_capacity(ids.len() + leases.len());
    for (i, id) in ids.iter().enumerate() {
        contact_id(&format!("{ids_field}[{i}]"), *id)?;
        out.push(ReleaseTarget::Contact(*id));
    }
    for (i, text) in leases.iter().enumerate() {
        let lease: LeaseId = text.parse().map_err(|_| {
            Error::invalid(
                format!("{leases_field}[{i}]"),
                "is not a lease id (use DialableContact.lease_id as given)",
            )
        })?;
        out.push(ReleaseTarget::Lease(lease));
    }
    Ok(out)
}

pub async fn release_leases(
    svc: &Services,
    request: Request<pb::ReleaseLeasesRequest>,
) -> Result<Response<pb::ReleaseLeasesResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let campaign = campaign_id("campaign_id", &req.campaign_id, true)?;
    let dialer = worker("dialer_id", &req.dialer_id)?;
    let targets = release_targets("contact_ids", &req.contact_ids, "lease_ids", &req.lease_ids)?;
    let released = svc
        .release_leases(account, &campaign, &dialer, &targets)
        .await?;
    Ok(Response::new(pb::ReleaseLeasesResponse {
        released: released as i64,
    }))
}

pub async fn check_dialable(
    svc: &Services,
    request: Request<pb::CheckDialableRequest>,
) -> Result<Response<pb::CheckDialableResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let target = match (req.contact_id, req.phone.trim()) {
        (id, phone) if id != 0 && !phone.is_empty() => {
            return Err(Error::invalid(
                "phone",
                "give contact_id or phone, not both (which one is checked would be a guess)",
            )
            .into());
        }
        (id, _) if id < 0 => {
            return Err(Error::invalid("contact_id", "must be positive").into());
        }
        (id, _) if id > 0 => DialTarget::Contact(id),
        (0, phone) if !phone.is_empty() => {
            DialTarget::Phone(phone.to_string(), convert::region("region", &req.region)?)
        }
        _ => {
            return Err(Error::invalid("contact_id", "give a contact id or a phone number").into());
        }
    };
    let campaign = campaign_id("campaign_id", &req.campaign_id, false)?;
    let rules = rules("rules", req.rules)?;
    let verdict = svc
        .check_dialable(
            account,
            target,
            (!campaign.is_empty()).then_some(campaign.as_str()),
            rules,
            &convert::free_text("dialer_id", &req.dialer_id, MAX_ID)?,
        )
        .await?;
    let reason = match verdict.refusal {
        None => pb::NotDialableReason::Unspecified,
        Some(Refusal::Dnc) => pb::NotDialableReason::Dnc,
        Some(Refusal::NotActive) => pb::NotDialableReason::NotActive,
        Some(Refusal::NoConsent) => pb::NotDialableReason::NoConsent,
        Some(Refusal::NotInCampaign) => pb::NotDialableReason::NotInCampaign,
        Some(Refusal::AttemptsExhausted) => pb::NotDialableReason::AttemptsExhausted,
        Some(Refusal::RetrySpacing) => pb::NotDialableReason::RetrySpacing,
        Some(Refusal::Leased) => pb::NotDialableReason::Leased,
        Some(Refusal::CallSpacing) => pb::NotDialableReason::CallSpacing,
        Some(Refusal::DailyLimit) => pb::NotDialableReason::DailyLimit,
        Some(Refusal::WeeklyLimit) => pb::NotDialableReason::WeeklyLimit,
        Some(Refusal::OutsideWindow) => pb::NotDialableReason::OutsideWindow,
        Some(Refusal::Unknown) => pb::NotDialableReason::Unknown,
        Some(Refusal::CallbackScheduled) => pb::NotDialableReason::CallbackScheduled,
        Some(Refusal::ClosedDay) => pb::NotDialableReason::ClosedDay,
        Some(Refusal::ExcludedDate) => pb::NotDialableReason::ExcludedDate,
    };
    Ok(Response::new(pb::CheckDialableResponse {
        dialable: verdict.refusal.is_none(),
        reason: reason as i32,
        detail: verdict.detail,
        callback: verdict.callback.map(super::callbacks::message),
        next_open_time: verdict.next_open.map(convert::ts),
    }))
}

pub async fn preview_dialable(
    svc: &Services,
    request: Request<pb::PreviewDialableRequest>,
) -> Result<Response<pb::PreviewDialableResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let campaign = campaign_id("campaign_id", &req.campaign_id, true)?;
    let rules = rules("rules", req.rules)?;
    let p = svc.preview_dialable(account, &campaign, rules).await?;
    Ok(Response::new(pb::PreviewDialableResponse {
        members: p.members,
        dialable: p.dialable,
        dnc: p.dnc,
        outside_window: p.outside_window,
        attempts_exhausted: p.attempts_exhausted,
        retry_spacing: p.retry_spacing,
        leased: p.leased,
        call_spacing: p.call_spacing,
        daily_limit: p.daily_limit,
        weekly_limit: p.weekly_limit,
        no_consent: p.no_consent,
        callbacks_due: p.callbacks_due,
        callback_scheduled: p.callback_scheduled,
        closed_day: p.closed_day,
        excluded_date: p.excluded_date,
        region_rules: p.region_rules,
    }))
}

pub async fn call_now(
    svc: &Services,
    request: Request<pb::CallNowRequest>,
) -> Result<Response<pb::CallNowResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let id = contact_id("contact_id", req.contact_id)?;
    let requested_by = convert::free_text("requested_by", &req.requested_by, MAX_ID)?;
    let window = if req.override_calling_window {
        if requested_by.is_empty() {
            return Err(Error::invalid(
                "requested_by",
                "is required with override_calling_window (who decided to call outside the window)",
            )
            .into());
        }
        WindowPolicy::Override
    } else {
        WindowPolicy::Obey(std::sync::Arc::new(super::calling_hours::calling_rules(
            "rules",
            &req.rules.unwrap_or_default(),
        )?))
    };
    let stored = svc.call_now(account, id, &requested_by, window).await?;
    Ok(Response::new(pb::CallNowResponse {
        request: Some(call_request_message(stored)),
    }))
}

pub async fn claim_call_requests(
    svc: &Services,
    request: Request<pb::ClaimCallRequestsRequest>,
) -> Result<Response<pb::ClaimCallRequestsResponse>, Status> {
    let req = request.into_inner();
    let account = if req.account_id.trim().is_empty() {
        None
    } else {
        Some(account_id(&req.account_id)?)
    };
    let worker = worker("worker_id", &req.worker_id)?;
    if !(1..=100).contains(&req.max_requests) {
        return Err(Error::invalid(
            "max_requests",
            format!("must be between 1 and 100, got {}", req.max_requests),
        )
        .into());
    }
    let max = req.max_requests;
    let lease_seconds = match req.lease_seconds {
        0 => 60,
        n if (1..=MAX_LEASE_SECONDS).contains(&n) => n,
        _ => {
            return Err(Error::invalid(
                "lease_seconds",
                format!("must be between 1 and {MAX_LEASE_SECONDS}"),
            )
            .into());
        }
    };
    if !(0..=MAX_WAIT_MS).contains(&req.wait_ms) {
        return Err(
            Error::invalid("wait_ms", format!("must be between 0 and {MAX_WAIT_MS}")).into(),
        );
    }
    let claimed = svc
        .claim_call_requests(
            account,
            &worker,
            max as u64,
            lease_seconds * 1000,
            Duration::from_millis(req.wait_ms as u64),
        )
        .await?;
    Ok(Response::new(pb::ClaimCallRequestsResponse {
        requests: claimed.into_iter().map(call_request_message).collect(),
    }))
}

pub async fn render_template(
    svc: &Services,
    request: Request<pb::RenderTemplateRequest>,
) -> Result<Response<pb::RenderTemplateResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let id = contact_id("contact_id", req.contact_id)?;
    if req.template.len() > 64 * 1024 {
        return Err(Error::Cap {
            what: "template".into(),
            cap: 64 * 1024,
        }
        .into());
    }
    let text = svc.render_template(account, id, &req.template).await?;
    Ok(Response::new(pb::RenderTemplateResponse { text }))
}
