//! The dialer's queries: eligible campaign members, and leasing them so that no contact
//! is handed to two dialers.
//!
//! A claim first reads candidates without locks ([`candidates`]), lets the service apply
//! the calling window in Rust, then re-checks and locks only the chosen rows in a write
//! transaction ([`lock_eligible`]) and leases them ([`lease`]). [`lock_eligible`] is the
//! one backend-specific function: on PostgreSQL `FOR UPDATE OF campaign_members SKIP
//! LOCKED`, so concurrent claimers skip each other's rows instead of waiting; its SQLite
//! twin is the same query, run inside the `BEGIN IMMEDIATE` writer transaction that
//! already excludes every other writer. Both re-check every condition under the lock, so
//! a row leased or marked DNC by someone else in between is never leased again.

use crate::domain::dialing::MemberState;
use crate::domain::filter::ContactStatus;
use crate::entity::{campaign_member as cm, contact, dnc_entry};
use crate::error::Result;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, LockBehavior, LockType, Order, Query, SelectStatement,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};

/// The stored conditions of eligibility at one instant (the window is checked in Rust).
#[derive(Debug, Clone, Copy)]
pub struct Eligibility {
    /// Now, Unix ms: leases ending at or before it are over.
    pub now: i64,
    /// Attempts must be below this.
    pub max_attempts: i32,
    /// The last attempt must be at or before this (now − retry interval).
    pub last_attempt_before: i64,
}

/// A campaign member that passed the stored conditions.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub contact_id: i64,
    pub attempts: i32,
    pub phone: String,
    pub time_zone: String,
}

/// `campaign_members JOIN contacts` with every stored eligibility condition: ACTIVE, not
/// listed in `dnc_entries` (checked directly, not only through the status), member, under
/// max attempts, past the retry spacing, no live lease.
fn eligible_select(account_id: &str, campaign_id: &str, e: &Eligibility) -> SelectStatement {
    let listed = Query::select()
        .expr(Expr::val(1))
        .from(dnc_entry::Entity)
        .and_where(Expr::col((dnc_entry::Entity, dnc_entry::Column::AccountId)).eq(account_id))
        .and_where(
            Expr::col((dnc_entry::Entity, dnc_entry::Column::Phone))
                .equals((contact::Entity, contact::Column::Phone)),
        )
        .to_owned();
    Query::select()
        .column((cm::Entity, cm::Column::ContactId))
        .column((cm::Entity, cm::Column::Attempts))
        .column((contact::Entity, contact::Column::Phone))
        .column((contact::Entity, contact::Column::TimeZone))
        .from(cm::Entity)
        .inner_join(
            contact::Entity,
            Expr::col((contact::Entity, contact::Column::Id))
                .equals((cm::Entity, cm::Column::ContactId)),
        )
        .and_where(Expr::col((cm::Entity, cm::Column::AccountId)).eq(account_id))
        .and_where(Expr::col((cm::Entity, cm::Column::CampaignId)).eq(campaign_id))
        .and_where(Expr::col((cm::Entity, cm::Column::Attempts)).lt(e.max_attempts))
        .and_where(
            Expr::col((cm::Entity, cm::Column::LastAttemptAt))
                .is_null()
                .or(Expr::col((cm::Entity, cm::Column::LastAttemptAt)).lte(e.last_attempt_before)),
        )
        .and_where(
            Expr::col((cm::Entity, cm::Column::LeaseExpiresAt))
                .is_null()
                .or(Expr::col((cm::Entity, cm::Column::LeaseExpiresAt)).lte(e.now)),
        )
        // No `contacts.account_id = ?` here: membership rows only ever point at the
        // account's own contacts, and that predicate lets a planner without fresh
        // statistics (right after a big import) walk contacts_status_idx once per member
        // instead of joining by primary key — seconds instead of milliseconds.
        .and_where(
            Expr::col((contact::Entity, contact::Column::Status))
                .eq(ContactStatus::Active.as_str()),
        )
        .and_where(Expr::exists(listed).not())
        .to_owned()
}

fn candidate(row: &sea_orm::QueryResult) -> Result<Candidate> {
    Ok(Candidate {
        contact_id: row.try_get("", "contact_id")?,
        attempts: row.try_get("", "attempts")?,
        phone: row.try_get("", "phone")?,
        time_zone: row.try_get("", "time_zone")?,
    })
}

/// Eligible members with `contact_id > after` in id order, without locks.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    e: &Eligibility,
    after: i64,
    limit: u64,
) -> Result<Vec<Candidate>> {
    // The bound is stated for both sides of the join, so whichever side the planner
    // drives from, it starts at the cursor instead of walking every earlier row.
    let mut q = eligible_select(account_id, campaign_id, e);
    q.and_where(Expr::col((cm::Entity, cm::Column::ContactId)).gt(after))
        .and_where(Expr::col((contact::Entity, contact::Column::Id)).gt(after));
    q.order_by((cm::Entity, cm::Column::ContactId), Order::Asc)
        .limit(limit);
    db.query_all(&q).await?.iter().map(candidate).collect()
}

/// Re-checks `ids` under a row lock inside the caller's write transaction and returns
/// those still eligible (and not locked by another claimer). PostgreSQL: `FOR UPDATE OF
/// campaign_members SKIP LOCKED`; SQLite: see [`lock_eligible_sqlite`].
pub async fn lock_eligible<C: ConnectionTrait>(
    txn: &C,
    account_id: &str,
    campaign_id: &str,
    e: &Eligibility,
    ids: &[i64],
) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = eligible_select(account_id, campaign_id, e);
    q.and_where(Expr::col((cm::Entity, cm::Column::ContactId)).is_in(ids.iter().copied()))
        .and_where(Expr::col((contact::Entity, contact::Column::Id)).is_in(ids.iter().copied()));
    match super::backend(txn) {
        DbBackend::Postgres => lock_eligible_pg(txn, q).await,
        _ => lock_eligible_sqlite(txn, q).await,
    }
}

async fn lock_eligible_pg<C: ConnectionTrait>(txn: &C, mut q: SelectStatement) -> Result<Vec<i64>> {
    q.lock_with_tables_behavior(
        LockType::Update,
        [Alias::new("campaign_members")],
        LockBehavior::SkipLocked,
    );
    ids_of(txn, &q).await
}

/// SQLite has no row locks: the caller's `BEGIN IMMEDIATE` transaction holds the single
/// write lock, so no other claimer can read-then-lease between this check and the lease.
async fn lock_eligible_sqlite<C: ConnectionTrait>(txn: &C, q: SelectStatement) -> Result<Vec<i64>> {
    ids_of(txn, &q).await
}

async fn ids_of<C: ConnectionTrait>(txn: &C, q: &SelectStatement) -> Result<Vec<i64>> {
    txn.query_all(q)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("", "contact_id")?))
        .collect()
}

/// Leases members to `owner` until `until`.
pub async fn lease<C: ConnectionTrait>(
    txn: &C,
    account_id: &str,
    campaign_id: &str,
    ids: &[i64],
    owner: &str,
    until: i64,
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let res = cm::Entity::update_many()
        .col_expr(cm::Column::LeaseOwner, Expr::value(owner))
        .col_expr(cm::Column::LeaseExpiresAt, Expr::value(until))
        .filter(cm::Column::AccountId.eq(account_id))
        .filter(cm::Column::CampaignId.eq(campaign_id))
        .filter(cm::Column::ContactId.is_in(ids.iter().copied()))
        .exec(txn)
        .await?;
    Ok(res.rows_affected)
}

/// Everything the rules look at for one member (PreviewDialable).
#[derive(Debug, Clone)]
pub struct MemberFacts {
    pub contact_id: i64,
    pub state: MemberState,
    pub status: String,
    pub listed: bool,
    pub phone: String,
    pub time_zone: String,
}

/// A page of a campaign's members with their facts, in id order after `after`.
pub async fn member_facts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<MemberFacts>> {
    let q = Query::select()
        .column((cm::Entity, cm::Column::ContactId))
        .column((cm::Entity, cm::Column::Attempts))
        .column((cm::Entity, cm::Column::LastAttemptAt))
        .column((cm::Entity, cm::Column::LeaseOwner))
        .column((cm::Entity, cm::Column::LeaseExpiresAt))
        .column((contact::Entity, contact::Column::Status))
        .column((contact::Entity, contact::Column::Phone))
        .column((contact::Entity, contact::Column::TimeZone))
        .expr_as(
            Expr::col((dnc_entry::Entity, dnc_entry::Column::Phone)).is_not_null(),
            Alias::new("listed"),
        )
        .from(cm::Entity)
        .inner_join(
            contact::Entity,
            Expr::col((contact::Entity, contact::Column::Id))
                .equals((cm::Entity, cm::Column::ContactId)),
        )
        .left_join(
            dnc_entry::Entity,
            Expr::col((dnc_entry::Entity, dnc_entry::Column::AccountId))
                .equals((contact::Entity, contact::Column::AccountId))
                .and(
                    Expr::col((dnc_entry::Entity, dnc_entry::Column::Phone))
                        .equals((contact::Entity, contact::Column::Phone)),
                ),
        )
        .and_where(Expr::col((cm::Entity, cm::Column::AccountId)).eq(account_id))
        .and_where(Expr::col((cm::Entity, cm::Column::CampaignId)).eq(campaign_id))
        .and_where(Expr::col((cm::Entity, cm::Column::ContactId)).gt(after))
        .order_by((cm::Entity, cm::Column::ContactId), Order::Asc)
        .limit(limit)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|r| {
            Ok(MemberFacts {
                contact_id: r.try_get("", "contact_id")?,
                state: MemberState {
                    attempts: r.try_get("", "attempts")?,
                    last_attempt_at: r.try_get("", "last_attempt_at")?,
                    lease_owner: r.try_get("", "lease_owner")?,
                    lease_expires_at: r.try_get("", "lease_expires_at")?,
                },
                status: r.try_get("", "status")?,
                listed: r.try_get("", "listed")?,
                phone: r.try_get("", "phone")?,
                time_zone: r.try_get("", "time_zone")?,
            })
        })
        .collect()
}

/// The contacts with these ids, in id order.
pub async fn contacts_by_ids<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    ids: &[i64],
) -> Result<Vec<contact::Model>> {
    use sea_orm::QueryOrder;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(contact::Entity::find()
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?)
}
