//! Reads for ExportContacts, meant to run inside one snapshot transaction
//! ([`super::begin_snapshot`]): the distinct custom-field keys of a selection (for the
//! header), keyset pages of contacts in id order, and the campaigns of a page.

use crate::domain::filter::Selection;
use crate::entity::{campaign_member, contact};
use crate::error::{Error, Result};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement,
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

/// The campaigns of each of `contact_ids` (ascending, as a page comes), sorted per
/// contact; contacts in none are absent.
///
/// A dense page (the usual case: a full or broad export) is looked up as one index range
/// on `contact_id` and the few members of contacts outside the page are dropped here;
/// successive pages cover disjoint ranges, so a whole export reads each membership once.
/// A sparse page (a narrow filter across a wide id range) sends its ids as a list
/// instead, so one page never drags in the memberships of the whole range.
pub async fn campaigns<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>> {
    use campaign_member::Column;
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    let (Some(&first), Some(&last)) = (contact_ids.first(), contact_ids.last()) else {
        return Ok(out);
    };
    let mut query = campaign_member::Entity::find()
        .select_only()
        .column(Column::ContactId)
        .column(Column::CampaignId)
        .filter(Column::AccountId.eq(account_id));
    let dense = last - first < DENSE_SPAN * contact_ids.len() as i64;
    query = if dense {
        query
            .filter(Column::ContactId.gte(first))
            .filter(Column::ContactId.lte(last))
    } else {
        query.filter(Column::ContactId.is_in(contact_ids.iter().copied()))
    };
    let rows: Vec<(i64, String)> = query
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
