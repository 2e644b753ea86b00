//! Named DNC lists, their entries and their imports.
//!
//! A list's entries live in `dnc_list_entries`, apart from the manual and call-request
//! list (`dnc_entries`), so replacing or deleting a list never touches a number a person
//! asked not to be called. An entry blocks its number while its expiry is unset or later
//! than now; every query that asks "is this number blocked" carries that condition
//! ([`live_entry`]), so an expired entry stops blocking at its time without a sweep.
//!
//! [`add_entries`] is the import's writer, the one backend-specific function: on
//! PostgreSQL one statement per chunk (`unnest` of two text parameters, an upsert that
//! tells inserts from updates by `xmax`), on SQLite a probe of the chunk's numbers and a
//! multi-row upsert inside the writer transaction.

use crate::domain::dnc::{DncList, DncListFields, DncListImport};
use crate::entity::{dnc_list, dnc_list_entry as le, dnc_list_import};
use crate::error::{Error, Result};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use std::collections::{HashMap, HashSet};

/// `SELECT 1 FROM dnc_list_entries WHERE account_id = ? AND phone = contacts.phone AND
/// (live at now)`: wrap it in `NOT EXISTS` to keep contacts whose number a list blocks
/// out of a query over `contacts`.
pub fn live_entry(account_id: &str, now: i64) -> SelectStatement {
    let phone = Expr::col((
        crate::entity::contact::Entity,
        crate::entity::contact::Column::Phone,
    ));
    Query::select()
        .expr(Expr::val(1))
        .from(le::Entity)
        .and_where(Expr::col((le::Entity, le::Column::AccountId)).eq(account_id))
        .and_where(Expr::col((le::Entity, le::Column::Phone)).eq(phone))
        .and_where(live(now))
        .to_owned()
}

/// The entry has not expired at `now`.
fn live(now: i64) -> Expr {
    Expr::col((le::Entity, le::Column::ExpiresAt))
        .is_null()
        .or(Expr::col((le::Entity, le::Column::ExpiresAt)).gt(now))
}

/// A live entry that blocks a number.
#[derive(Debug, Clone)]
pub struct Hit {
    pub phone: String,
    pub list_id: i64,
    pub list_name: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// The live entries (at `now`) holding these numbers (E.164), with their lists' names.
pub async fn live_hits<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
    now: i64,
) -> Result<Vec<Hit>> {
    let mut out = Vec::new();
    for part in phones.chunks(super::KEYS_PER_STATEMENT) {
        let q = Query::select()
            .column((le::Entity, le::Column::Phone))
            .column((le::Entity, le::Column::ListId))
            .column((le::Entity, le::Column::ExpiresAt))
            .column((le::Entity, le::Column::CreatedAt))
            .column((dnc_list::Entity, dnc_list::Column::Name))
            .from(le::Entity)
            .inner_join(
                dnc_list::Entity,
                Expr::col((dnc_list::Entity, dnc_list::Column::Id))
                    .equals((le::Entity, le::Column::ListId)),
            )
            .and_where(Expr::col((le::Entity, le::Column::AccountId)).eq(account_id))
            .and_where(
                Expr::col((le::Entity, le::Column::Phone)).is_in(part.iter().map(String::as_str)),
            )
            .and_where(live(now))
            .order_by((le::Entity, le::Column::ListId), sea_orm::Order::Asc)
            .to_owned();
        for r in db.query_all(&q).await? {
            out.push(Hit {
                phone: r.try_get("", "phone")?,
                list_id: r.try_get("", "list_id")?,
                list_name: r.try_get("", "name")?,
                expires_at: r.try_get("", "expires_at")?,
                created_at: r.try_get("", "created_at")?,
            });
        }
    }
    Ok(out)
}

/// Which of these numbers a live entry blocks at `now`.
pub async fn blocked<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
    now: i64,
) -> Result<HashSet<String>> {
    Ok(live_hits(db, account_id, phones, now)
        .await?
        .into_iter()
        .map(|h| h.phone)
        .collect())
}

fn decode_list(l: dnc_list::Model) -> DncList {
    DncList {
        id: l.id,
        account_id: l.account_id,
        name: l.name,
        source: l.source,
        description: l.description,
        created_at: l.created_at,
        updated_at: l.updated_at,
    }
}

fn decode_import(i: dnc_list_import::Model) -> DncListImport {
    DncListImport {
        id: i.id,
        account_id: i.account_id,
        list_id: i.list_id,
        request_id: i.request_id,
        status: i.status,
        replace_list: i.replace_list,
        lines_read: i.lines_read,
        added: i.added,
        already_listed: i.already_listed,
        invalid: i.invalid,
        removed: i.removed,
        first_invalid: i.first_invalid,
        error: i.error,
        created_at: i.created_at,
        finished_at: i.finished_at,
    }
}

/// Stores a new list; a taken name is ALREADY_EXISTS.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    name: &str,
    source: &str,
    description: &str,
    now: i64,
) -> Result<DncList> {
    let row = dnc_list::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        name: Set(name.to_string()),
        source: Set(source.to_string()),
        description: Set(description.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let stored = row
        .insert(db)
        .await
        .map_err(|e| name_taken(e.into(), name))?;
    Ok(decode_list(stored))
}

fn name_taken(e: Error, name: &str) -> Error {
    if super::is_unique_violation(&e) {
        Error::AlreadyExists(format!("the account has a DNC list named {name:?}"))
    } else {
        e
    }
}

/// One list of the account; NOT_FOUND otherwise.
pub async fn get<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<DncList> {
    dnc_list::Entity::find_by_id(id)
        .filter(dnc_list::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .map(decode_list)
        .ok_or_else(|| Error::not_found("DNC list", id))
}

/// The account's list of that name, if any.
pub async fn by_name<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    name: &str,
) -> Result<Option<DncList>> {
    Ok(dnc_list::Entity::find()
        .filter(dnc_list::Column::AccountId.eq(account_id))
        .filter(dnc_list::Column::Name.eq(name))
        .one(db)
        .await?
        .map(decode_list))
}

/// A page of the account's lists, newest first, before the keyset cursor.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<DncList>> {
    let mut q = dnc_list::Entity::find().filter(dnc_list::Column::AccountId.eq(account_id));
    if let Some(b) = before_id {
        q = q.filter(dnc_list::Column::Id.lt(b));
    }
    Ok(q.order_by_desc(dnc_list::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(decode_list)
        .collect())
}

/// Writes the fields of `list` that `fields` sets, changed at `now`; a taken name is
/// ALREADY_EXISTS.
pub async fn update<C: ConnectionTrait>(
    db: &C,
    list: &DncList,
    fields: DncListFields,
    now: i64,
) -> Result<DncList> {
    let name = fields.name.clone().unwrap_or(list.name.clone());
    let mut row = dnc_list::ActiveModel {
        id: Unchanged(list.id),
        updated_at: Set(now),
        ..Default::default()
    };
    if let Some(n) = fields.name {
        row.name = Set(n);
    }
    if let Some(s) = fields.source {
        row.source = Set(s);
    }
    if let Some(d) = fields.description {
        row.description = Set(d);
    }
    let stored = row
        .update(db)
        .await
        .map_err(|e| name_taken(e.into(), &name))?;
    Ok(decode_list(stored))
}

/// Marks a list changed at `now` (an import wrote to it).
pub async fn touch<C: ConnectionTrait>(db: &C, list_id: i64, now: i64) -> Result<()> {
    dnc_list::Entity::update_many()
        .col_expr(dnc_list::Column::UpdatedAt, Expr::value(now))
        .filter(dnc_list::Column::Id.eq(list_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a list with its entries and imports; returns how many entries went.
pub async fn delete<C: ConnectionTrait>(db: &C, account_id: &str, id: i64) -> Result<i64> {
    get(db, account_id, id).await?;
    let removed = le::Entity::delete_many()
        .filter(le::Column::ListId.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    dnc_list_import::Entity::delete_many()
        .filter(dnc_list_import::Column::ListId.eq(id))
        .exec(db)
        .await?;
    dnc_list::Entity::delete_by_id(id).exec(db).await?;
    Ok(removed as i64)
}

/// What one chunk of an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// New entries.
    pub added: i64,
    /// Entries the list held already (now stamped with this import and its expiry).
    pub updated: i64,
}

/// Where an import's entries go.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub account_id: &'a str,
    pub list_id: i64,
    pub import_id: i64,
    pub now: i64,
}

/// Upserts `(number, expiry)` rows (numbers distinct) into the list. PostgreSQL:
/// [`add_entries_pg`]; SQLite: [`add_entries_sqlite`].
pub async fn add_entries<C: ConnectionTrait>(
    db: &C,
    t: &Target<'_>,
    rows: &[(String, Option<i64>)],
) -> Result<Written> {
    if rows.is_empty() {
        return Ok(Written::default());
    }
    match super::backend(db) {
        DbBackend::Postgres => add_entries_pg(db, t, rows).await,
        _ => add_entries_sqlite(db, t, rows).await,
    }
}

/// PostgreSQL: the whole chunk in one statement with two text parameters (numbers and
/// expiries, comma-joined: E.164 has no commas), whatever its size; `xmax = 0` on a
/// returned row means it was inserted, not updated.
async fn add_entries_pg<C: ConnectionTrait>(
    db: &C,
    t: &Target<'_>,
    rows: &[(String, Option<i64>)],
) -> Result<Written> {
    let mut phones = String::with_capacity(rows.len() * 13);
    let mut expiries = String::with_capacity(rows.len() * 2);
    for (i, (phone, expires)) in rows.iter().enumerate() {
        if i > 0 {
            phones.push(',');
            expiries.push(',');
        }
        phones.push_str(phone);
        if let Some(e) = expires {
            expiries.push_str(&e.to_string());
        }
    }
    let sql = "WITH up AS (\
         INSERT INTO dnc_list_entries AS e \
           (account_id, phone, list_id, expires_at, import_id, created_at) \
         SELECT $1, r.phone, $2, NULLIF(r.expires, '')::bigint, $3, $4 \
         FROM unnest(string_to_array($5, ','), string_to_array($6, ',')) AS r(phone, expires) \
         ON CONFLICT (account_id, phone, list_id) DO UPDATE SET \
           expires_at = excluded.expires_at, import_id = excluded.import_id \
         RETURNING (xmax = 0) AS inserted) \
       SELECT COUNT(*) FILTER (WHERE inserted) AS added, \
              COUNT(*) FILTER (WHERE NOT inserted) AS updated FROM up";
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                t.account_id.into(),
                t.list_id.into(),
                t.import_id.into(),
                t.now.into(),
                phones.into(),
                expiries.into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::Internal("the upsert returned no counts".into()))?;
    Ok(Written {
        added: row.try_get("", "added")?,
        updated: row.try_get("", "updated")?,
    })
}

/// SQLite: inside the writer transaction nobody else writes, so the numbers the list
/// holds already are read first, then all are upserted.
async fn add_entries_sqlite<C: ConnectionTrait>(
    db: &C,
    t: &Target<'_>,
    rows: &[(String, Option<i64>)],
) -> Result<Written> {
    let mut w = Written::default();
    for part in rows.chunks(super::KEYS_PER_STATEMENT / 2) {
        let held = le::Entity::find()
            .select_only()
            .column(le::Column::Phone)
            .filter(le::Column::AccountId.eq(t.account_id))
            .filter(le::Column::ListId.eq(t.list_id))
            .filter(le::Column::Phone.is_in(part.iter().map(|r| r.0.as_str())))
            .into_tuple::<String>()
            .all(db)
            .await?
            .len() as i64;
        w.updated += held;
        w.added += part.len() as i64 - held;
        let models = part.iter().map(|(phone, expires)| le::ActiveModel {
            account_id: Set(t.account_id.to_string()),
            phone: Set(phone.clone()),
            list_id: Set(t.list_id),
            expires_at: Set(*expires),
            import_id: Set(t.import_id),
            created_at: Set(t.now),
        });
        le::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([le::Column::AccountId, le::Column::Phone, le::Column::ListId])
                    .update_columns([le::Column::ExpiresAt, le::Column::ImportId])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(w)
}

/// The ids of the account's contacts holding these numbers (E.164), locked on
/// PostgreSQL `FOR NO KEY UPDATE` in number order (the order every writer of several
/// contacts keeps), in one statement with one text parameter whatever the count. SQLite:
/// the writer transaction holds the database; the ids are read.
///
/// PostgreSQL: each row is also rewritten as it is, so its version changes
/// ([`super::dialer::row_version`]): a claim's lease statement that began before this
/// transaction commits cannot see the new entries, and finds the changed version instead
/// and leaves the contact (a lock alone would not tell it).
pub async fn lock_holders<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phones: &[String],
) -> Result<Vec<i64>> {
    if phones.is_empty() {
        return Ok(vec![]);
    }
    if super::backend(db) != DbBackend::Postgres {
        return Ok(super::contacts::by_phones(db, account_id, phones)
            .await?
            .iter()
            .map(|c| c.id)
            .collect());
    }
    let sql = "WITH held AS (SELECT id FROM contacts WHERE account_id = $1 \
               AND phone = ANY(string_to_array($2, ',')) ORDER BY phone FOR NO KEY UPDATE) \
               UPDATE contacts SET updated_at = contacts.updated_at FROM held \
               WHERE contacts.id = held.id RETURNING contacts.id";
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [account_id.into(), phones.join(",").into()],
    ))
    .await?
    .iter()
    .map(|r| Ok(r.try_get::<i64>("", "id")?))
    .collect()
}

/// Replacing a list: removes the entries the replacing import did not write.
pub async fn remove_stale<C: ConnectionTrait>(db: &C, list_id: i64, import_id: i64) -> Result<i64> {
    Ok(le::Entity::delete_many()
        .filter(le::Column::ListId.eq(list_id))
        .filter(le::Column::ImportId.ne(import_id))
        .exec(db)
        .await?
        .rows_affected as i64)
}

/// Starts an import's record (status "running").
pub async fn start_import<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    list_id: i64,
    request_id: Option<&str>,
    replace: bool,
    now: i64,
) -> Result<DncListImport> {
    let row = dnc_list_import::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        list_id: Set(list_id),
        request_id: Set(request_id.map(str::to_string)),
        status: Set("running".into()),
        replace_list: Set(replace),
        lines_read: Set(0),
        added: Set(0),
        already_listed: Set(0),
        invalid: Set(0),
        removed: Set(0),
        first_invalid: Set(String::new()),
        error: Set(String::new()),
        created_at: Set(now),
        finished_at: Set(None),
    };
    Ok(decode_import(row.insert(db).await?))
}

/// The import with this request id, if any.
pub async fn import_by_request<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    request_id: &str,
) -> Result<Option<DncListImport>> {
    Ok(dnc_list_import::Entity::find()
        .filter(dnc_list_import::Column::AccountId.eq(account_id))
        .filter(dnc_list_import::Column::RequestId.eq(request_id))
        .one(db)
        .await?
        .map(decode_import))
}

/// Writes an import's counts (and status, when it ended).
pub async fn save_import<C: ConnectionTrait>(db: &C, i: &DncListImport) -> Result<DncListImport> {
    let row = dnc_list_import::ActiveModel {
        id: Unchanged(i.id),
        status: Set(i.status.clone()),
        lines_read: Set(i.lines_read),
        added: Set(i.added),
        already_listed: Set(i.already_listed),
        invalid: Set(i.invalid),
        removed: Set(i.removed),
        first_invalid: Set(i.first_invalid.clone()),
        error: Set(i.error.clone()),
        finished_at: Set(i.finished_at),
        ..Default::default()
    };
    Ok(decode_import(row.update(db).await?))
}

/// Entry counts of several lists at once.
pub async fn entry_counts<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = le::Entity::find()
        .select_only()
        .column(le::Column::ListId)
        .column_as(le::Column::Phone.count(), "n")
        .filter(le::Column::ListId.is_in(ids.iter().copied()))
        .group_by(le::Column::ListId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
