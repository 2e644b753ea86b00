//! Contacts: single-row reads and writes, and keyset-paginated listing.

use crate::domain::filter::ContactFilter;
use crate::entity::{campaign_member, contact};
use crate::error::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, LockType},
};

/// The contacts a transaction is about to change (or delete, or hang memberships on),
/// named by id or by number.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    Ids(&'a [i64]),
    Phones(&'a [String]),
}

/// What the transaction will do to the contacts [`lock_in_number_order`] locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Delete them (`FOR UPDATE`).
    Delete,
    /// Update columns other than the key (`FOR NO KEY UPDATE`).
    Update,
    /// Add or remove their campaign memberships; only their deletion must wait
    /// (`FOR KEY SHARE`).
    Memberships,
}

/// PostgreSQL: locks the account's contacts among `targets` in phone-number order.
///
/// Every transaction that writes several contacts (or their memberships) calls this
/// before its first write, so all of them take contact row locks in one global order
/// and no two can each hold a row the other waits for: an import updating stored
/// numbers while a bulk delete removes them deadlocked when one locked by number and the
/// other by id. The account's counter row comes after the contacts in every writer.
/// SQLite: nothing to do, its one writer holds the whole database.
pub async fn lock_in_number_order<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    targets: Targets<'_>,
    lock: Lock,
) -> Result<()> {
    if super::backend(db) != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let query = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::AccountId.eq(account_id));
    let query = match targets {
        Targets::Ids([]) | Targets::Phones([]) => return Ok(()),
        Targets::Ids(ids) => query.filter(contact::Column::Id.is_in(ids.iter().copied())),
        Targets::Phones(phones) => {
            query.filter(contact::Column::Phone.is_in(phones.iter().cloned()))
        }
    };
    query
        .order_by_asc(contact::Column::Phone)
        .lock(match lock {
            Lock::Delete => LockType::Update,
            Lock::Update => LockType::NoKeyUpdate,
            Lock::Memberships => LockType::KeyShare,
        })
        .into_tuple::<i64>()
        .all(db)
        .await?;
    Ok(())
}

/// PostgreSQL: locks one contact for an update unless another transaction holds it
/// (`FOR NO KEY UPDATE SKIP LOCKED`); returns whether it is now held (false also when it
/// is gone). SQLite: always true (its one writer holds the whole database).
pub async fn try_lock<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<bool> {
    if super::backend(db) != sea_orm::DbBackend::Postgres {
        return Ok(true);
    }
    let row: Option<i64> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Id.eq(id))
        .lock_with_behavior(
            LockType::NoKeyUpdate,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.is_some())
}

/// Inserts a contact. A taken phone surfaces as a unique violation (see
/// [`super::is_unique_violation`]).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    model: contact::ActiveModel,
) -> Result<contact::Model> {
    Ok(model.insert(db).await?)
}

/// One contact of the account, or NOT_FOUND (also for another account's id).
pub async fn get<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<contact::Model> {
    contact::Entity::find_by_id(id)
        .filter(contact::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("contact", id))
}

/// The contact holding `phone` (E.164) in the account, if any.
pub async fn find_by_phone<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
) -> Result<Option<contact::Model>> {
    Ok(contact::Entity::find()
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Phone.eq(phone))
        .one(db)
        .await?)
}

/// The account's contacts holding any of `phones` (E.164), one index probe per number
/// (see [`super::rows_by_phone`]).
pub async fn by_phones<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<Vec<contact::Model>> {
    super::rows_by_phone::<_, contact::Entity>(
        db,
        "contacts",
        contact::Column::Phone,
        account_id,
        phones,
    )
    .await
}

/// Writes the changed columns of a contact.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    model: contact::ActiveModel,
) -> Result<contact::Model> {
    Ok(model.update(db).await?)
}

/// Deletes one contact; returns whether it existed. Memberships cascade; call records
/// keep their data with the contact link set to NULL; the DNC list is not touched.
pub async fn delete<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<bool> {
    let res = contact::Entity::delete_many()
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// A page of contacts matching `filter`, newest first, after the keyset cursor `before_id`
/// (ids only grow, so rows inserted while paging never shift a later page).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    filter: &ContactFilter,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<contact::Model>> {
    let mut query = contact::Entity::find().filter(super::filter::condition(account_id, filter));
    if let Some(before) = before_id {
        query = query.filter(contact::Column::Id.lt(before));
    }
    // With a selective filter, ordering by the bare id tempts PostgreSQL into walking the
    // primary key backwards until LIMIT rows pass the filter — a scan of the whole table
    // when the matches are old. Ordering by an expression no index provides makes it use
    // the filter's own index ranges and sort just the matches (top-N).
    let selective = filter.query.is_some()
        || filter.campaign_id.is_some()
        || filter.last_called_after.is_some()
        || filter.last_called_before.is_some();
    query = if selective {
        query.order_by(Expr::col(contact::Column::Id).add(0), Order::Desc)
    } else {
        query.order_by_desc(contact::Column::Id)
    };
    Ok(query.limit(limit).all(db).await?)
}

/// The campaigns a contact belongs to.
pub async fn campaign_ids<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
) -> Result<Vec<String>> {
    let rows: Vec<String> = campaign_member::Entity::find()
        .select_only()
        .column(campaign_member::Column::CampaignId)
        .filter(campaign_member::Column::AccountId.eq(account_id))
        .filter(campaign_member::Column::ContactId.eq(contact_id))
        .order_by_asc(campaign_member::Column::CampaignId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

/// The highest contact id in the account, if it has any contacts.
pub async fn max_id<C: ConnectionTrait>(db: &C, account_id: &str) -> Result<Option<i64>> {
    let max: Option<Option<i64>> = contact::Entity::find()
        .select_only()
        .column_as(contact::Column::Id.max(), "max_id")
        .filter(contact::Column::AccountId.eq(account_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten())
}

/// Deletes the account's contacts with the numbers `phones` (normalized); returns how
/// many existed. Memberships cascade as with [`delete_many`].
pub async fn delete_by_phones<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<u64> {
    let mut deleted = 0;
    for part in phones.chunks(super::KEYS_PER_STATEMENT) {
        deleted += contact::Entity::delete_many()
            .filter(contact::Column::AccountId.eq(account_id))
            .filter(contact::Column::Phone.is_in(part.iter().cloned()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}

/// Deletes the account's contacts among `ids`; returns how many existed. As with
/// [`delete`]: memberships cascade, call records keep their data with the contact link
/// set to NULL, and the DNC list is not touched.
pub async fn delete_many<C: ConnectionTrait>(db: &C, account_id: &str, ids: &[i64]) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let res = contact::Entity::delete_many()
        .filter(contact::Column::AccountId.eq(account_id))
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
