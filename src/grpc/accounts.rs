//! Account handlers.

use super::convert::{account_id, ts};
use crate::domain::dialing::Frequency;
use crate::domain::{Account, Plan, Region};
use crate::error::{Error, Result};
use crate::pb;
use crate::service::Services;
use crate::service::accounts::{AccountChanges, NewAccount};
use tonic::{Request, Response, Status};

fn plan(field: &str, value: i32, custom_limit: i64) -> Result<Plan> {
    let p = pb::Plan::try_from(value)
        .map_err(|_| Error::invalid(field, format!("{value} is not a plan")))?;
    let named = |p: Plan| {
        if custom_limit != 0 {
            Err(Error::invalid(
                "contact_limit",
                "is only allowed with PLAN_CUSTOM",
            ))
        } else {
            Ok(p)
        }
    };
    match p {
        pb::Plan::Unspecified => Err(Error::invalid(
            field,
            "is required: PLAN_PROFESSIONAL, PLAN_DENTAL, PLAN_REAL_ESTATE or PLAN_CUSTOM",
        )),
        pb::Plan::Professional => named(Plan::Professional),
        pb::Plan::Dental => named(Plan::Dental),
        pb::Plan::RealEstate => named(Plan::RealEstate),
        pb::Plan::Custom => {
            Plan::custom(custom_limit).map_err(|r| Error::invalid("contact_limit", r))
        }
    }
}

fn name(value: &str) -> Result<String> {
    let v = super::convert::short_text("name", value, 200)?;
    if v.is_empty() {
        return Err(Error::invalid("name", "is required"));
    }
    Ok(v)
}

/// An account to its message.
pub fn to_proto(a: Account) -> pb::Account {
    let plan = match a.plan {
        Some(Plan::Professional) => pb::Plan::Professional,
        Some(Plan::Dental) => pb::Plan::Dental,
        Some(Plan::RealEstate) => pb::Plan::RealEstate,
        Some(Plan::Custom(_)) => pb::Plan::Custom,
        None => pb::Plan::Unspecified,
    };
    pb::Account {
        id: a.id,
        name: a.name,
        plan: plan as i32,
        contact_limit: a.contact_limit,
        contact_count: a.contact_count,
        default_region: a.default_region,
        create_time: Some(ts(a.created_at)),
        frequency: Some(pb::FrequencyRules {
            max_calls_per_day: a.max_calls_per_day,
            max_calls_per_week: a.max_calls_per_week,
            min_call_spacing_seconds: a.min_call_spacing_seconds,
        }),
    }
}

/// Frequency rules from UpdateAccount: every field given, 0 meaning the default.
fn frequency(f: Option<pb::FrequencyRules>) -> Result<Frequency> {
    let f = f.ok_or_else(|| Error::invalid("frequency", "is required with the frequency path"))?;
    let d = Frequency::default();
    Ok(Frequency {
        per_day: match f.max_calls_per_day {
            0 => d.per_day,
            n => super::campaigns::dial_limit("frequency.max_calls_per_day", n)?,
        },
        per_week: match f.max_calls_per_week {
            0 => d.per_week,
            n => super::campaigns::dial_limit("frequency.max_calls_per_week", n)?,
        },
        min_spacing_ms: match f.min_call_spacing_seconds {
            0 => d.min_spacing_ms,
            n => super::campaigns::spacing("frequency.min_call_spacing_seconds", n)?,
        },
    })
}

pub async fn create_account(
    svc: &Services,
    request: Request<pb::CreateAccountRequest>,
) -> Result<Response<pb::CreateAccountResponse>, Status> {
    let req = request.into_inner();
    let new = NewAccount {
        name: name(&req.name)?,
        plan: plan("plan", req.plan, req.contact_limit)?,
        default_region: if req.default_region.trim().is_empty() {
            Region::parse("US").map_err(Error::Internal)?
        } else {
            Region::parse(&req.default_region).map_err(|r| Error::invalid("default_region", r))?
        },
    };
    let account = svc.create_account(new).await?;
    Ok(Response::new(pb::CreateAccountResponse {
        account: Some(to_proto(account)),
    }))
}

pub async fn get_account(
    svc: &Services,
    request: Request<pb::GetAccountRequest>,
) -> Result<Response<pb::GetAccountResponse>, Status> {
    let req = request.into_inner();
    let account = svc.get_account(account_id(&req.account_id)?).await?;
    Ok(Response::new(pb::GetAccountResponse {
        account: Some(to_proto(account)),
    }))
}

/// UpdateAccount paths that are billing: what the customer pays for. Only an internal
/// key (the billing system, an operator) may change them; an account's own key may not.
const BILLING_PATHS: [&str; 2] = ["plan", "contact_limit"];

pub async fn update_account(
    svc: &Services,
    request: Request<pb::UpdateAccountRequest>,
) -> Result<Response<pb::UpdateAccountResponse>, Status> {
    let internal = super::auth::principal_of(&request).is_some_and(|p| p.is_internal());
    let req = request.into_inner();
    let id = account_id(&req.account_id)?;
    let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid("update_mask", "names no field to update").into());
    }
    // Authority first, for the whole mask: nothing is validated or changed for a key
    // that may not make the change.
    if !internal && let Some(path) = paths.iter().find(|p| BILLING_PATHS.contains(&p.as_str())) {
        return Err(Error::PermissionDenied(format!(
            "{path}: only an internal API key may change an account's plan or contact limit"
        ))
        .into());
    }
    let mut changes = AccountChanges::default();
    let has = |name: &str| paths.iter().any(|p| p == name);
    for path in &paths {
        match path.as_str() {
            "name" => changes.name = Some(name(&req.name)?),
            "plan" => changes.plan = Some(plan("plan", req.plan, req.contact_limit)?),
            // With `plan` in the mask, the limit goes with it (above).
            "contact_limit" if has("plan") => {}
            "contact_limit" => {
                changes.custom_limit = Some(
                    Plan::custom(req.contact_limit)
                        .map_err(|r| Error::invalid("contact_limit", r))?,
                )
            }
            "frequency" => changes.frequency = Some(frequency(req.frequency)?),
            "default_region" => {
                changes.default_region = Some(
                    Region::parse(&req.default_region)
                        .map_err(|r| Error::invalid("default_region", r))?,
                )
            }
            other => {
                return Err(Error::invalid(
                    "update_mask",
                    format!("{other:?} is not an updatable field"),
                )
                .into());
            }
        }
    }
    let account = svc.update_account(id, changes).await?;
    Ok(Response::new(pb::UpdateAccountResponse {
        account: Some(to_proto(account)),
    }))
}
