//! Reads for ExportContacts, meant to run inside one snapshot transaction
//! ([`super::begin_snapshot`]): the distinct custom-field keys of a selection (for the
//! header), keyset pages of contacts in id order, and the campaigns and newest live
//! consent of a page's contacts (one query per page each, never one per row).

use crate::domain::consent::{ConsentKind, LatestConsent};
use crate::domain::filter::Selection;
use crate::entity::{campaign_member, consent, contact};
use crate::error::{Error, Result};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};
use std::collections::{BTreeSet, HashMap};

/// The distinct custom-field keys over the selected contacts, sorted.
///
/// The JSON is taken apart by the database (one pass, no rows shipped): PostgreSQL with
/// `json_object_keys`, SQLite with its `json_each` twin. Both run on the same inner
/// query built from the selection's condition.
pub async fn custom_keys<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    selection: &Selection,
) -> Result<Vec<String>> {
    let backend = db.get_database_backend();
    let inner = contact::Entity::find()
        .select_only()
        .column(contact::Column::CustomFields)
        .filter(super::filter::selection_condition(account_id, selection))
        .filter(contact::Column::CustomFields.ne("{}"))
        .build(backend);
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT DISTINCT json_object_keys(s.custom_fields::json) AS k FROM ({}) AS s",
            inner.sql
        ),
        DbBackend::Sqlite => format!(
            "SELECT DISTINCT j.key AS k FROM ({}) AS s, json_each(s.custom_fields) AS j",
            inner.sql
        ),
        other => return Err(Error::Internal(format!("unsupported backend {other:?}"))),
    };
    let stmt = match inner.values {
        Some(values) => Statement::from_sql_and_values(backend, sql, values),
        None => Statement::from_string(backend, sql),
    };
    let mut keys = BTreeSet::new();
    for row in db.query_all_raw(stmt).await? {
        keys.insert(row.try_get::<String>("", "k")?);
    }
    Ok(keys.into_iter().collect())
}

/// Up to `limit` selected contacts with ids above `after_id`, in id order (keyset paging:
/// each page is one index range, however far into the export).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    selection: &Selection,
    after_id: i64,
    limit: u64,
) -> Result<Vec<contact::Model>> {
    Ok(contact::Entity::find()
        .filter(super::filter::selection_condition(account_id, selection))
        .filter(contact::Column::Id.gt(after_id))
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A page whose ids span at most this many times its length is "dense": its campaigns
/// are read by id range rather than by an id list.
const DENSE_SPAN: i64 = 8;

/// The rows of a page's contacts in a table keyed by contact: `column` bounded to the
/// page, and whether a row's contact must still be checked against the page's ids.
///
/// A dense page (the usual case: a full or broad export) is looked up as one index range
/// on the contact id and the few rows of contacts outside the page are dropped by the
/// caller; successive pages cover disjoint ranges, so a whole export reads each row once.
/// A sparse page (a narrow filter across a wide id range) sends its ids as a list
/// instead, so one page never drags in the rows of the whole range.
fn within_page(column: impl ColumnTrait, contact_ids: &[i64]) -> Option<(Condition, bool)> {
    let (&first, &last) = (contact_ids.first()?, contact_ids.last()?);
    let dense = last - first < DENSE_SPAN * contact_ids.len() as i64;
    let bound = if dense {
        Condition::all()
            .add(column.gte(first))
            .add(column.lte(last))
    } else {
        Condition::all().add(column.is_in(contact_ids.iter().copied()))
    };
    Some((bound, dense))
}

/// The campaigns of each of `contact_ids` (ascending, as a page comes), sorted per
/// contact; contacts in none are absent. See [`within_page`].
pub async fn campaigns<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>> {
    use campaign_member::Column;
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    let Some((bound, dense)) = within_page(Column::ContactId, contact_ids) else {
        return Ok(out);
    };
    let rows: Vec<(i64, String)> = campaign_member::Entity::find()
        .select_only()
        .column(Column::ContactId)
        .column(Column::CampaignId)
        .filter(Column::AccountId.eq(account_id))
        .filter(bound)
        .order_by_asc(Column::ContactId)
        .order_by_asc(Column::CampaignId)
        .into_tuple()
        .all(db)
        .await?;
    for (id, campaign) in rows {
        if !dense || contact_ids.binary_search(&id).is_ok() {
            out.entry(id).or_default().push(campaign);
        }
    }
    Ok(out)
}

/// The newest (by capture time, then id) consent record live at `now` of each of
/// `contact_ids` (ascending); contacts with none are absent. See [`within_page`].
pub async fn latest_consents<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_ids: &[i64],
    now: i64,
) -> Result<HashMap<i64, LatestConsent>> {
    use consent::Column;
    let mut out = HashMap::new();
    let Some((bound, dense)) = within_page(Column::ContactId, contact_ids) else {
        return Ok(out);
    };
    let rows: Vec<(i64, String, i64, String)> = consent::Entity::find()
        .select_only()
        .column(Column::ContactId)
        .column(Column::Kind)
        .column(Column::CapturedAt)
        .column(Column::Source)
        .filter(Column::AccountId.eq(account_id))
        .filter(bound)
        .filter(Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.is_null())
                .add(Column::ExpiresAt.gt(now)),
        )
        .order_by_asc(Column::ContactId)
        .order_by_desc(Column::CapturedAt)
        .order_by_desc(Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for (id, kind, captured_at, source) in rows {
        if !dense || contact_ids.binary_search(&id).is_ok() {
            out.entry(id).or_insert_with(|| LatestConsent {
                kind: ConsentKind::from_stored(&kind),
                captured_at,
                source,
            });
        }
    }
    Ok(out)
}
