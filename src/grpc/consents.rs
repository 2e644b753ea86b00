//! Consent handlers: RecordConsent, ListConsents, RevokeConsent.

use super::convert::{self, account_id, opt_ts, ts};
use crate::domain::consent::{Consent, ConsentKind};
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::service::consents::NewConsent;
use tonic::{Request, Response, Status};

fn to_proto(c: Consent, now: i64) -> pb::Consent {
    let live = c.is_live(now);
    pb::Consent {
        id: c.id,
        contact_id: c.contact_id,
        kind: match c.kind {
            ConsentKind::Express => pb::ConsentKind::Express,
            ConsentKind::ExpressWritten => pb::ConsentKind::ExpressWritten,
            ConsentKind::None => pb::ConsentKind::None,
        } as i32,
        channel: c.channel,
        source: c.source,
        capture_time: Some(ts(c.captured_at)),
        expire_time: opt_ts(c.expires_at),
        revoke_time: opt_ts(c.revoked_at),
        revoked_how: c.revoked_how,
        create_time: Some(ts(c.created_at)),
        live,
    }
}

fn new_consent(c: Option<pb::Consent>) -> Result<NewConsent> {
    let c = c.ok_or_else(|| Error::invalid("consent", "is required"))?;
    let kind = match convert::known_enum::<pb::ConsentKind>("consent.kind", c.kind)? {
        Some(pb::ConsentKind::Express) => ConsentKind::Express,
        Some(pb::ConsentKind::ExpressWritten) => ConsentKind::ExpressWritten,
        Some(pb::ConsentKind::None) => ConsentKind::None,
        _ => {
            return Err(Error::invalid(
                "consent.kind",
                "is required: EXPRESS, EXPRESS_WRITTEN or NONE",
            ));
        }
    };
    let time = |field: &str, t: &Option<prost_types::Timestamp>| {
        t.as_ref().map(|t| convert::timestamp(field, t)).transpose()
    };
    Ok(NewConsent {
        kind,
        channel: convert::short_text("consent.channel", &c.channel, 256)?,
        source: convert::free_text("consent.source", &c.source, 2048)?,
        captured_at: time("consent.capture_time", &c.capture_time)?,
        expires_at: time("consent.expire_time", &c.expire_time)?,
    })
}

pub async fn record_consent(
    svc: &Services,
    request: Request<pb::RecordConsentRequest>,
) -> Result<Response<pb::RecordConsentResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let contact = convert::contact_id("contact_id", req.contact_id)?;
    let stored = svc
        .record_consent(account, contact, new_consent(req.consent)?)
        .await?;
    Ok(Response::new(pb::RecordConsentResponse {
        consent: Some(to_proto(stored, svc.now())),
    }))
}

pub async fn list_consents(
    svc: &Services,
    request: Request<pb::ListConsentsRequest>,
) -> Result<Response<pb::ListConsentsResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let contact = convert::contact_id("contact_id", req.contact_id)?;
    let now = svc.now();
    let rows = svc.list_consents(account, contact).await?;
    Ok(Response::new(pb::ListConsentsResponse {
        consents: rows.into_iter().map(|c| to_proto(c, now)).collect(),
    }))
}

pub async fn revoke_consent(
    svc: &Services,
    request: Request<pb::RevokeConsentRequest>,
) -> Result<Response<pb::RevokeConsentResponse>, Status> {
    let req = request.into_inner();
    let account = account_id(&req.account_id)?;
    let contact = convert::contact_id("contact_id", req.contact_id)?;
    let how = convert::free_text("how", &req.how, 4096)?;
    if how.is_empty() {
        return Err(
            Error::invalid("how", "is required: say how the person revoked consent").into(),
        );
    }
    let actor = convert::free_text("actor", &req.actor, 256)?;
    let r = svc.revoke_consent(account, contact, &how, &actor).await?;
    Ok(Response::new(pb::RevokeConsentResponse {
        revoked: r.consents as i64,
        marked_dnc: r.marked_dnc,
    }))
}
