//! The dialer's queries: eligible campaign members, and leasing them so that no contact
//! is handed to two dialers.
//!
//! A claim first reads candidates without locks ([`candidates`]), lets the service apply
//! the calling window in Rust, then re-checks and leases only the chosen rows
//! ([`lease_eligible`]), the one backend-specific function: on PostgreSQL a single
//! statement that locks with `SKIP LOCKED` and leases, so concurrent claimers skip each
//! other's rows instead of waiting; its SQLite twin runs the same check and the lease
//! inside the `BEGIN IMMEDIATE` writer transaction that already excludes every other
//! writer. Both re-check every condition under the lock, so a row leased or marked DNC by
//! someone else in between is never leased again.

use crate::domain::dialing::MemberState;
use crate::domain::filter::ContactStatus;
use crate::entity::{campaign_member as cm, contact, dnc_entry};
use crate::error::Result;
use sea_orm::sea_query::{
    Alias, ArrayType, Expr, ExprTrait, Order, PgFunc, PostgresQueryBuilder, Query, SelectStatement,
    Value, Values,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement,
};

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
/// max attempts, past the retry spacing, no live lease. No columns yet: each use picks
/// its own.
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
        .from(cm::Entity)
        // CROSS JOIN: SQLite then keeps the members as the outer loop, walking the
        // campaign's primary key in id order from the cursor and stopping at the LIMIT.
        // With an inner join its planner (STAT4, re-planning for each bound cursor) drove
        // from `contacts` near the start of a campaign and sorted every later row:
        // 50–290 ms per read instead of 2. PostgreSQL plans it as the same inner join.
        .cross_join(contact::Entity)
        .and_where(
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
    q.column((cm::Entity, cm::Column::ContactId))
        .column((cm::Entity, cm::Column::Attempts))
        .column((contact::Entity, contact::Column::Phone))
        .column((contact::Entity, contact::Column::TimeZone))
        .and_where(Expr::col((cm::Entity, cm::Column::ContactId)).gt(after))
        .and_where(Expr::col((contact::Entity, contact::Column::Id)).gt(after));
    q.order_by((cm::Entity, cm::Column::ContactId), Order::Asc)
        .limit(limit);
    db.query_all(&q).await?.iter().map(candidate).collect()
}

/// Re-checks `ids` and leases those still eligible to `owner` until `until`, atomically;
/// returns the leased contacts in id order. A member leased, or a contact marked DNC, by
/// someone else since the candidates were read is not leased. PostgreSQL:
/// [`lease_eligible_pg`]; SQLite: [`lease_eligible_sqlite`].
pub async fn lease_eligible(
    writer: &DatabaseConnection,
    lease: &Lease<'_>,
    e: &Eligibility,
    ids: &[i64],
) -> Result<Vec<contact::Model>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let q = eligible_select(lease.account_id, lease.campaign_id, e);
    let mut leased = match super::backend(writer) {
        DbBackend::Postgres => lease_eligible_pg(writer, q, lease, ids).await?,
        _ => lease_eligible_sqlite(writer, q, lease, ids).await?,
    };
    leased.sort_unstable_by_key(|c| c.id);
    Ok(leased)
}

/// Who leases which campaign's members until when.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub account_id: &'a str,
    pub campaign_id: &'a str,
    /// The dialer.
    pub owner: &'a str,
    /// Unix ms.
    pub until: i64,
}

/// PostgreSQL: one statement, so one round trip and no explicit transaction. The
/// eligibility query locks the members `FOR UPDATE SKIP LOCKED` (concurrent claimers skip
/// each other's rows instead of waiting) and their contacts `FOR SHARE SKIP LOCKED`: a
/// contact being marked DNC right now is skipped, and one whose DNC mark committed after
/// this statement's snapshot is re-checked on its new version and dropped (PostgreSQL
/// re-evaluates the conditions on a row it locks after a concurrent update), so the lease
/// never goes to a contact that is DNC by the time it is taken. A DNC mark that starts
/// later waits for this statement and then revokes the lease.
///
/// The ids come as one array, so the statement text (and its cached plan) is the same for
/// every claim; the locked members are updated by their row address (`ctid`, stable while
/// this statement holds their lock) instead of a second primary-key search, and the
/// contacts are returned from the locked rows instead of being read again.
async fn lease_eligible_pg(
    db: &DatabaseConnection,
    mut q: SelectStatement,
    lease: &Lease<'_>,
    ids: &[i64],
) -> Result<Vec<contact::Model>> {
    let ids: Vec<Value> = ids.iter().map(|&id| id.into()).collect();
    q.expr_as(
        Expr::col((cm::Entity, Alias::new("ctid"))),
        Alias::new("member_row"),
    )
    .columns(contact::select_columns())
    .and_where(
        Expr::col((cm::Entity, cm::Column::ContactId)).eq(PgFunc::any(Expr::val(Value::Array(
            ArrayType::BigInt,
            Some(Box::new(ids)),
        )))),
    );
    let (select, Values(mut values)) = q.build(PostgresQueryBuilder);
    let n = values.len();
    values.extend([lease.owner.into(), lease.until.into()]);
    let sql = format!(
        "WITH locked AS ({select} \
           FOR UPDATE OF campaign_members SKIP LOCKED FOR SHARE OF contacts SKIP LOCKED) \
         UPDATE campaign_members \
           SET lease_owner = ${owner}, lease_expires_at = ${until} FROM locked \
           WHERE campaign_members.ctid = locked.member_row \
         RETURNING locked.*",
        owner = n + 1,
        until = n + 2,
    );
    // `locked.*` is member_row, then the contact's columns in Column order.
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?
    .iter()
    .map(|row| Ok(contact::Model::from_columns_at(row, 1)?))
    .collect()
}

/// SQLite has no row locks: the `BEGIN IMMEDIATE` writer transaction holds the single
/// write lock, so nobody can change a member or contact between the check and the lease.
async fn lease_eligible_sqlite(
    writer: &DatabaseConnection,
    mut q: SelectStatement,
    lease: &Lease<'_>,
    ids: &[i64],
) -> Result<Vec<contact::Model>> {
    q.column((cm::Entity, cm::Column::ContactId))
        .and_where(Expr::col((cm::Entity, cm::Column::ContactId)).is_in(ids.iter().copied()))
        .and_where(Expr::col((contact::Entity, contact::Column::Id)).is_in(ids.iter().copied()));
    let txn = super::begin_write(writer).await?;
    let ids: Vec<i64> = txn
        .query_all(&q)
        .await?
        .iter()
        .map(|r| r.try_get("", "contact_id"))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(vec![]);
    }
    cm::Entity::update_many()
        .col_expr(cm::Column::LeaseOwner, Expr::value(lease.owner))
        .col_expr(cm::Column::LeaseExpiresAt, Expr::value(lease.until))
        .filter(cm::Column::AccountId.eq(lease.account_id))
        .filter(cm::Column::CampaignId.eq(lease.campaign_id))
        .filter(cm::Column::ContactId.is_in(ids.iter().copied()))
        .exec(&txn)
        .await?;
    let contacts = contact::Entity::find()
        .filter(contact::Column::AccountId.eq(lease.account_id))
        .filter(contact::Column::Id.is_in(ids))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(contacts)
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
