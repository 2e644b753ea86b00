//! The per-account Do-Not-Call list, kept by normalized number, and its history. The
//! functions that flip a contact's status live here too, so the invariant
//! "status = DNC iff the number is listed" is written in one file.

use crate::domain::filter::ContactStatus;
use crate::entity::{contact, dnc_entry, dnc_event};
use crate::error::Result;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult, sea_query::Expr,
};

/// The DNC entry for a number, if it is on the account's list.
pub async fn entry<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
) -> Result<Option<dnc_entry::Model>> {
    Ok(dnc_entry::Entity::find()
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.eq(phone))
        .one(db)
        .await?)
}

/// The entries for several numbers (E.164) at once.
pub async fn entries<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<Vec<dnc_entry::Model>> {
    if phones.is_empty() {
        return Ok(vec![]);
    }
    Ok(dnc_entry::Entity::find()
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.is_in(phones.iter().cloned()))
        .all(db)
        .await?)
}

/// Who changed the list, why, and when.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub source: &'a str,
    pub reason: &'a str,
    pub actor: &'a str,
    pub at: i64,
}

/// Puts a number on the list (no-op when listed); returns whether it was added. The
/// caller records the event and flips the contact in the same transaction.
pub async fn add<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
    change: &Change<'_>,
) -> Result<bool> {
    let row = dnc_entry::ActiveModel {
        account_id: Set(account_id.to_string()),
        phone: Set(phone.to_string()),
        source: Set(change.source.to_string()),
        reason: Set(change.reason.to_string()),
        actor: Set(change.actor.to_string()),
        created_at: Set(change.at),
    };
    let res = dnc_entry::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(matches!(res, TryInsertResult::Inserted(n) if n > 0))
}

/// Takes a number off the list; returns whether it was listed.
pub async fn remove<C: ConnectionTrait>(db: &C, account_id: &str, phone: &str) -> Result<bool> {
    let res = dnc_entry::Entity::delete_many()
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.eq(phone))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Appends a history row.
pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
    added: bool,
    change: &Change<'_>,
    contact_id: Option<i64>,
) -> Result<()> {
    let row = dnc_event::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        phone: Set(phone.to_string()),
        added: Set(added),
        source: Set(change.source.to_string()),
        reason: Set(change.reason.to_string()),
        actor: Set(change.actor.to_string()),
        contact_id: Set(contact_id),
        created_at: Set(change.at),
    };
    dnc_event::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// History rows, newest first, before the keyset cursor; only `phone`'s when given.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: Option<&str>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<dnc_event::Model>> {
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
        .await?)
}

/// Sets the contact holding `phone` to DNC (keeping an earlier DNC time and source);
/// returns its id and whether its status changed, if there is such a contact.
pub async fn set_contact_dnc<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
    source: &str,
    at: i64,
) -> Result<Option<(i64, bool)>> {
    let Some(c) = holder(db, account_id, phone).await? else {
        return Ok(None);
    };
    let flip = ContactStatus::from_stored(&c.status) != ContactStatus::Dnc || c.dnc_at.is_none();
    if flip {
        contact::Entity::update_many()
            .col_expr(
                contact::Column::Status,
                Expr::value(ContactStatus::Dnc.as_str()),
            )
            .col_expr(contact::Column::DncSource, Expr::value(source))
            .col_expr(contact::Column::DncAt, Expr::value(at))
            .col_expr(contact::Column::UpdatedAt, Expr::value(at))
            .filter(contact::Column::Id.eq(c.id))
            .exec(db)
            .await?;
    }
    Ok(Some((c.id, flip)))
}

/// Sets the contact holding `phone` back to ACTIVE; returns its id and whether it was
/// DNC, if there is such a contact.
pub async fn set_contact_active<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
    at: i64,
) -> Result<Option<(i64, bool)>> {
    let Some(c) = holder(db, account_id, phone).await? else {
        return Ok(None);
    };
    let was_dnc = ContactStatus::from_stored(&c.status) == ContactStatus::Dnc;
    contact::Entity::update_many()
        .col_expr(
            contact::Column::Status,
            Expr::value(ContactStatus::Active.as_str()),
        )
        .col_expr(contact::Column::DncSource, Expr::value(""))
        .col_expr(contact::Column::DncAt, Expr::value(Option::<i64>::None))
        .col_expr(contact::Column::UpdatedAt, Expr::value(at))
        .filter(contact::Column::Id.eq(c.id))
        .exec(db)
        .await?;
    Ok(Some((c.id, was_dnc)))
}

async fn holder<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
) -> Result<Option<contact::Model>> {
    super::contacts::find_by_phone(db, account_id, phone).await
}
