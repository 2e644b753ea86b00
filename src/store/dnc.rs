//! The per-account Do-Not-Call list, kept by normalized number, and its history. The
//! functions that flip a contact's status live here too, so the invariant
//! "status = DNC iff the number is listed" is written in one file.

use crate::domain::Contact;
use crate::domain::dnc::{DncEntry, DncEvent, DncSource};
use crate::domain::filter::ContactStatus;
use crate::entity::{contact, dnc_entry, dnc_event};
use crate::error::Result;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashSet;

fn decode_entry(e: dnc_entry::Model) -> DncEntry {
    DncEntry {
        account_id: e.account_id,
        phone: e.phone,
        source: e.source,
        reason: e.reason,
        actor: e.actor,
        created_at: e.created_at,
    }
}

fn decode_event(e: dnc_event::Model) -> DncEvent {
    DncEvent {
        id: e.id,
        account_id: e.account_id,
        phone: e.phone,
        added: e.added,
        source: e.source,
        reason: e.reason,
        actor: e.actor,
        contact_id: e.contact_id,
        created_at: e.created_at,
    }
}

/// The DNC entry for a number, if it is on the account's list.
pub async fn entry<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
) -> Result<Option<DncEntry>> {
    Ok(dnc_entry::Entity::find()
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.eq(phone))
        .one(db)
        .await?
        .map(decode_entry))
}

/// The entries for several numbers (E.164) at once, one index probe per number (see
/// [`super::rows_by_phone`]).
pub async fn entries<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<Vec<DncEntry>> {
    let rows = super::rows_by_phone::<_, dnc_entry::Entity>(
        db,
        "dnc_entries",
        dnc_entry::Column::Phone,
        account_id,
        phones,
    )
    .await?;
    Ok(rows.into_iter().map(decode_entry).collect())
}

/// Who changed the list, why, and when.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub source: DncSource,
    pub reason: &'a str,
    pub actor: &'a str,
    pub at: i64,
}

/// An entry's columns, in the order inserts give them.
pub(super) const ENTRY_COLUMNS: [dnc_entry::Column; 6] = [
    dnc_entry::Column::AccountId,
    dnc_entry::Column::Phone,
    dnc_entry::Column::Source,
    dnc_entry::Column::Reason,
    dnc_entry::Column::Actor,
    dnc_entry::Column::CreatedAt,
];

/// Puts numbers on the list (those already listed stay as they were); returns the
/// numbers that were added. The caller records the events and flips the contacts in the
/// same transaction.
pub async fn add<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
    change: &Change<'_>,
) -> Result<HashSet<String>> {
    let mut added = HashSet::new();
    for part in phones.chunks(super::KEYS_PER_STATEMENT) {
        let mut insert = Query::insert();
        insert.into_table(dnc_entry::Entity).columns(ENTRY_COLUMNS);
        for phone in part {
            insert.values_panic([
                account_id.into(),
                phone.as_str().into(),
                change.source.as_str().into(),
                change.reason.into(),
                change.actor.into(),
                change.at.into(),
            ]);
        }
        insert
            .on_conflict(
                OnConflict::columns([dnc_entry::Column::AccountId, dnc_entry::Column::Phone])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(dnc_entry::Column::Phone);
        for row in db.query_all(&insert).await? {
            added.insert(row.try_get::<String>("", "phone")?);
        }
    }
    Ok(added)
}

/// Takes numbers off the list; returns those that were listed.
pub async fn remove<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<HashSet<String>> {
    let mut removed = HashSet::new();
    for part in phones.chunks(super::KEYS_PER_STATEMENT) {
        let delete = Query::delete()
            .from_table(dnc_entry::Entity)
            .and_where(dnc_entry::Column::AccountId.eq(account_id))
            .and_where(dnc_entry::Column::Phone.is_in(part.iter().map(String::as_str)))
            .returning_col(dnc_entry::Column::Phone)
            .to_owned();
        for row in db.query_all(&delete).await? {
            removed.insert(row.try_get::<String>("", "phone")?);
        }
    }
    Ok(removed)
}

/// Appends history rows, one per `(number, its contact)`.
pub async fn record_events<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    numbers: &[(String, Option<i64>)],
    added: bool,
    change: &Change<'_>,
) -> Result<()> {
    for part in numbers.chunks(super::KEYS_PER_STATEMENT) {
        let rows = part
            .iter()
            .map(|(phone, contact_id)| dnc_event::ActiveModel {
                id: NotSet,
                account_id: Set(account_id.to_string()),
                phone: Set(phone.clone()),
                added: Set(added),
                source: Set(change.source),
                reason: Set(change.reason.to_string()),
                actor: Set(change.actor.to_string()),
                contact_id: Set(*contact_id),
                created_at: Set(change.at),
            });
        dnc_event::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// History rows, newest first, before the keyset cursor; only `phone`'s when given.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: Option<&str>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<DncEvent>> {
    let mut q = dnc_event::Entity::find().filter(dnc_event::Column::AccountId.eq(account_id));
    if let Some(p) = phone {
        q = q.filter(dnc_event::Column::Phone.eq(p));
    }
    if let Some(b) = before_id {
        q = q.filter(dnc_event::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(dnc_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(decode_event)
        .collect())
}

/// Sets these contacts to DNC with `source` and time `at`.
pub async fn set_contacts_dnc<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    source: DncSource,
    at: i64,
) -> Result<()> {
    for part in ids.chunks(super::KEYS_PER_STATEMENT) {
        contact::Entity::update_many()
            .col_expr(
                contact::Column::Status,
                Expr::value(ContactStatus::Dnc.as_str()),
            )
            .col_expr(contact::Column::DncSource, Expr::value(source.as_str()))
            .col_expr(contact::Column::DncAt, Expr::value(at))
            .col_expr(contact::Column::UpdatedAt, Expr::value(at))
            .filter(contact::Column::Id.is_in(part.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Sets these contacts back to ACTIVE.
pub async fn set_contacts_active<C: ConnectionTrait>(db: &C, ids: &[i64], at: i64) -> Result<()> {
    for part in ids.chunks(super::KEYS_PER_STATEMENT) {
        contact::Entity::update_many()
            .col_expr(
                contact::Column::Status,
                Expr::value(ContactStatus::Active.as_str()),
            )
            .col_expr(contact::Column::DncSource, Expr::value(""))
            .col_expr(contact::Column::DncAt, Expr::value(Option::<i64>::None))
            .col_expr(contact::Column::UpdatedAt, Expr::value(at))
            .filter(contact::Column::Id.is_in(part.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Whether a stored contact needs flipping to DNC (not DNC yet, or DNC without a time).
pub fn needs_dnc(c: &Contact) -> bool {
    c.status != ContactStatus::Dnc || c.dnc_at.is_none()
}

/// Whether a stored contact is DNC.
pub fn is_dnc(c: &Contact) -> bool {
    c.status == ContactStatus::Dnc
}
