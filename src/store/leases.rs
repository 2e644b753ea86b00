//! Per-person dial state (`dial_state`): the one live lease on a contact, whoever holds it
//! and for whichever campaign (or Call Now), and the start times of the person's recent
//! dials that the account-wide frequency rules count.
//!
//! The lock rule: every transaction that writes a contact's `dial_state` row holds that
//! contact's row lock first (PostgreSQL; [`super::contacts::lock_in_number_order`], or the
//! row lock its own update of the contact takes). The claim statement takes the same lock
//! (`FOR NO KEY UPDATE OF contacts SKIP LOCKED`) before its upsert, so the
//! read-modify-write of a row here never races a claim, a DNC mark, a RecordCall or a
//! release of the same person. SQLite's one writer gives the same for free.

use crate::domain::dialing::{
    PersonState, ReleaseTarget, format_dials, parse_dials, push_dial, remove_dial,
};
use crate::entity::dial_state;
use crate::error::Result;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;

/// The stored row as rules see it.
pub fn state(row: Option<&dial_state::Model>) -> PersonState {
    match row {
        None => PersonState::default(),
        Some(r) => PersonState {
            lease_owner: r.lease_owner.clone(),
            lease_campaign: r.lease_campaign.clone(),
            lease_started_at: r.lease_started_at,
            lease_expires_at: r.lease_expires_at,
            recent: parse_dials(&r.recent_dials),
        },
    }
}

/// One person's state (no row: never leased nor dialed).
pub async fn person<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
) -> Result<PersonState> {
    let row = dial_state::Entity::find_by_id(contact_id)
        .filter(dial_state::Column::AccountId.eq(account_id))
        .one(db)
        .await?;
    Ok(state(row.as_ref()))
}

/// The states of `ids` (absent ids have none).
pub async fn persons<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    ids: &[i64],
) -> Result<HashMap<i64, PersonState>> {
    let mut out = HashMap::new();
    for part in ids.chunks(super::KEYS_PER_STATEMENT) {
        let rows = dial_state::Entity::find()
            .filter(dial_state::Column::AccountId.eq(account_id))
            .filter(dial_state::Column::ContactId.is_in(part.iter().copied()))
            .all(db)
            .await?;
        out.extend(rows.iter().map(|r| (r.contact_id, state(Some(r)))));
    }
    Ok(out)
}

/// Writes a person's state (insert or replace). The caller holds the contact's lock.
pub async fn put<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    p: &PersonState,
) -> Result<()> {
    put_many(db, account_id, &[(contact_id, p)]).await
}

/// Writes several persons' states. The caller holds their contacts' locks.
pub async fn put_many<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    states: &[(i64, &PersonState)],
) -> Result<()> {
    use dial_state::Column;
    for part in states.chunks(super::KEYS_PER_STATEMENT / 8) {
        let rows = part.iter().map(|(id, p)| dial_state::ActiveModel {
            contact_id: Set(*id),
            account_id: Set(account_id.to_string()),
            lease_owner: Set(p.lease_owner.clone()),
            lease_campaign: Set(p.lease_campaign.clone()),
            lease_started_at: Set(p.lease_started_at),
            lease_expires_at: Set(p.lease_expires_at),
            recent_dials: Set(format_dials(&p.recent)),
        });
        dial_state::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(Column::ContactId)
                    .update_columns([
                        Column::LeaseOwner,
                        Column::LeaseCampaign,
                        Column::LeaseStartedAt,
                        Column::LeaseExpiresAt,
                        Column::RecentDials,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Ends every lease on these contacts at `now`, whoever holds it (they became DNC), as
/// [`PersonState::end_lease`] does: the end kept, not erased. Their dials stay counted.
/// The caller holds the contacts' locks.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_ids: &[i64],
    now: i64,
) -> Result<u64> {
    let mut revoked = 0;
    let until = || Expr::col(dial_state::Column::LeaseExpiresAt);
    for part in contact_ids.chunks(super::KEYS_PER_STATEMENT) {
        revoked += dial_state::Entity::update_many()
            .col_expr(
                dial_state::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                dial_state::Column::LeaseCampaign,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                dial_state::Column::LeaseStartedAt,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                dial_state::Column::LeaseExpiresAt,
                CaseStatement::new()
                    .case(until().gt(now), Expr::val(now))
                    .finally(until())
                    .into(),
            )
            .filter(dial_state::Column::AccountId.eq(account_id))
            .filter(dial_state::Column::ContactId.is_in(part.iter().copied()))
            .filter(dial_state::Column::LeaseOwner.is_not_null())
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(revoked)
}

/// The contacts whose lease `owner` holds for `campaign` ("" = Call Now), among `ids`
/// (all of them when `ids` is empty), live or expired but not yet taken by anyone else.
pub async fn held_by<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign: &str,
    owner: &str,
    ids: &[i64],
) -> Result<Vec<i64>> {
    let mut q = dial_state::Entity::find()
        .filter(dial_state::Column::AccountId.eq(account_id))
        .filter(dial_state::Column::LeaseOwner.eq(owner))
        .filter(dial_state::Column::LeaseCampaign.eq(campaign));
    if !ids.is_empty() {
        q = q.filter(dial_state::Column::ContactId.is_in(ids.iter().copied()));
    }
    Ok(q.all(db).await?.into_iter().map(|r| r.contact_id).collect())
}

/// Gives back the leases `owner` holds for `campaign` that `targets` name (their
/// contacts already locked by the caller): each ends and its dial is no longer counted
/// (the dialer says it did not call). A target naming a lease by its id matches only that
/// lease, never a later one of the same person.
/// Returns the people whose lease ended.
pub async fn release<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign: &str,
    owner: &str,
    targets: &[ReleaseTarget],
    now: i64,
) -> Result<Vec<i64>> {
    if targets.is_empty() {
        return Ok(vec![]);
    }
    // By person: a dialer giving back everything names thousands of leases, and a scan
    // of the targets per person was quadratic (seconds for 12,500 leases).
    let mut by_person: HashMap<i64, Vec<&ReleaseTarget>> = HashMap::new();
    for t in targets {
        by_person.entry(t.contact_id()).or_default().push(t);
    }
    let ids: Vec<i64> = by_person.keys().copied().collect();
    let current = persons(db, account_id, &ids).await?;
    let mut changed = Vec::new();
    for (id, mut p) in current {
        let named = by_person
            .get(&id)
            .is_some_and(|ts| ts.iter().any(|t| t.names(p.lease_started_at)));
        if !named
            || p.lease_owner.as_deref() != Some(owner)
            || p.lease_campaign.as_deref() != Some(campaign)
        {
            continue;
        }
        if let Some(started) = p.lease_started_at {
            remove_dial(&mut p.recent, started);
        }
        p.end_lease(now);
        changed.push((id, p));
    }
    let refs: Vec<(i64, &PersonState)> = changed.iter().map(|(id, p)| (*id, p)).collect();
    put_many(db, account_id, &refs).await?;
    Ok(changed.into_iter().map(|(id, _)| id).collect())
}

/// A recorded outbound call (or any call by a lease's holder): the call ends the lease it
/// belongs to (its holder placed it after the lease began; that dial is already counted);
/// any other outbound call is added to the person's dials. A call that belongs to no lease
/// never ends someone else's. The caller holds the contact's lock.
pub async fn record_call<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    dialer: &str,
    started_at: i64,
    outbound: bool,
    now: i64,
) -> Result<()> {
    let mut p = person(db, account_id, contact_id).await?;
    if p.owns_call(dialer, started_at) {
        p.end_lease(now);
    } else if outbound {
        push_dial(&mut p.recent, started_at, now);
    } else {
        return Ok(());
    }
    put(db, account_id, contact_id, &p).await
}

/// Leases a person to `owner` for `campaign` ("" = Call Now) from `now` to `until` and
/// counts the dial, unless anyone holds a live lease on the person — `owner` included: a
/// telephony worker with two Call Now requests for one person calls them one at a time —
/// and returns whether it did. The caller holds the contact's lock.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    owner: &str,
    campaign: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let mut p = person(db, account_id, contact_id).await?;
    if p.leased_to_other("", now) {
        return Ok(false);
    }
    p.lease_owner = Some(owner.to_string());
    p.lease_campaign = Some(campaign.to_string());
    p.lease_started_at = Some(now);
    p.lease_expires_at = Some(until);
    push_dial(&mut p.recent, now, now);
    put(db, account_id, contact_id, &p).await?;
    Ok(true)
}
