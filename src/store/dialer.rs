//! The dialer's queries: eligible campaign members, and leasing them so that no person
//! is held by two dialers, in one campaign or across campaigns.
//!
//! A claim first reads candidates without locks ([`candidates`]; the first page with the
//! account's frequency rules and the campaign's pending callbacks, [`first_read`], in one
//! round trip on PostgreSQL), lets the service apply the calling window and the frequency
//! rules in Rust, then re-checks and leases only the chosen rows ([`lease_eligible`]), the
//! one backend-specific function besides that read: on PostgreSQL a
//! single statement that locks the contacts with `SKIP LOCKED` and upserts their
//! `dial_state` rows, so concurrent claimers skip each other's rows instead of waiting;
//! its SQLite twin runs the same check and the lease inside the `BEGIN IMMEDIATE` writer
//! transaction that already excludes every other writer. Both re-check every condition
//! under the lock — the person's lease and frequency on the latest `dial_state` row — so
//! a person leased, dialed or marked DNC by someone else in between is never leased. On
//! PostgreSQL the statement also leases only contacts whose row is still at the version
//! the read saw ([`row_version`]), which is how it learns of a DNC list entry committed
//! while it runs.

use crate::domain::Contact;
use crate::domain::callback::CallbackStatus;
use crate::domain::clock::Clock;
use crate::domain::consent::ConsentRequirement;
use crate::domain::dialing::{DAY_MS, Frequency, MAX_DIALS, MemberState, PersonState, WEEK_MS};
use crate::domain::filter::ContactStatus;
use crate::entity::{
    account, callback as cb, campaign_member as cm, contact, dial_state as ds, dnc_entry,
};
use crate::error::Result;
use sea_orm::sea_query::{
    Alias, ArrayType, Expr, ExprTrait, Order, PgFunc, PostgresQueryBuilder, Query, SelectStatement,
    UnionType, Value, Values,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use std::sync::OnceLock;

/// The stored conditions of eligibility at one instant (the window is checked in Rust).
#[derive(Debug, Clone, Copy)]
pub struct Eligibility {
    /// Now, Unix ms: leases ending at or before it are over.
    pub now: i64,
    /// Attempts must be below this.
    pub max_attempts: i32,
    /// The last attempt must be at or before this (now − retry interval).
    pub last_attempt_before: i64,
    /// The account's frequency rules with the campaign's overrides.
    pub frequency: Frequency,
    /// The consent kinds the campaign accepts (none required when empty).
    pub require_consent: ConsentRequirement,
}

impl Eligibility {
    /// The same conditions at a later instant (never an earlier one): `now` and the
    /// retry spacing's bound move with it.
    pub fn at(self, now: i64) -> Eligibility {
        let now = Ord::max(now, self.now);
        Eligibility {
            now,
            last_attempt_before: self.last_attempt_before.saturating_add(now - self.now),
            ..self
        }
    }
}

/// A campaign member that passed the stored conditions.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub contact_id: i64,
    pub attempts: i32,
    pub phone: String,
    pub time_zone: String,
    /// The person's recent dials, as stored ("" when none).
    pub recent_dials: String,
    /// The contact row's version as this read saw it ([`row_version`]).
    pub version: i64,
}

/// A contact row's version, for the lease statement to lease only rows unchanged since
/// they were read: PostgreSQL's `xmin`, the transaction that wrote the row's current
/// version (every update writes a new one; a row lock does not); 0 on SQLite, whose
/// claim checks and leases under the one write lock.
///
/// Why: a lease statement's snapshot is taken when it begins, and a DNC list import that
/// commits while it runs is invisible to it — its live-entry check passes, and the
/// import's revocation ran before the lease was written. So the import writes a new
/// version of each contact holding its numbers; the statement's lock of a row changed
/// since its snapshot yields the row's new version (PostgreSQL's re-evaluation under
/// READ COMMITTED), whose version is none the claim read — a row changed since the read
/// has a version written by a transaction that committed after it, which no row the read
/// saw can have, so the comparison need not be pairwise — and the statement leaves it.
/// Any other change since the read (a recorded call, an edit) leaves the person to the
/// next claim too.
pub fn row_version(backend: DbBackend) -> Expr {
    if backend == DbBackend::Postgres {
        Expr::cust("contacts.xmin::text::bigint")
    } else {
        Expr::val(0i64)
    }
}

/// `campaign_members JOIN contacts` with every stored condition of the member and the
/// contact: ACTIVE, not listed in `dnc_entries` (checked directly, not only through the
/// status), member, under max attempts, past the retry spacing, and — when the campaign
/// requires consent — holding a live consent of an accepted kind. No columns yet: each use
/// picks its own. `within` bounds a contact id column to the members looked at (after a
/// cursor, or a list of ids); it is applied to every table — to the memberships only
/// when `bound_members` (see [`lease_eligible`] for where it is not).
fn member_select(
    account_id: &str,
    campaign_id: &str,
    e: &Eligibility,
    within: &dyn Fn(Expr) -> Expr,
    bound_members: bool,
) -> SelectStatement {
    let listed = Query::select()
        .expr(Expr::val(1))
        .from(dnc_entry::Entity)
        .and_where(Expr::col((dnc_entry::Entity, dnc_entry::Column::AccountId)).eq(account_id))
        .and_where(
            Expr::col((dnc_entry::Entity, dnc_entry::Column::Phone))
                .equals((contact::Entity, contact::Column::Phone)),
        )
        .to_owned();
    let mut q = Query::select()
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
        .and_where(within(Expr::col((contact::Entity, contact::Column::Id))))
        // No `contacts.account_id = ?` here: membership rows only ever point at the
        // account's own contacts, and that predicate lets a planner without fresh
        // statistics (right after a big import) walk contacts_status_idx once per member
        // instead of joining by primary key — seconds instead of milliseconds.
        .and_where(
            Expr::col((contact::Entity, contact::Column::Status))
                .eq(ContactStatus::Active.as_str()),
        )
        .and_where(Expr::exists(listed).not())
        // Named DNC lists: a live (unexpired at `now`) entry holding the number.
        .and_where(Expr::exists(super::dnc_lists::live_entry(account_id, e.now)).not())
        .to_owned();
    if bound_members {
        q.and_where(within(Expr::col((cm::Entity, cm::Column::ContactId))));
    }
    if e.require_consent.required() {
        // Only when required: a campaign without the rule pays nothing for it. A column
        // of the contact's row (m0020), so no probe per member, and the lease statement
        // re-checks it on the row's latest version like the status.
        q.and_where(super::consents::live_accepted(e.require_consent, e.now));
    }
    q
}

/// [`member_select`] `LEFT JOIN dial_state`: also no live lease on the person. The
/// frequency rules are checked on the person's recent dials in Rust (and, at lease time,
/// in SQL on PostgreSQL).
///
/// `within` is applied to `dial_state` too, inside the LEFT JOIN's `ON`: PostgreSQL
/// derives no bound for the nullable side of an outer join from the members' bound, and
/// once `dial_state` holds a row per person the generic plan (the `claim_reads` pool
/// forces one) merge-joins it by walking its primary key from the first person on every
/// read, whatever the cursor: the whole table per page.
fn eligible_select(
    account_id: &str,
    campaign_id: &str,
    e: &Eligibility,
    within: &dyn Fn(Expr) -> Expr,
) -> SelectStatement {
    member_select(account_id, campaign_id, e, within, true)
        .left_join(
            ds::Entity,
            Expr::col((ds::Entity, ds::Column::ContactId))
                .equals((cm::Entity, cm::Column::ContactId))
                .and(within(Expr::col((ds::Entity, ds::Column::ContactId)))),
        )
        .and_where(
            Expr::col((ds::Entity, ds::Column::LeaseExpiresAt))
                .is_null()
                .or(Expr::col((ds::Entity, ds::Column::LeaseExpiresAt)).lte(e.now)),
        )
        .to_owned()
}

fn candidate(row: &sea_orm::QueryResult) -> Result<Candidate> {
    Ok(Candidate {
        contact_id: row.try_get("", "contact_id")?,
        attempts: row.try_get("", "attempts")?,
        phone: row.try_get("", "phone")?,
        time_zone: row.try_get("", "time_zone")?,
        recent_dials: row
            .try_get::<Option<String>>("", "recent_dials")?
            .unwrap_or_default(),
        version: row.try_get("", "version")?,
    })
}

/// Eligible members with `after < contact_id <= upto` (no upper bound when `upto` is
/// None) in id order, without locks.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    e: &Eligibility,
    bounds: (i64, Option<i64>),
    limit: u64,
) -> Result<Vec<Candidate>> {
    let backend = db.get_database_backend();
    let read = Read {
        members: (account_id, campaign_id),
        bounds,
        limit,
    };
    let (sql, values) = candidate_read(backend, &read, e);
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .iter()
        .map(candidate)
        .collect()
}

/// One candidate read: whose members (account, campaign), which (`after < contact_id <=
/// upto`), how many.
struct Read<'a> {
    members: (&'a str, &'a str),
    bounds: (i64, Option<i64>),
    limit: u64,
}

/// The candidate read: its text rendered once per shape (backend, upper bound or none,
/// consent requirement) by [`candidate_read_built`], as the lease statement's
/// ([`pg_lease_sql`]), and its parameters in the order that numbers them (a test holds
/// the two together).
fn candidate_read(
    backend: DbBackend,
    read: &Read<'_>,
    e: &Eligibility,
) -> (&'static str, Vec<Value>) {
    static TEXT: [OnceLock<String>; 12] = [const { OnceLock::new() }; 12];
    let (after, upto) = read.bounds;
    let shape = usize::from(backend == DbBackend::Postgres) * 6
        + usize::from(upto.is_some()) * 3
        + consent_shape(e.require_consent);
    let sql = TEXT[shape].get_or_init(|| {
        let e = Eligibility {
            now: 0,
            max_attempts: 0,
            last_attempt_before: 0,
            frequency: e.frequency,
            require_consent: e.require_consent,
        };
        let read = Read {
            members: ("", ""),
            bounds: (0, upto.map(|_| 0)),
            limit: 0,
        };
        candidate_read_built(backend, &read, &e).0
    });
    let within = |values: &mut Vec<Value>| {
        values.push(after.into());
        if let Some(upto) = upto {
            values.push(upto.into());
        }
    };
    let mut values = Vec::with_capacity(20);
    if backend != DbBackend::Postgres {
        // The row version's constant, among the columns.
        values.push(0i64.into());
    }
    // The LEFT JOIN's bound on `dial_state`, then the member select's (members bound).
    within(&mut values);
    member_values(&mut values, read.members, e, &within, true);
    values.extend([e.now.into(), read.limit.into()]);
    (sql, values)
}

/// Pushes [`member_select`]'s parameters in the order it numbers them, `within` pushing
/// the bound's (on the contacts, and on the members when `bound_members`).
fn member_values(
    values: &mut Vec<Value>,
    (account_id, campaign_id): (&str, &str),
    e: &Eligibility,
    within: &dyn Fn(&mut Vec<Value>),
    bound_members: bool,
) {
    let account = || Value::from(account_id);
    values.extend([
        account(),
        campaign_id.into(),
        e.max_attempts.into(),
        e.last_attempt_before.into(),
    ]);
    within(values);
    values.extend([
        ContactStatus::Active.as_str().into(),
        1i32.into(),
        account(),
        1i32.into(),
        account(),
        e.now.into(),
    ]);
    if bound_members {
        within(values);
    }
    if e.require_consent.required() {
        values.push(e.now.into());
    }
}

/// Which of the three consent requirements: an index into a cache of texts.
fn consent_shape(require: ConsentRequirement) -> usize {
    match require {
        ConsentRequirement::NotRequired => 0,
        ConsentRequirement::Express => 1,
        ConsentRequirement::ExpressWritten => 2,
    }
}

/// The candidate read rendered with sea-query from [`candidate_select`].
fn candidate_read_built(
    backend: DbBackend,
    read: &Read<'_>,
    e: &Eligibility,
) -> (String, Vec<Value>) {
    let statement = backend.build(&candidate_select(backend, read, e));
    (statement.sql, statement.values.map_or(vec![], |v| v.0))
}

/// The candidate read's query, from [`eligible_select`]: the columns of a [`Candidate`],
/// in contact id order.
fn candidate_select(backend: DbBackend, read: &Read<'_>, e: &Eligibility) -> SelectStatement {
    let (account_id, campaign_id) = read.members;
    let (after, upto) = read.bounds;
    // The bounds are stated for every table of the join, so whichever one the planner
    // drives from, it starts at the cursor instead of walking every earlier row.
    let within = |id: Expr| match upto {
        Some(upto) => id.clone().gt(after).and(id.lte(upto)),
        None => id.gt(after),
    };
    let mut q = eligible_select(account_id, campaign_id, e, &within);
    q.column((cm::Entity, cm::Column::ContactId))
        .column((cm::Entity, cm::Column::Attempts))
        .column((contact::Entity, contact::Column::Phone))
        .column((contact::Entity, contact::Column::TimeZone))
        .column((ds::Entity, ds::Column::RecentDials))
        .expr_as(row_version(backend), Alias::new("version"));
    q.order_by((cm::Entity, cm::Column::ContactId), Order::Asc)
        .limit(read.limit);
    q
}

/// What a claim's first read learns in one round trip ([`first_read`]).
#[derive(Debug, Clone)]
pub struct FirstRead {
    /// The account's frequency rules; None when there is no such account.
    pub account: Option<Frequency>,
    /// The campaign's pending callbacks not out on lease, in due order (at most the
    /// read's limit): (contact id, due at).
    pub pending: Vec<(i64, i64)>,
    /// The first page of candidates, as [`candidates`] reads it (no upper bound).
    pub page: Vec<Candidate>,
}

/// A claim's first read: the account's frequency rules, the campaign's pending
/// callbacks (at most `pending_limit`, in due order) and the candidates after `after`
/// (at most `limit`): on PostgreSQL one statement of three `UNION ALL` parts (on SQLite
/// the three apart, [`first_read_apart`]). A claim used to ask
/// the three in three statements, each two round trips (sqlx pings every connection as
/// it goes back to the pool); the parts cost PostgreSQL what the statements did (the
/// same plans), the server ~0.3 ms less per claim of 100 (claims suite, three rounds
/// turn about: 1.41–1.55 ms against 1.77–1.81; CPU per leased contact 0.92–0.98×,
/// BENCHMARKS.md "Session 22").
pub async fn first_read<C: ConnectionTrait>(
    db: &C,
    (account_id, campaign_id): (&str, &str),
    e: &Eligibility,
    after: i64,
    (limit, pending_limit): (u64, u64),
) -> Result<FirstRead> {
    let backend = db.get_database_backend();
    let read = Read {
        members: (account_id, campaign_id),
        bounds: (after, None),
        limit,
    };
    if backend != DbBackend::Postgres {
        return first_read_apart(db, &read, e, pending_limit).await;
    }
    let (sql, values) = first_read_statement(backend, &read, e, pending_limit);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut out = FirstRead {
        account: None,
        pending: Vec::new(),
        page: Vec::new(),
    };
    for row in &rows {
        let part: i32 = row.try_get("", "part")?;
        let (a, b, c): (i64, i64, i64) = (
            row.try_get("", "a")?,
            row.try_get("", "b")?,
            row.try_get("", "c")?,
        );
        match part {
            PART_PAGE => out.page.push(Candidate {
                contact_id: a,
                attempts: i32::try_from(b).unwrap_or(i32::MAX),
                version: c,
                phone: row.try_get("", "phone")?,
                time_zone: row.try_get("", "time_zone")?,
                recent_dials: row
                    .try_get::<Option<String>>("", "recent_dials")?
                    .unwrap_or_default(),
            }),
            PART_PENDING => out.pending.push((a, b)),
            _ => {
                out.account = Some(Frequency {
                    per_day: i32::try_from(a).unwrap_or(i32::MAX),
                    per_week: i32::try_from(b).unwrap_or(i32::MAX),
                    min_spacing_ms: c.saturating_mul(1000),
                })
            }
        }
    }
    // A UNION ALL promises no order: each part is put back in its own.
    out.page.sort_unstable_by_key(|c| c.contact_id);
    out.pending.sort_by_key(|&(_, due_at)| due_at);
    Ok(out)
}

/// [`first_read`] on SQLite: the three reads apart. The database is in the process, so a
/// statement costs no round trip, and the compound statement cost more than the three
/// (claims suite on SQLite, two rounds turn about: 189 and 201 µs of CPU per leased
/// contact against 172 and 184, closed-loop p99 254 and 287 ms against 146 and 154).
async fn first_read_apart<C: ConnectionTrait>(
    db: &C,
    read: &Read<'_>,
    e: &Eligibility,
    pending_limit: u64,
) -> Result<FirstRead> {
    let (account_id, campaign_id) = read.members;
    let account = account::Entity::find_by_id(account_id.to_owned())
        .one(db)
        .await?
        .map(|a| Frequency {
            per_day: a.max_calls_per_day,
            per_week: a.max_calls_per_week,
            min_spacing_ms: a.min_call_spacing_seconds.saturating_mul(1000),
        });
    let pending = cb::Entity::find()
        .select_only()
        .columns([cb::Column::ContactId, cb::Column::DueAt])
        .filter(cb::Column::AccountId.eq(account_id))
        .filter(cb::Column::CampaignId.eq(campaign_id))
        .filter(cb::Column::Status.eq(CallbackStatus::Pending))
        .filter(cb::Column::HeldUntil.lte(e.now))
        .order_by_asc(cb::Column::DueAt)
        .order_by_asc(cb::Column::Id)
        .limit(pending_limit)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?;
    let page = candidates(db, account_id, campaign_id, e, read.bounds, read.limit).await?;
    Ok(FirstRead {
        account,
        pending,
        page,
    })
}

/// The three parts of [`first_read`], told apart by its `part` column.
const PART_PAGE: i32 = 0;
const PART_PENDING: i32 = 1;
const PART_ACCOUNT: i32 = 2;

/// [`first_read`]'s statement: its text rendered once per shape (backend, consent
/// requirement) by [`first_read_built`], and its parameters in the order that numbers
/// them: the candidate read's, then the callbacks', then the account's (a test holds the
/// two together).
fn first_read_statement(
    backend: DbBackend,
    read: &Read<'_>,
    e: &Eligibility,
    pending_limit: u64,
) -> (&'static str, Vec<Value>) {
    static TEXT: [OnceLock<String>; 6] = [const { OnceLock::new() }; 6];
    let shape = usize::from(backend == DbBackend::Postgres) * 3 + consent_shape(e.require_consent);
    let (account_id, campaign_id) = read.members;
    let sql = TEXT[shape].get_or_init(|| {
        let read = Read {
            members: ("", ""),
            bounds: (0, None),
            limit: 0,
        };
        first_read_built(backend, &read, e, 0).0
    });
    let (_, mut values) = candidate_read(backend, read, e);
    values.extend([
        account_id.into(),
        campaign_id.into(),
        CallbackStatus::Pending.to_value().into(),
        e.now.into(),
        pending_limit.into(),
        account_id.into(),
    ]);
    (sql, values)
}

/// [`first_read`]'s statement rendered with sea-query: the candidate read
/// ([`candidate_select`]) as a subquery, the pending callbacks, the account's rules.
/// Each part fills the same columns (`part`, `a`, `b`, `c`, then the candidate's text
/// columns, NULL in the other parts).
fn first_read_built(
    backend: DbBackend,
    read: &Read<'_>,
    e: &Eligibility,
    pending_limit: u64,
) -> (String, Vec<Value>) {
    let (account_id, campaign_id) = read.members;
    let page = candidate_select(backend, read, e);
    let p = Alias::new("page");
    let text_null = || Expr::cust("NULL");
    let of_page = |column: &str| Expr::col((p.clone(), Alias::new(column)));
    let mut q = Query::select()
        .expr_as(Expr::cust(PART_PAGE.to_string()), Alias::new("part"))
        .expr_as(of_page("contact_id"), Alias::new("a"))
        .expr_as(of_page("attempts").cast_as("BIGINT"), Alias::new("b"))
        .expr_as(of_page("version"), Alias::new("c"))
        .exprs(["phone", "time_zone", "recent_dials"].map(of_page))
        .from_subquery(page, p.clone())
        .to_owned();
    let due = Alias::new("due");
    let callbacks = Query::select()
        .column(cb::Column::ContactId)
        .column(cb::Column::DueAt)
        .from(cb::Entity)
        .and_where(Expr::col(cb::Column::AccountId).eq(account_id))
        .and_where(Expr::col(cb::Column::CampaignId).eq(campaign_id))
        .and_where(Expr::col(cb::Column::Status).eq(CallbackStatus::Pending.to_value()))
        .and_where(Expr::col(cb::Column::HeldUntil).lte(e.now))
        .order_by(cb::Column::DueAt, Order::Asc)
        .order_by(cb::Column::Id, Order::Asc)
        .limit(pending_limit)
        .to_owned();
    q.union(
        UnionType::All,
        Query::select()
            .expr(Expr::cust(PART_PENDING.to_string()))
            .expr(Expr::col((due.clone(), cb::Column::ContactId)))
            .expr(Expr::col((due.clone(), cb::Column::DueAt)))
            .expr(Expr::cust("0"))
            .exprs([text_null(), text_null(), text_null()])
            .from_subquery(callbacks, due)
            .to_owned(),
    );
    q.union(
        UnionType::All,
        Query::select()
            .expr(Expr::cust(PART_ACCOUNT.to_string()))
            .column(account::Column::MaxCallsPerDay)
            .column(account::Column::MaxCallsPerWeek)
            .column(account::Column::MinCallSpacingSeconds)
            .exprs([text_null(), text_null(), text_null()])
            .from(account::Entity)
            .and_where(Expr::col(account::Column::Id).eq(account_id))
            .to_owned(),
    );
    let statement = backend.build(&q);
    (statement.sql, statement.values.map_or(vec![], |v| v.0))
}

/// Leases granted at one instant.
#[derive(Debug, Clone)]
pub struct Granted {
    /// When the leases began (and their dials were counted), Unix ms.
    pub started_at: i64,
    /// When they end, Unix ms.
    pub until: i64,
    /// The leased contacts, in id order.
    pub contacts: Vec<Contact>,
}

/// Re-checks `ids` and leases those still eligible to `owner` for `lease_ms`,
/// atomically, counting a dial for each. A person leased, dialed past the frequency
/// rules, or marked DNC by someone else since the candidates were read is not leased;
/// on PostgreSQL neither is a contact whose row is no longer at one of `versions` (the
/// [`row_version`]s the read saw).
///
/// The lease begins when it is granted, not when the claim began: `clock` is read once
/// the grant can no longer wait (SQLite: inside the write transaction, after the write
/// lock; PostgreSQL: just before the one statement, which skips what it would wait for),
/// and every condition is checked at that instant. A claim that waited for the write lock
/// while a give-back was committed must not date its dial before the give-back: the
/// frequency rules count from the dial's date, and a backdated dial lets the next one
/// come sooner than the minimum spacing. PostgreSQL: [`lease_eligible_pg`]; SQLite:
/// [`lease_eligible_sqlite`].
pub async fn lease_eligible(
    writer: &DatabaseConnection,
    lease: &Lease<'_>,
    e: &Eligibility,
    (ids, versions): (&[i64], &[i64]),
    clock: &dyn Clock,
) -> Result<Granted> {
    let (account, campaign) = (lease.account_id, lease.campaign_id);
    let (started_at, mut leased) = if ids.is_empty() {
        (e.now, vec![])
    } else if super::backend(writer) == DbBackend::Postgres {
        let e = &e.at(clock.now_ms());
        let (sql, values) = pg_lease_statement(lease, e, (ids, versions));
        (e.now, lease_eligible_pg(writer, sql, values).await?)
    } else {
        let txn = super::begin_write(writer).await?;
        let e = &e.at(clock.now_ms());
        let listed = |id: Expr| id.is_in(ids.iter().copied());
        let q = eligible_select(account, campaign, e, &listed);
        let leased = lease_eligible_sqlite(&txn, q, lease, e).await?;
        txn.commit().await?;
        (e.now, leased)
    };
    leased.sort_unstable_by_key(|c| c.id);
    Ok(Granted {
        started_at,
        until: started_at.saturating_add(lease.lease_ms),
        contacts: leased.into_iter().map(Contact::from).collect(),
    })
}

/// Who leases which campaign's members for how long.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub account_id: &'a str,
    pub campaign_id: &'a str,
    /// The dialer.
    pub owner: &'a str,
    /// The lease's length, ms (from when it is granted).
    pub lease_ms: i64,
}

/// PostgreSQL: the lease statement ([`pg_lease_statement_built`]), one round trip and no
/// explicit transaction.
async fn lease_eligible_pg(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<contact::Model>> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?
    .iter()
    .map(|row| Ok(contact::Model::from_columns_at(row, 0)?))
    .collect()
}

/// The lease statement's text for each consent requirement, rendered once per process
/// by [`pg_lease_statement_built`]: only its parameters change from claim to claim.
/// Rendering it with sea-query on every claim (the member select's expression tree, the
/// id list cloned into it, the text pushed piece by piece) cost the server more CPU than
/// decoding the leased contacts (`perf`, the claims suite).
fn pg_lease_sql(require: ConsentRequirement) -> &'static str {
    static TEXT: [OnceLock<String>; 3] = [const { OnceLock::new() }; 3];
    TEXT[consent_shape(require)].get_or_init(|| {
        let lease = Lease {
            account_id: "",
            campaign_id: "",
            owner: "",
            lease_ms: 0,
        };
        let e = Eligibility {
            now: 0,
            max_attempts: 0,
            last_attempt_before: 0,
            frequency: Frequency::default(),
            require_consent: require,
        };
        pg_lease_statement_built(&lease, &e, (&[0], &[0])).0
    })
}

/// The lease statement: the cached text ([`pg_lease_sql`]) and its parameters, in the
/// order [`pg_lease_statement_built`] numbers them (a test holds the two together).
fn pg_lease_statement(
    lease: &Lease<'_>,
    e: &Eligibility,
    (ids, versions): (&[i64], &[i64]),
) -> (&'static str, Vec<Value>) {
    let within = |v: &mut Vec<Value>| v.push(bigint_array(ids));
    let mut values = Vec::with_capacity(24);
    member_values(
        &mut values,
        (lease.account_id, lease.campaign_id),
        e,
        &within,
        false,
    );
    values.extend(lease_values(lease, e, bigint_array(versions)));
    (pg_lease_sql(e.require_consent), values)
}

/// One array parameter, however many values.
fn bigint_array(xs: &[i64]) -> Value {
    Value::Array(
        ArrayType::BigInt,
        Some(Box::new(xs.iter().map(|&x| Value::from(x)).collect())),
    )
}

/// The upsert's parameters, after the member select's.
fn lease_values(lease: &Lease<'_>, e: &Eligibility, versions: Value) -> [Value; 11] {
    let f = e.frequency;
    [
        lease.account_id.into(),
        lease.owner.into(),
        lease.campaign_id.into(),
        e.now.into(),
        e.now.saturating_add(lease.lease_ms).into(),
        (e.now - f.min_spacing_ms).into(),
        f.per_day.clamp(1, MAX_DIALS).into(),
        (e.now - DAY_MS).into(),
        f.per_week.clamp(1, MAX_DIALS).into(),
        (e.now - WEEK_MS).into(),
        versions,
    ]
}

/// The lease statement, rendered with sea-query from [`member_select`]: the text
/// [`pg_lease_sql`] caches, and what its parameters are checked against. The
/// eligibility query locks the contacts `FOR NO KEY UPDATE SKIP LOCKED`: concurrent
/// claimers (of this campaign or another) skip each other's people instead of waiting, a
/// contact being marked DNC or having a call recorded right now is skipped, and one whose
/// DNC mark committed after this statement's snapshot is re-checked on its new version
/// and dropped (PostgreSQL re-evaluates the conditions on a row it locks after a
/// concurrent update). A DNC mark that starts later waits for this statement and then
/// revokes the lease.
///
/// The lease itself is an upsert of the person's `dial_state` row whose `WHERE` decides
/// on the row's latest committed version, not the snapshot: no live lease, and the
/// frequency rules on its recent dials (newest first, so the n-th newest dial decides a
/// limit of n). The dial is counted in the same write.
fn pg_lease_statement_built(
    lease: &Lease<'_>,
    e: &Eligibility,
    (ids, versions): (&[i64], &[i64]),
) -> (String, Vec<Value>) {
    let any = |id: Expr| id.eq(PgFunc::any(Expr::val(bigint_array(ids))));
    // No `dial_state` join: the upsert decides on the person's row itself. The id list
    // bounds the contacts only, each then finding its membership by key: with the list
    // on both tables PostgreSQL probed both primary keys once per id and hash-joined the
    // two (~0.1 ms more per claim of 100, psql, generic plans).
    // The row's version after the lock (the latest, when the row changed since the
    // statement began), compared by the upsert's source below rather than in the
    // locking select: as a condition of the select it cost ~9 % more CPU per leased
    // contact (eight claims suites turn about; the cause not isolated, the plan's
    // choice most likely); here its cost could not be told from the host's noise
    // (four rounds: lower in three, far higher in one).
    let mut q = member_select(lease.account_id, lease.campaign_id, e, &any, false);
    q.columns(contact::select_columns())
        .expr_as(row_version(DbBackend::Postgres), Alias::new("row_version"));
    let (select, Values(mut values)) = q.build(PostgresQueryBuilder);
    let n = values.len();
    values.extend(lease_values(lease, e, bigint_array(versions)));
    let p = |i: usize| format!("${}", n + i);
    // The n-th newest dial, 0 when there are fewer: `split_part` finds it in the text
    // without parsing the whole list into an array (four parses and casts of every dial
    // per person cost ~2.7 µs per leased contact at 3 dials and ~13 µs at 50, psql).
    let nth = |which: &str| {
        format!(
            "COALESCE(NULLIF(split_part(dial_state.recent_dials, ',', {which}), '')::bigint, 0)"
        )
    };
    // The new list: this dial, then the others, MAX_DIALS in all (the array is built only
    // when the list is full).
    let pushed = format!(
        "CASE WHEN dial_state.recent_dials = '' THEN {now}::text \
         WHEN split_part(dial_state.recent_dials, ',', {max}) = '' \
           THEN {now}::text || ',' || dial_state.recent_dials \
         ELSE {now}::text || ',' || array_to_string(\
           (string_to_array(dial_state.recent_dials, ','))[1:{keep}], ',') END",
        now = p(4),
        max = MAX_DIALS,
        keep = MAX_DIALS - 1,
    );
    let sql = format!(
        "WITH picked AS ({select} FOR NO KEY UPDATE OF contacts SKIP LOCKED), \
         leased AS (\
           INSERT INTO dial_state AS dial_state (contact_id, account_id, lease_owner, \
             lease_campaign, lease_started_at, lease_expires_at, recent_dials) \
           SELECT picked.id, {account}, {owner}, {campaign}, {now}, {until}, {now}::text \
           FROM picked WHERE picked.row_version = ANY({versions}) \
           ON CONFLICT (contact_id) DO UPDATE SET \
             lease_owner = excluded.lease_owner, lease_campaign = excluded.lease_campaign, \
             lease_started_at = excluded.lease_started_at, \
             lease_expires_at = excluded.lease_expires_at, \
             recent_dials = {pushed} \
           WHERE (dial_state.lease_expires_at IS NULL OR dial_state.lease_expires_at <= {now}) \
             AND {first} <= {spacing} \
             AND {nth_day} <= {day} \
             AND {nth_week} <= {week} \
           RETURNING contact_id) \
         SELECT picked.* FROM picked WHERE picked.id = ANY(ARRAY(SELECT contact_id FROM leased))",
        first = nth("1"),
        nth_day = nth(&format!("{}::int", p(7))),
        nth_week = nth(&format!("{}::int", p(9))),
        account = p(1),
        owner = p(2),
        campaign = p(3),
        now = p(4),
        until = p(5),
        spacing = p(6),
        day = p(8),
        week = p(10),
        versions = p(11),
    );
    (sql, values)
}

/// SQLite has no row locks: the caller's `BEGIN IMMEDIATE` writer transaction holds the
/// single write lock, so nobody can change a member, contact or dial state between the
/// check and the lease. The frequency rules are checked in Rust on the rows read there.
async fn lease_eligible_sqlite(
    txn: &DatabaseTransaction,
    mut q: SelectStatement,
    lease: &Lease<'_>,
    e: &Eligibility,
) -> Result<Vec<contact::Model>> {
    q.column((cm::Entity, cm::Column::ContactId));
    let eligible: Vec<i64> = txn
        .query_all(&q)
        .await?
        .iter()
        .map(|r| r.try_get("", "contact_id"))
        .collect::<Result<_, _>>()?;
    let mut persons = super::leases::persons(txn, lease.account_id, &eligible).await?;
    let mut chosen: Vec<(i64, PersonState)> = Vec::new();
    for id in eligible {
        let mut p = persons.remove(&id).unwrap_or_default();
        if p.leased_to_other("", e.now) || e.frequency.check(&p.recent, e.now).is_err() {
            continue;
        }
        p.lease_owner = Some(lease.owner.to_string());
        p.lease_campaign = Some(lease.campaign_id.to_string());
        p.lease_started_at = Some(e.now);
        p.lease_expires_at = Some(e.now.saturating_add(lease.lease_ms));
        crate::domain::dialing::push_dial(&mut p.recent, e.now, e.now);
        chosen.push((id, p));
    }
    if chosen.is_empty() {
        return Ok(vec![]);
    }
    let refs: Vec<(i64, &PersonState)> = chosen.iter().map(|(id, p)| (*id, p)).collect();
    super::leases::put_many(txn, lease.account_id, &refs).await?;
    Ok(contact::Entity::find()
        .filter(contact::Column::AccountId.eq(lease.account_id))
        .filter(contact::Column::Id.is_in(chosen.iter().map(|c| c.0)))
        .all(txn)
        .await?)
}

/// Everything the rules look at for one member (PreviewDialable).
#[derive(Debug, Clone)]
pub struct MemberFacts {
    pub contact_id: i64,
    pub state: MemberState,
    pub status: String,
    pub listed: bool,
    /// Holds a live consent of a kind required (true when none is required).
    pub consented: bool,
    pub phone: String,
    pub time_zone: String,
}

/// A page of a campaign's members with their facts, in id order after `after`; whether
/// each holds a live consent of the kinds `require_consent` accepts, at `now`.
pub async fn member_facts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    (require_consent, now): (ConsentRequirement, i64),
    after: i64,
    limit: u64,
) -> Result<Vec<MemberFacts>> {
    let consented = super::consents::live_accepted(require_consent, now);
    let q = Query::select()
        .column((cm::Entity, cm::Column::ContactId))
        .column((cm::Entity, cm::Column::Attempts))
        .column((cm::Entity, cm::Column::LastAttemptAt))
        .column((contact::Entity, contact::Column::Status))
        .column((contact::Entity, contact::Column::Phone))
        .column((contact::Entity, contact::Column::TimeZone))
        .expr_as(
            Expr::col((dnc_entry::Entity, dnc_entry::Column::Phone)).is_not_null(),
            Alias::new("listed"),
        )
        .expr_as(consented, Alias::new("consented"))
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
                },
                status: r.try_get("", "status")?,
                listed: r.try_get("", "listed")?,
                consented: r.try_get("", "consented")?,
                phone: r.try_get("", "phone")?,
                time_zone: r.try_get("", "time_zone")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dialing::Frequency;

    fn eligibility(require_consent: ConsentRequirement) -> Eligibility {
        Eligibility {
            now: 1_796_673_485_843,
            max_attempts: 7,
            last_attempt_before: 1_796_669_885_843,
            frequency: Frequency {
                per_day: 4,
                per_week: 90,
                min_spacing_ms: 120_000,
            },
            require_consent,
        }
    }

    /// The cached candidate read and first read are the ones sea-query renders, with the
    /// same parameters in the same places, for every shape.
    #[test]
    fn the_cached_reads_are_the_rendered_ones() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for bounds in [(40, None), (40, Some(900))] {
                for require in [
                    ConsentRequirement::NotRequired,
                    ConsentRequirement::Express,
                    ConsentRequirement::ExpressWritten,
                ] {
                    let e = eligibility(require);
                    let read = Read {
                        members: ("acct", "spring"),
                        bounds,
                        limit: 133,
                    };
                    let shape = format!("{backend:?} {bounds:?} {require:?}");
                    let (sql, values) = candidate_read(backend, &read, &e);
                    let built = candidate_read_built(backend, &read, &e);
                    assert_eq!((sql, values), (built.0.as_str(), built.1), "{shape}");
                    if bounds.1.is_none() {
                        let (sql, values) = first_read_statement(backend, &read, &e, 164);
                        let built = first_read_built(backend, &read, &e, 164);
                        assert_eq!((sql, values), (built.0.as_str(), built.1), "first {shape}");
                    }
                }
            }
        }
    }

    /// The cached lease statement is the one sea-query renders, with the same parameters
    /// in the same places, for every consent requirement.
    #[test]
    fn the_cached_lease_statement_is_the_rendered_one() {
        let lease = Lease {
            account_id: "acct",
            campaign_id: "spring",
            owner: "dialer-3",
            lease_ms: 600_000,
        };
        for require in [
            ConsentRequirement::NotRequired,
            ConsentRequirement::Express,
            ConsentRequirement::ExpressWritten,
        ] {
            let e = eligibility(require);
            let picked: (&[i64], &[i64]) = (&[5, 9, 12], &[700, 701, 702]);
            let (sql, values) = pg_lease_statement(&lease, &e, picked);
            let (built_sql, built_values) = pg_lease_statement_built(&lease, &e, picked);
            assert_eq!(sql, built_sql, "{require:?}");
            assert_eq!(values, built_values, "{require:?}");
        }
    }
}
