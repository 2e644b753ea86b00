//! Contacts: single-row reads and writes, and keyset-paginated listing.

use crate::domain::call::CallOutcome;
use crate::domain::dnc::{DncEntry, DncSource};
use crate::domain::filter::{ContactFilter, ContactStatus, name_key};
use crate::domain::{Contact, NewContact};
use crate::entity::{campaign_member, contact};
use crate::error::{Error, Result};
use sea_orm::ActiveValue::{NotSet, Set, Unchanged};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, LockType},
};
use std::collections::BTreeMap;

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

/// Parses the stored custom-fields JSON (an object of strings).
pub fn custom_fields(model: &contact::Model) -> BTreeMap<String, String> {
    serde_json::from_str(&model.custom_fields).unwrap_or_default()
}

pub(crate) fn custom_fields_json(fields: &BTreeMap<String, String>) -> String {
    serde_json::to_string(fields).expect("a map of strings always serializes")
}

/// A contact row ready to insert, built by [`new_row`] (what it holds is the store's
/// business: callers pass it back to [`insert`] or `store::import::insert_contacts`).
#[derive(Debug, Clone)]
pub struct NewRow(pub(super) contact::ActiveModel);

/// For tools that write rows in bulk on their own (the benchmark's seeding).
impl From<NewRow> for contact::ActiveModel {
    fn from(row: NewRow) -> Self {
        row.0
    }
}

/// The row to insert for a checked contact. Status follows the DNC list: a number on it
/// is stored as DNC (with the list's source and time) from the first moment.
pub fn new_row(
    account_id: &str,
    c: &NewContact,
    dnc: Option<&DncEntry>,
    import_batch_id: Option<String>,
    now: i64,
) -> NewRow {
    NewRow(contact::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        phone: Set(c.phone.e164().to_string()),
        phone_national: Set(c.phone.national().to_string()),
        phone_extension: Set(c.phone_extension.clone()),
        first_name: Set(c.first_name.clone()),
        last_name: Set(c.last_name.clone()),
        email: Set(c
            .email
            .as_ref()
            .map(|e| e.as_str().to_string())
            .unwrap_or_default()),
        company: Set(c.company.clone()),
        title: Set(c.title.clone()),
        name_key: Set(name_key(&c.first_name, &c.last_name)),
        last_key: Set(name_key(&c.last_name, "")),
        custom_fields: Set(custom_fields_json(&c.custom_fields)),
        time_zone: Set(c.time_zone.clone()),
        status: Set(if dnc.is_some() {
            ContactStatus::Dnc
        } else {
            ContactStatus::Active
        }),
        dnc_source: Set(dnc
            .map(|d| d.source.as_str())
            .unwrap_or_default()
            .to_string()),
        dnc_at: Set(dnc.map(|d| d.created_at)),
        call_count: Set(0),
        last_called_at: Set(None),
        last_outcome: Set(String::new()),
        total_talk_seconds: Set(0),
        import_batch_id: Set(import_batch_id),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

impl From<contact::Model> for Contact {
    fn from(m: contact::Model) -> Self {
        Contact {
            custom_fields: custom_fields(&m),
            dnc_source: DncSource::from_stored(&m.dnc_source),
            last_outcome: CallOutcome::from_stored(&m.last_outcome),
            id: m.id,
            account_id: m.account_id,
            phone: m.phone,
            phone_national: m.phone_national,
            phone_extension: m.phone_extension,
            first_name: m.first_name,
            last_name: m.last_name,
            email: m.email,
            company: m.company,
            title: m.title,
            time_zone: m.time_zone,
            status: m.status,
            dnc_at: m.dnc_at,
            call_count: m.call_count,
            last_called_at: m.last_called_at,
            total_talk_seconds: m.total_talk_seconds,
            import_batch_id: m.import_batch_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Inserts a checked contact (DNC from the first moment when `dnc` lists its number). A
/// taken phone surfaces as a unique violation (see [`super::is_unique_violation`]).
pub async fn create<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    c: &NewContact,
    dnc: Option<&DncEntry>,
    now: i64,
) -> Result<Contact> {
    Ok(insert(db, new_row(account_id, c, dnc, None, now))
        .await?
        .into())
}

/// One contact of the account, or NOT_FOUND (also for another account's id).
pub async fn find<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<Contact> {
    Ok(get(db, account_id, id).await?.into())
}

/// Writes the columns in which `after` differs from `before` (the contact as read in
/// this transaction), and `updated_at`: columns nobody changed are not written, so a
/// concurrent change to them (a call recorded, a DNC mark) is never overwritten with
/// what was read. A taken phone surfaces as a unique violation.
pub async fn save_changes<C: ConnectionTrait>(
    db: &C,
    before: &Contact,
    after: &Contact,
) -> Result<Contact> {
    let mut row = contact::ActiveModel {
        id: Unchanged(before.id),
        updated_at: Set(after.updated_at),
        ..Default::default()
    };
    let text = |b: &String, a: &String| (b != a).then(|| Set(a.clone()));
    let columns = [
        (&before.phone, &after.phone, &mut row.phone),
        (
            &before.phone_national,
            &after.phone_national,
            &mut row.phone_national,
        ),
        (
            &before.phone_extension,
            &after.phone_extension,
            &mut row.phone_extension,
        ),
        (&before.email, &after.email, &mut row.email),
        (&before.company, &after.company, &mut row.company),
        (&before.title, &after.title, &mut row.title),
        (&before.time_zone, &after.time_zone, &mut row.time_zone),
    ];
    for (b, a, slot) in columns {
        if let Some(v) = text(b, a) {
            *slot = v;
        }
    }
    if before.first_name != after.first_name || before.last_name != after.last_name {
        row.first_name = Set(after.first_name.clone());
        row.last_name = Set(after.last_name.clone());
        row.name_key = Set(name_key(&after.first_name, &after.last_name));
        row.last_key = Set(name_key(&after.last_name, ""));
    }
    if before.custom_fields != after.custom_fields {
        row.custom_fields = Set(custom_fields_json(&after.custom_fields));
    }
    if before.status != after.status {
        row.status = Set(after.status);
    }
    if before.dnc_source != after.dnc_source {
        row.dnc_source = Set(after
            .dnc_source
            .map(|s| s.as_str())
            .unwrap_or_default()
            .to_string());
    }
    if before.dnc_at != after.dnc_at {
        row.dnc_at = Set(after.dnc_at);
    }
    Ok(update(db, row).await?.into())
}

/// A page of [`list`] as contacts.
pub async fn list_contacts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    filter: &ContactFilter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Contact>> {
    let rows = list(db, account_id, filter, before, limit).await?;
    Ok(rows.into_iter().map(Contact::from).collect())
}

/// Inserts a contact. A taken phone surfaces as a unique violation (see
/// [`super::is_unique_violation`]).
pub async fn insert<C: ConnectionTrait>(db: &C, row: NewRow) -> Result<contact::Model> {
    Ok(row.0.insert(db).await?)
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
) -> Result<Vec<Contact>> {
    let rows = super::rows_by_phone::<_, contact::Entity>(
        db,
        "contacts",
        contact::Column::Phone,
        account_id,
        phones,
    )
    .await?;
    Ok(rows.into_iter().map(Contact::from).collect())
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
