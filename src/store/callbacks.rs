//! Scheduled callbacks (`callbacks`): the claim's one query for a campaign's pending
//! callbacks in due order, and the writes that move, deliver and cancel them.

use crate::domain::callback::{Callback, CallbackStatus, CancelReason, NewCallback};
use crate::entity::{callback as cb, campaign_member as cm, contact, dial_state as ds};
use crate::error::Result;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::collections::{HashMap, HashSet};

/// A pending callback with what the claim's checks look at.
#[derive(Debug, Clone)]
pub struct Pending {
    pub callback: Callback,
    pub phone: String,
    /// The contact's explicit zone ("" when none).
    pub contact_time_zone: String,
    /// The contact's stored status.
    pub contact_status: String,
    /// The contact row's version as read (`super::dialer::row_version`).
    pub contact_version: i64,
    /// The person's recent dials, as stored ("" when none).
    pub recent_dials: String,
    /// The person's lease end, if any.
    pub lease_expires_at: Option<i64>,
    /// Attempts so far in the campaign (`None`: no longer a member).
    pub attempts: Option<i32>,
}

fn decode(c: cb::Model) -> Callback {
    Callback {
        id: c.id,
        account_id: c.account_id,
        campaign_id: c.campaign_id,
        contact_id: c.contact_id,
        requested_at: c.requested_at,
        time_zone: c.time_zone,
        local_time: c.local_time,
        due_at: c.due_at,
        status: c.status,
        cancel_reason: c.cancel_reason,
        call_id: c.call_id,
        settled_call_id: c.settled_call_id,
        created_at: c.created_at,
        settled_at: c.settled_at,
        held_until: c.held_until,
    }
}

/// Stores a new callback: pending, due at the time asked for, not out on a lease.
pub async fn insert<C: ConnectionTrait>(db: &C, new: &NewCallback) -> Result<Callback> {
    let row = cb::ActiveModel {
        id: NotSet,
        account_id: Set(new.account_id.clone()),
        campaign_id: Set(new.campaign_id.clone()),
        contact_id: Set(new.contact_id),
        requested_at: Set(new.at),
        time_zone: Set(new.time_zone.clone()),
        local_time: Set(new.local_time.clone()),
        due_at: Set(new.at),
        status: Set(CallbackStatus::Pending),
        cancel_reason: Set(CancelReason::None),
        call_id: Set(Some(new.call_id)),
        settled_call_id: Set(None),
        created_at: Set(new.created_at),
        settled_at: Set(None),
        held_until: Set(0),
    };
    Ok(decode(row.insert(db).await?))
}

/// A campaign's first `limit` pending callbacks in due order (due or not) that are not
/// out on a lease at `now` (see [`hold`]), with their contacts' number, zone and status
/// and the person's dial state.
///
/// The callbacks come from the `(account_id, campaign_id, status, due_at)` index alone;
/// what the checks need of their contacts, dial states and memberships is then read by
/// key, and only when there are callbacks (most claims find none). One statement joining
/// the four tables was measured here: under the claim pool's generic plans PostgreSQL
/// hash-joined whole tables for it, ~700 ms per claim at 50,000 members.
pub async fn pending_in_due_order<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    now: i64,
    limit: u64,
) -> Result<Vec<Pending>> {
    let callbacks = cb::Entity::find()
        .filter(cb::Column::AccountId.eq(account_id))
        .filter(cb::Column::CampaignId.eq(campaign_id))
        .filter(cb::Column::Status.eq(CallbackStatus::Pending))
        .filter(cb::Column::HeldUntil.lte(now))
        .order_by_asc(cb::Column::DueAt)
        .order_by_asc(cb::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    if callbacks.is_empty() {
        return Ok(vec![]);
    }
    let mut ids: Vec<i64> = callbacks.iter().map(|c| c.contact_id).collect();
    ids.sort_unstable();
    ids.dedup();
    type Facts = (String, String, String, i64);
    let contacts: HashMap<i64, Facts> = contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::Phone,
            contact::Column::TimeZone,
            contact::Column::Status,
        ])
        .expr(super::dialer::row_version(db.get_database_backend()))
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<(i64, String, String, String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, phone, zone, status, version)| (id, (phone, zone, status, version)))
        .collect();
    let dials: HashMap<i64, (String, Option<i64>)> = ds::Entity::find()
        .select_only()
        .columns([
            ds::Column::ContactId,
            ds::Column::RecentDials,
            ds::Column::LeaseExpiresAt,
        ])
        .filter(ds::Column::ContactId.is_in(ids.iter().copied()))
        .into_tuple::<(i64, Option<String>, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, recent, lease)| (id, (recent.unwrap_or_default(), lease)))
        .collect();
    let attempts: HashMap<i64, i32> = cm::Entity::find()
        .select_only()
        .columns([cm::Column::ContactId, cm::Column::Attempts])
        .filter(cm::Column::AccountId.eq(account_id))
        .filter(cm::Column::CampaignId.eq(campaign_id))
        .filter(cm::Column::ContactId.is_in(ids.iter().copied()))
        .into_tuple::<(i64, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // A callback's contact goes with it (ON DELETE CASCADE): one missing here was deleted
    // since the first read, and is left out as the join would have.
    Ok(callbacks
        .into_iter()
        .filter_map(|callback| {
            let id = callback.contact_id;
            let (phone, zone, status, contact_version) = contacts.get(&id)?.clone();
            let (recent_dials, lease_expires_at) = dials.get(&id).cloned().unwrap_or_default();
            Some(Pending {
                callback: decode(callback),
                phone,
                contact_time_zone: zone,
                contact_status: status,
                contact_version,
                recent_dials,
                lease_expires_at,
                attempts: attempts.get(&id).copied(),
            })
        })
        .collect())
}

/// Marks callbacks as out on a lease ending at `until`: [`pending_in_due_order`] passes
/// over them until then.
pub async fn hold<C: ConnectionTrait>(db: &C, ids: &[i64], until: i64) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    cb::Entity::update_many()
        .col_expr(cb::Column::HeldUntil, Expr::value(until))
        .filter(cb::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// The leases of `contact_ids` in the campaign were given back without a call: their
/// pending callbacks are due again at once.
pub async fn unhold<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    contact_ids: &[i64],
) -> Result<()> {
    for part in contact_ids.chunks(super::KEYS_PER_STATEMENT) {
        cb::Entity::update_many()
            .col_expr(cb::Column::HeldUntil, Expr::value(0i64))
            .filter(cb::Column::AccountId.eq(account_id))
            .filter(cb::Column::CampaignId.eq(campaign_id))
            .filter(cb::Column::Status.eq(CallbackStatus::Pending))
            .filter(cb::Column::ContactId.is_in(part.iter().copied()))
            .filter(cb::Column::HeldUntil.gt(0i64))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Which of `contact_ids` have a pending callback in the campaign.
pub async fn pending_among<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    contact_ids: &[i64],
) -> Result<HashSet<i64>> {
    let mut out = HashSet::new();
    for part in contact_ids.chunks(super::KEYS_PER_STATEMENT) {
        let rows: Vec<i64> = cb::Entity::find()
            .select_only()
            .column(cb::Column::ContactId)
            .filter(cb::Column::AccountId.eq(account_id))
            .filter(cb::Column::CampaignId.eq(campaign_id))
            .filter(cb::Column::Status.eq(CallbackStatus::Pending))
            .filter(cb::Column::ContactId.is_in(part.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Moves a pending callback's due time (the window was closed, or the frequency rules
/// held the person back, when a claim found it due).
pub async fn defer<C: ConnectionTrait>(db: &C, id: i64, due_at: i64) -> Result<()> {
    cb::Entity::update_many()
        .col_expr(cb::Column::DueAt, Expr::value(due_at))
        .filter(cb::Column::Id.eq(id))
        .filter(cb::Column::Status.eq(CallbackStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// Settles pending callbacks by id: delivered, or cancelled with a reason, by a call
/// (when one did it). Returns how many changed.
pub async fn settle<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    reason: CancelReason,
    call_id: Option<i64>,
    now: i64,
) -> Result<u64> {
    settle_where(
        db,
        Condition::all().add(cb::Column::Id.is_in(ids.iter().copied())),
        reason,
        call_id,
        now,
    )
    .await
}

/// Cancels the pending callbacks of these contacts (in one campaign, or all), saying why.
pub async fn cancel_for_contacts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: Option<&str>,
    contact_ids: &[i64],
    reason: CancelReason,
    now: i64,
) -> Result<u64> {
    let mut n = 0;
    for part in contact_ids.chunks(super::KEYS_PER_STATEMENT) {
        let mut cond = Condition::all()
            .add(cb::Column::AccountId.eq(account_id))
            .add(cb::Column::ContactId.is_in(part.iter().copied()));
        if let Some(c) = campaign_id {
            cond = cond.add(cb::Column::CampaignId.eq(c));
        }
        n += settle_where(db, cond, reason, None, now).await?;
    }
    Ok(n)
}

async fn settle_where<C: ConnectionTrait>(
    db: &C,
    cond: Condition,
    reason: CancelReason,
    call_id: Option<i64>,
    now: i64,
) -> Result<u64> {
    let status = match reason {
        CancelReason::None => CallbackStatus::Delivered,
        _ => CallbackStatus::Cancelled,
    };
    Ok(cb::Entity::update_many()
        .col_expr(cb::Column::Status, Expr::value(status))
        .col_expr(cb::Column::CancelReason, Expr::value(reason))
        .col_expr(cb::Column::SettledCallId, Expr::value(call_id))
        .col_expr(cb::Column::SettledAt, Expr::value(now))
        .filter(cond)
        .filter(cb::Column::Status.eq(CallbackStatus::Pending))
        .exec(db)
        .await?
        .rows_affected)
}

/// A contact's pending callbacks (any campaign, or one), in due order.
pub async fn pending_of_contact<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    campaign_id: Option<&str>,
) -> Result<Vec<Callback>> {
    let mut q = cb::Entity::find()
        .filter(cb::Column::AccountId.eq(account_id))
        .filter(cb::Column::ContactId.eq(contact_id))
        .filter(cb::Column::Status.eq(CallbackStatus::Pending));
    if let Some(c) = campaign_id {
        q = q.filter(cb::Column::CampaignId.eq(c));
    }
    let rows = q.order_by_asc(cb::Column::DueAt).all(db).await?;
    Ok(rows.into_iter().map(decode).collect())
}

/// The callback a call asked for, if any.
pub async fn by_call<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    call_id: i64,
) -> Result<Option<Callback>> {
    Ok(cb::Entity::find()
        .filter(cb::Column::AccountId.eq(account_id))
        .filter(cb::Column::CallId.eq(call_id))
        .one(db)
        .await?
        .map(decode))
}

/// What ListCallbacks filters on.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub campaign_id: Option<String>,
    pub status: Option<CallbackStatus>,
    pub contact_id: Option<i64>,
}

/// An account's callbacks, newest first, before a keyset cursor.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    f: &ListFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<Callback>> {
    let mut q = cb::Entity::find().filter(cb::Column::AccountId.eq(account_id));
    if let Some(c) = &f.campaign_id {
        q = q.filter(cb::Column::CampaignId.eq(c.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(cb::Column::Status.eq(s));
    }
    if let Some(c) = f.contact_id {
        q = q.filter(cb::Column::ContactId.eq(c));
    }
    if let Some(b) = before_id {
        q = q.filter(cb::Column::Id.lt(b));
    }
    let rows = q.order_by_desc(cb::Column::Id).limit(limit).all(db).await?;
    Ok(rows.into_iter().map(decode).collect())
}

/// Every pending callback of a campaign by contact (PreviewDialable).
pub async fn pending_by_contact<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
) -> Result<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = cb::Entity::find()
        .select_only()
        .column(cb::Column::ContactId)
        .column(cb::Column::DueAt)
        .filter(cb::Column::AccountId.eq(account_id))
        .filter(cb::Column::CampaignId.eq(campaign_id))
        .filter(cb::Column::Status.eq(CallbackStatus::Pending))
        .into_tuple()
        .all(db)
        .await?;
    let mut out = std::collections::HashMap::new();
    for (contact, due) in rows {
        let e = out.entry(contact).or_insert(due);
        *e = std::cmp::min(*e, due);
    }
    Ok(out)
}
