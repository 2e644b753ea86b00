//! Recorded calls, the call statistics kept on contacts, and "Call Now" requests.

use crate::domain::call::{
    Call, CallInput, CallOutcome, CallRequest, CallRequestStatus, NewCallRequest,
};
use crate::entity::{call, call_request, contact};
use crate::error::Result;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    NotSet, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

fn decode_call(c: call::Model) -> Call {
    Call {
        id: c.id,
        account_id: c.account_id,
        external_id: c.external_id,
        contact_id: c.contact_id,
        phone: c.phone,
        direction: c.direction,
        campaign_id: c.campaign_id,
        started_at: c.started_at,
        duration_seconds: c.duration_seconds,
        outcome: c.outcome,
        sentiment: c.sentiment,
        recording_url: c.recording_url,
        transcript: c.transcript,
        transcript_url: c.transcript_url,
        dnc_requested: c.dnc_requested,
        dialer_id: c.dialer_id,
        created_at: c.created_at,
    }
}

fn decode_request(r: call_request::Model) -> CallRequest {
    CallRequest {
        id: r.id,
        account_id: r.account_id,
        contact_id: r.contact_id,
        phone: r.phone,
        requested_by: r.requested_by,
        status: r.status,
        lease_owner: r.lease_owner,
        lease_expires_at: r.lease_expires_at,
        created_at: r.created_at,
        done_at: r.done_at,
        window_override: r.window_override,
        calling_rules: r.calling_rules,
        phone_extension: r.phone_extension,
    }
}

/// The call with this external id in the account, if recorded.
pub async fn by_external_id<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    external_id: &str,
) -> Result<Option<Call>> {
    Ok(call::Entity::find()
        .filter(call::Column::AccountId.eq(account_id))
        .filter(call::Column::ExternalId.eq(external_id))
        .one(db)
        .await?
        .map(decode_call))
}

/// Inserts a call as posted, for `contact_id` (if one is known) and the number
/// `phone` (E.164, or "" when none is known). A taken external id surfaces as a unique
/// violation.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    input: &CallInput,
    contact_id: Option<i64>,
    phone: &str,
    now: i64,
) -> Result<Call> {
    let row = call::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        external_id: Set(input.external_id.clone()),
        contact_id: Set(contact_id),
        phone: Set(phone.to_string()),
        direction: Set(input.direction),
        campaign_id: Set(input.campaign_id.clone()),
        started_at: Set(input.started_at),
        duration_seconds: Set(input.duration_seconds),
        outcome: Set(input.outcome),
        sentiment: Set(input.sentiment),
        recording_url: Set(input.recording_url.clone()),
        transcript: Set(input.transcript.clone()),
        transcript_url: Set(input.transcript_url.clone()),
        dnc_requested: Set(input.dnc_requested),
        dialer_id: Set(input.dialer_id.clone()),
        created_at: Set(now),
    };
    Ok(decode_call(row.insert(db).await?))
}

/// A page of calls, newest first (by id), before the keyset cursor; one contact's when
/// `contact_id` is given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: Option<i64>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<Call>> {
    let mut q = call::Entity::find().filter(call::Column::AccountId.eq(account_id));
    if let Some(c) = contact_id {
        q = q.filter(call::Column::ContactId.eq(c));
    }
    if let Some(b) = before_id {
        q = q.filter(call::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(call::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(decode_call)
        .collect())
}

/// Adds a call to a contact's statistics in one statement (no read-modify-write, so
/// concurrent calls for one contact never lose a count): count and talk time add up;
/// last called time and outcome follow the call that started latest.
pub async fn add_to_stats<C: ConnectionTrait>(
    db: &C,
    contact_id: i64,
    started_at: i64,
    duration_seconds: i64,
    outcome: CallOutcome,
    now: i64,
) -> Result<()> {
    use contact::Column;
    let newer = || {
        Expr::col(Column::LastCalledAt)
            .is_null()
            .or(Expr::col(Column::LastCalledAt).lte(started_at))
    };
    let last_at = CaseStatement::new()
        .case(newer(), Expr::val(started_at))
        .finally(Expr::col(Column::LastCalledAt));
    let last_outcome = CaseStatement::new()
        .case(newer(), Expr::val(outcome.stored()))
        .finally(Expr::col(Column::LastOutcome));
    contact::Entity::update_many()
        .col_expr(Column::CallCount, Expr::col(Column::CallCount).add(1))
        .col_expr(
            Column::TotalTalkSeconds,
            Expr::col(Column::TotalTalkSeconds).add(duration_seconds),
        )
        // Both CASEs compare with the old last_called_at: every SET expression sees the
        // row as it was, on both backends.
        .col_expr(Column::LastOutcome, last_outcome.into())
        .col_expr(Column::LastCalledAt, last_at.into())
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(contact_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Inserts a pending call request, created at `now`.
pub async fn insert_request<C: ConnectionTrait>(
    db: &C,
    new: NewCallRequest<'_>,
    now: i64,
) -> Result<CallRequest> {
    let row = call_request::ActiveModel {
        id: NotSet,
        account_id: Set(new.account_id.to_string()),
        contact_id: Set(new.contact_id),
        phone: Set(new.phone.to_string()),
        requested_by: Set(new.requested_by.to_string()),
        status: Set(CallRequestStatus::Pending),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
        done_at: Set(None),
        window_override: Set(new.window_override),
        calling_rules: Set(new.calling_rules),
        phone_extension: Set(new.phone_extension.to_string()),
    };
    Ok(decode_request(row.insert(db).await?))
}

/// The contact's open (pending or claimed) request, if any.
pub async fn open_request<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
) -> Result<Option<CallRequest>> {
    Ok(call_request::Entity::find()
        .filter(call_request::Column::AccountId.eq(account_id))
        .filter(call_request::Column::ContactId.eq(contact_id))
        .filter(
            call_request::Column::Status
                .is_in([CallRequestStatus::Pending, CallRequestStatus::Claimed]),
        )
        .order_by_asc(call_request::Column::Id)
        .one(db)
        .await?
        .map(decode_request))
}

/// Closes these contacts' open requests with `status` (DONE or CANCELLED).
pub async fn close_requests<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_ids: &[i64],
    status: CallRequestStatus,
    now: i64,
) -> Result<u64> {
    let mut closed = 0;
    for part in contact_ids.chunks(super::KEYS_PER_STATEMENT) {
        closed += call_request::Entity::update_many()
            .col_expr(call_request::Column::Status, Expr::value(status))
            .col_expr(call_request::Column::DoneAt, Expr::value(now))
            .col_expr(
                call_request::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                call_request::Column::LeaseExpiresAt,
                Expr::value(Option::<i64>::None),
            )
            .filter(call_request::Column::AccountId.eq(account_id))
            .filter(call_request::Column::ContactId.is_in(part.iter().copied()))
            .filter(
                call_request::Column::Status
                    .is_in([CallRequestStatus::Pending, CallRequestStatus::Claimed]),
            )
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(closed)
}

/// Locks up to `limit` claimable requests (pending, or claimed with an expired lease),
/// oldest first, inside the caller's write transaction. PostgreSQL: `FOR UPDATE SKIP
/// LOCKED`, so concurrent workers take different requests; SQLite twin: the same query in
/// the `BEGIN IMMEDIATE` transaction, which already excludes other writers.
pub async fn lock_claimable_requests<C: ConnectionTrait>(
    txn: &C,
    account_id: Option<&str>,
    now: i64,
    limit: u64,
) -> Result<Vec<CallRequest>> {
    use call_request::Column;
    let mut q = call_request::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(Column::Status.eq(CallRequestStatus::Pending))
                .add(
                    Column::Status
                        .eq(CallRequestStatus::Claimed)
                        .and(Column::LeaseExpiresAt.lte(now)),
                ),
        )
        .order_by_asc(Column::Id)
        .limit(limit);
    if let Some(a) = account_id {
        q = q.filter(Column::AccountId.eq(a));
    }
    let rows = match super::backend(txn) {
        DbBackend::Postgres => {
            let mut stmt = q.into_query();
            stmt.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            call_request::Entity::find()
                .from_raw_sql(txn.get_database_backend().build(&stmt))
                .all(txn)
                .await?
        }
        _ => q.all(txn).await?,
    };
    Ok(rows.into_iter().map(decode_request).collect())
}

/// Leases requests to a worker.
pub async fn lease_requests<C: ConnectionTrait>(
    txn: &C,
    ids: &[i64],
    worker: &str,
    until: i64,
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    call_request::Entity::update_many()
        .col_expr(
            call_request::Column::Status,
            Expr::value(CallRequestStatus::Claimed),
        )
        .col_expr(call_request::Column::LeaseOwner, Expr::value(worker))
        .col_expr(call_request::Column::LeaseExpiresAt, Expr::value(until))
        .filter(call_request::Column::Id.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Marks requests cancelled (their contact became DNC).
pub async fn cancel_requests<C: ConnectionTrait>(txn: &C, ids: &[i64], now: i64) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    call_request::Entity::update_many()
        .col_expr(
            call_request::Column::Status,
            Expr::value(CallRequestStatus::Cancelled),
        )
        .col_expr(call_request::Column::DoneAt, Expr::value(now))
        .filter(call_request::Column::Id.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(())
}
