//! Import batches, their rejected rows, and the bulk writes of an import.
//!
//! The bulk insert is one multi-row `INSERT … ON CONFLICT (account_id, phone) DO NOTHING`
//! per [`INSERT_ROWS`] contacts, the same SQL on both backends: inside the import's write
//! transaction SQLite holds the database's write lock, and on PostgreSQL a number inserted
//! concurrently by another transaction is skipped, not an error (the caller counts it as a
//! duplicate and releases its slot).

use crate::domain::batch::{ImportBatch, ImportStatus, NewBatch, RejectedRow};
use crate::entity::{contact, import_batch, import_error};
use crate::error::{Error, Result};
use crate::import::pipeline::RowError;
use crate::import::{ColumnMap, Counts, Rejection};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

/// Contacts per INSERT statement (23 columns: under both backends' parameter caps).
pub const INSERT_ROWS: usize = 1000;

/// Refreshes the planner's statistics of the tables an import grows. PostgreSQL plans
/// from statistics that autovacuum gathers only a while after a bulk load; until then
/// queries over a freshly imported account (the dialer's claims, lists) can pick
/// whole-table plans. SQLite plans from its indexes without statistics: nothing to do.
pub async fn analyze_imported<C: ConnectionTrait>(db: &C) -> Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE contacts, campaign_members")
            .await?;
    }
    Ok(())
}

fn decode_batch(b: import_batch::Model) -> ImportBatch {
    let counts = Counts {
        rows: b.rows_read,
        imported: b.imported,
        updated: b.updated,
        duplicates_in_file: b.duplicates_in_file,
        duplicates_existing: b.duplicates_existing,
        invalid: b.invalid,
        over_limit: b.over_limit,
        dnc: b.dnc,
        dnc_excluded: b.dnc_excluded,
        added_to_campaign: b.added_to_campaign,
        rejected_not_stored: b.rejected_not_stored,
        rejected: b.rejected_by_kind(),
    };
    ImportBatch {
        mapping: ColumnMap::decode_list(&b.mapping),
        columns: serde_json::from_str(&b.header).unwrap_or_default(),
        counts,
        id: b.id,
        account_id: b.account_id,
        client_request_id: b.client_request_id,
        status: b.status,
        file_name: b.file_name,
        campaign_id: b.campaign_id,
        delimiter: b.delimiter,
        encoding: b.encoding,
        error_message: b.error_message,
        started_at: b.started_at,
        heartbeat_at: b.heartbeat_at,
        finished_at: b.finished_at,
    }
}

/// Inserts a new batch, running since `now`. A reused client request id surfaces as a
/// unique violation.
pub async fn insert_batch<C: ConnectionTrait>(
    db: &C,
    new: NewBatch,
    now: i64,
) -> Result<ImportBatch> {
    let model = import_batch::Model {
        id: new.id,
        account_id: new.account_id,
        client_request_id: new.client_request_id,
        status: ImportStatus::Running,
        file_name: new.file_name,
        campaign_id: new.campaign_id,
        mapping: ColumnMap::encode_list(&new.mapping),
        delimiter: new.delimiter,
        encoding: new.encoding,
        header: serde_json::to_string(&new.columns).expect("strings serialize"),
        rows_read: 0,
        imported: 0,
        updated: 0,
        duplicates_in_file: 0,
        duplicates_existing: 0,
        invalid: 0,
        over_limit: 0,
        dnc: 0,
        dnc_excluded: 0,
        added_to_campaign: 0,
        rejected_not_stored: 0,
        rejected_invalid_phone: 0,
        rejected_missing_phone: 0,
        rejected_invalid_email: 0,
        rejected_invalid_country: 0,
        rejected_invalid_field: 0,
        rejected_ragged_row: 0,
        rejected_field_too_long: 0,
        rejected_malformed_csv: 0,
        error_message: String::new(),
        started_at: now,
        heartbeat_at: now,
        finished_at: None,
    };
    let active: import_batch::ActiveModel = model.into();
    Ok(decode_batch(active.insert(db).await?))
}

/// One batch of the account, or NOT_FOUND.
pub async fn get_batch<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    id: &str,
) -> Result<ImportBatch> {
    import_batch::Entity::find_by_id(id.to_owned())
        .filter(import_batch::Column::AccountId.eq(account_id))
        .one(db)
        .await?
        .map(decode_batch)
        .ok_or_else(|| Error::not_found("import batch", id))
}

/// The account's batch started with `request_id`, if any.
pub async fn find_by_request<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    request_id: &str,
) -> Result<Option<ImportBatch>> {
    Ok(import_batch::Entity::find()
        .filter(import_batch::Column::AccountId.eq(account_id))
        .filter(import_batch::Column::ClientRequestId.eq(request_id))
        .one(db)
        .await?
        .map(decode_batch))
}

/// A page of the account's batches, newest first, after the keyset cursor
/// `(started_at, id)` of the previous page's last batch.
pub async fn list_batches<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    after: Option<(i64, String)>,
    limit: u64,
) -> Result<Vec<ImportBatch>> {
    use import_batch::Column;
    let mut query = import_batch::Entity::find().filter(Column::AccountId.eq(account_id));
    if let Some((started, id)) = after {
        query = query.filter(
            Condition::any().add(Column::StartedAt.lt(started)).add(
                Condition::all()
                    .add(Column::StartedAt.eq(started))
                    .add(Column::Id.lt(id)),
            ),
        );
    }
    Ok(query
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(decode_batch)
        .collect())
}

/// Adds a committed chunk's counts and refreshes the heartbeat. False when the batch is
/// no longer running (e.g. marked failed as interrupted): the caller must roll back.
pub async fn add_counts<C: ConnectionTrait>(
    db: &C,
    batch_id: &str,
    d: &Counts,
    now: i64,
) -> Result<bool> {
    use import_batch::Column;
    let add = |c: Column, v: i64| (c, Expr::col(c).add(v));
    let mut update = import_batch::Entity::update_many();
    for (col, expr) in [
        add(Column::RowsRead, d.rows),
        add(Column::Imported, d.imported),
        add(Column::Updated, d.updated),
        add(Column::DuplicatesInFile, d.duplicates_in_file),
        add(Column::DuplicatesExisting, d.duplicates_existing),
        add(Column::Invalid, d.invalid),
        add(Column::OverLimit, d.over_limit),
        add(Column::Dnc, d.dnc),
        add(Column::DncExcluded, d.dnc_excluded),
        add(Column::AddedToCampaign, d.added_to_campaign),
        add(Column::RejectedNotStored, d.rejected_not_stored),
    ] {
        update = update.col_expr(col, expr);
    }
    // `over_limit` is added above: its kind's column is the same.
    for kind in Rejection::ALL.into_iter().filter(|k| k.is_invalid()) {
        let (col, expr) = add(
            import_batch::rejected_column(kind),
            d.rejected[kind.index()],
        );
        update = update.col_expr(col, expr);
    }
    let res = update
        .col_expr(Column::HeartbeatAt, Expr::value(now))
        .filter(Column::Id.eq(batch_id))
        .filter(Column::Status.eq(ImportStatus::Running))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Marks a running batch alive.
pub async fn heartbeat<C: ConnectionTrait>(db: &C, batch_id: &str, now: i64) -> Result<()> {
    import_batch::Entity::update_many()
        .col_expr(import_batch::Column::HeartbeatAt, Expr::value(now))
        .filter(import_batch::Column::Id.eq(batch_id))
        .filter(import_batch::Column::Status.eq(ImportStatus::Running))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends a running batch with `status` (a batch that already ended keeps its end).
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    batch_id: &str,
    new_status: ImportStatus,
    error_message: &str,
    encoding: Option<&str>,
    now: i64,
) -> Result<()> {
    use import_batch::Column;
    let mut update = import_batch::Entity::update_many()
        .col_expr(Column::Status, Expr::value(new_status))
        .col_expr(Column::ErrorMessage, Expr::value(error_message))
        .col_expr(Column::FinishedAt, Expr::value(now))
        .col_expr(Column::HeartbeatAt, Expr::value(now));
    if let Some(e) = encoding {
        update = update.col_expr(Column::Encoding, Expr::value(e));
    }
    update
        .filter(Column::Id.eq(batch_id))
        .filter(Column::Status.eq(ImportStatus::Running))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks batches still running with a heartbeat older than `stale_before` as failed;
/// returns how many.
pub async fn fail_stale<C: ConnectionTrait>(
    db: &C,
    stale_before: i64,
    now: i64,
    message: &str,
) -> Result<u64> {
    use import_batch::Column;
    let res = import_batch::Entity::update_many()
        .col_expr(Column::Status, Expr::value(ImportStatus::Failed))
        .col_expr(Column::ErrorMessage, Expr::value(message))
        .col_expr(Column::FinishedAt, Expr::value(now))
        .filter(Column::Status.eq(ImportStatus::Running))
        .filter(Column::HeartbeatAt.lt(stale_before))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// A contact an import inserted: its new id and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    pub phone: String,
}

fn inserted(row: &sea_orm::QueryResult) -> Result<Inserted> {
    Ok(Inserted {
        id: row.try_get("", "id")?,
        phone: row.try_get("", "phone")?,
    })
}

/// What an insert of contacts did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewRows {
    /// Every row given was inserted. Their ids were not asked for, so not read.
    All,
    /// The rows inserted with their ids; the others' numbers were stored already.
    Rows(Vec<Inserted>),
}

/// Inserts contacts, skipping numbers the account already has (stored before, or by a
/// concurrent transaction), inside the caller's write transaction. The caller learns
/// the duplicates, and with `ids` the new ids, without reading the numbers first.
/// PostgreSQL: [`insert_contacts_pg`] (always with ids); SQLite:
/// [`insert_contacts_sqlite`].
pub async fn insert_contacts<C: ConnectionTrait>(
    db: &C,
    rows: Vec<super::contacts::NewRow>,
    ids: bool,
) -> Result<NewRows> {
    let rows = rows.into_iter().map(|r| r.0).collect();
    match super::backend(db) {
        DbBackend::Postgres => Ok(NewRows::Rows(insert_contacts_pg(db, rows).await?)),
        _ => insert_contacts_sqlite(db, rows, ids).await,
    }
}

/// The columns an import writes: all but the generated id.
fn inserted_columns() -> impl Iterator<Item = contact::Column> {
    use sea_orm::Iterable;
    contact::Column::iter().filter(|c| !matches!(c, contact::Column::Id))
}

/// A row's value for `col`, moved out (not cloned) into the statement's parameters.
fn take_value(
    row: &mut contact::ActiveModel,
    col: contact::Column,
) -> Result<sea_orm::sea_query::Value> {
    use sea_orm::IdenStatic;
    row.take(col)
        .into_value()
        .ok_or_else(|| Error::Internal(format!("contact row without a value for {}", col.as_str())))
}

/// PostgreSQL: one statement per chunk whose rows travel as one array parameter per
/// column (PostgreSQL's binary array format), turned back into rows by `unnest`; a
/// column holding NULLs also sends a mask. Measured on a 1,000,000-row import (2,000-row
/// chunks): 22.8 s of INSERT time this way, 26.8 s as multi-row `INSERT … VALUES` with a
/// bind parameter per cell.
async fn insert_contacts_pg<C: ConnectionTrait>(
    db: &C,
    mut rows: Vec<contact::ActiveModel>,
) -> Result<Vec<Inserted>> {
    use sea_orm::IdenStatic;
    use sea_orm::sea_query::{ArrayType, Value};
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut names = Vec::new();
    let mut selects = Vec::new();
    let mut unnest = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    for col in inserted_columns() {
        let mut values = Vec::with_capacity(rows.len());
        for row in rows.iter_mut() {
            values.push(take_value(row, col)?);
        }
        let (ty, sql_ty) = match &values[0] {
            Value::String(_) => (ArrayType::String, "text[]"),
            Value::BigInt(_) => (ArrayType::BigInt, "int8[]"),
            Value::Int(_) => (ArrayType::Int, "int4[]"),
            Value::Bool(_) => (ArrayType::Bool, "bool[]"),
            other => {
                return Err(Error::Internal(format!(
                    "no array type for {} ({other:?})",
                    col.as_str()
                )));
            }
        };
        let has_nulls = values.iter().any(|v| !v.is_some());
        let mut nulls = Vec::new();
        let values = values
            .into_iter()
            .map(|v| {
                nulls.push(Value::from(!v.is_some()));
                if v.is_some() { v } else { v.dummy_value() }
            })
            .collect();
        names.push(col.as_str());
        params.push(Value::Array(ty, Some(Box::new(values))));
        let value = params.len();
        unnest.push(format!("${value}::{sql_ty}"));
        if has_nulls {
            params.push(Value::Array(ArrayType::Bool, Some(Box::new(nulls))));
            unnest.push(format!("${}::bool[]", params.len()));
            selects.push(format!(
                "CASE WHEN a{} THEN NULL ELSE a{value} END",
                params.len()
            ));
        } else {
            selects.push(format!("a{value}"));
        }
    }
    let aliases: Vec<String> = (1..=params.len()).map(|i| format!("a{i}")).collect();
    let sql = format!(
        "INSERT INTO contacts ({}) SELECT {} FROM unnest({}) AS u({}) \
         ON CONFLICT (account_id, phone) DO NOTHING RETURNING id, phone",
        names.join(", "),
        selects.join(", "),
        unnest.join(", "),
        aliases.join(", "),
    );
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        params,
    ))
    .await?
    .iter()
    .map(inserted)
    .collect()
}

/// SQLite: multi-row statements of [`INSERT_ROWS`] (its planner handles them cheaply, and
/// the parameters stay under its cap). The statement text depends only on the number of
/// rows, so it is written once per size rather than built by the query builder per chunk
/// (which, with 22 values a row, cost more CPU than SQLite's own work), and the same text
/// keeps hitting the connection's prepared-statement cache.
///
/// Without `ids` the statements return nothing: when every row went in, the caller needs
/// no more, and handing a million `(id, phone)` rows back through the driver was a fifth
/// of a 1,000,000-row import's insert time (14.0–14.3 s of inserts without them against
/// 17.4–18.4 s with, alternating binaries). When some numbers were stored already, the
/// rows inserted are read back by id: `contacts.id` is AUTOINCREMENT, so every new id is
/// above the table's sequence as it stood before, and inside the caller's write
/// transaction (SQLite's one writer) no one else inserts.
async fn insert_contacts_sqlite<C: ConnectionTrait>(
    db: &C,
    rows: Vec<contact::ActiveModel>,
    ids: bool,
) -> Result<NewRows> {
    use std::sync::OnceLock;
    static RETURNING: OnceLock<String> = OnceLock::new();
    static SILENT: OnceLock<String> = OnceLock::new();
    let given = rows.len() as u64;
    let before = if ids { 0 } else { contact_sequence(db).await? };
    let columns: Vec<contact::Column> = inserted_columns().collect();
    let mut out = Vec::new();
    let mut affected = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut values = Vec::with_capacity(INSERT_ROWS * columns.len());
        let mut n = 0;
        for mut row in rows.by_ref().take(INSERT_ROWS) {
            for &col in &columns {
                values.push(take_value(&mut row, col)?);
            }
            n += 1;
        }
        let sql = match (n == INSERT_ROWS, ids) {
            (true, true) => RETURNING
                .get_or_init(|| insert_sql(&columns, INSERT_ROWS, true))
                .clone(),
            (true, false) => SILENT
                .get_or_init(|| insert_sql(&columns, INSERT_ROWS, false))
                .clone(),
            (false, returning) => insert_sql(&columns, n, returning),
        };
        let statement = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
        if ids {
            for row in db.query_all_raw(statement).await? {
                out.push(inserted(&row)?);
            }
        } else {
            affected += db.execute_raw(statement).await?.rows_affected();
        }
    }
    if ids {
        return Ok(NewRows::Rows(out));
    }
    if affected == given {
        return Ok(NewRows::All);
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT id, phone FROM contacts WHERE id > ?",
            [before.into()],
        ))
        .await?;
    Ok(NewRows::Rows(
        rows.iter().map(inserted).collect::<Result<_>>()?,
    ))
}

/// SQLite: the highest id `contacts` ever had (its AUTOINCREMENT sequence; 0 before the
/// first row).
async fn contact_sequence<C: ConnectionTrait>(db: &C) -> Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT seq FROM sqlite_sequence WHERE name = 'contacts'",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "seq")?,
        None => 0,
    })
}

/// `INSERT INTO contacts (…) VALUES (?, …), … ON CONFLICT … DO NOTHING` for `rows` rows,
/// with `RETURNING id, phone` when `returning`.
fn insert_sql(columns: &[contact::Column], rows: usize, returning: bool) -> String {
    use sea_orm::IdenStatic;
    let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    let row = format!("({})", vec!["?"; columns.len()].join(","));
    format!(
        "INSERT INTO contacts ({}) VALUES {} ON CONFLICT (account_id, phone) DO NOTHING{}",
        names.join(", "),
        vec![row; rows].join(","),
        if returning {
            " RETURNING id, phone"
        } else {
            ""
        }
    )
}

/// A rejected row ready to store, built by [`error_row`].
#[derive(Debug, Clone)]
pub struct NewError(import_error::ActiveModel);

/// The stored form of the rejected row at `line` of batch `batch_id`: its error and its
/// cells as read.
pub fn error_row(batch_id: &str, line: i64, e: &RowError, raw: &[String]) -> NewError {
    NewError(import_error::ActiveModel {
        id: NotSet,
        batch_id: Set(batch_id.to_string()),
        line: Set(line),
        column_name: Set(e.column.clone()),
        raw_value: Set(e.raw_value.clone()),
        reason: Set(e.reason.clone()),
        kind: Set(e.kind.to_string()),
        raw_record: Set(serde_json::to_string(raw).expect("strings serialize")),
    })
}

fn decode_error(e: import_error::Model) -> RejectedRow {
    RejectedRow {
        id: e.id,
        batch_id: e.batch_id,
        line: e.line,
        column: e.column_name,
        raw_value: e.raw_value,
        reason: e.reason,
        kind: e.kind,
        record: serde_json::from_str(&e.raw_record).unwrap_or_default(),
    }
}

/// Records rejected rows.
pub async fn insert_errors<C: ConnectionTrait>(db: &C, errors: Vec<NewError>) -> Result<()> {
    let mut errors = errors.into_iter().map(|e| e.0).peekable();
    while errors.peek().is_some() {
        // 8 columns: 1000 rows stay under SQLite's parameter cap.
        let part: Vec<_> = errors.by_ref().take(INSERT_ROWS).collect();
        import_error::Entity::insert_many(part)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// A page of a batch's rejected rows in line order, after the cursor `(line, id)`.
pub async fn list_errors<C: ConnectionTrait>(
    db: &C,
    batch_id: &str,
    after: Option<(i64, i64)>,
    limit: u64,
) -> Result<Vec<RejectedRow>> {
    use import_error::Column;
    let mut query = import_error::Entity::find().filter(Column::BatchId.eq(batch_id));
    if let Some((line, id)) = after {
        query = query.filter(
            Condition::any().add(Column::Line.gt(line)).add(
                Condition::all()
                    .add(Column::Line.eq(line))
                    .add(Column::Id.gt(id)),
            ),
        );
    }
    Ok(query
        .order_by_asc(Column::Line)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(decode_error)
        .collect())
}
