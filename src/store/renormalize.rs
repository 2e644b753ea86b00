//! The reads and writes of `contactd renormalize`: stored numbers in key order, and a
//! number rewritten in place.

use crate::entity::{contact, dnc_entry};
use crate::error::Result;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// A stored contact's number.
#[derive(Debug, Clone)]
pub struct StoredContact {
    pub id: i64,
    pub account_id: String,
    pub phone: String,
    pub phone_national: String,
}

/// Up to `limit` contacts after id `after`, in id order.
pub async fn contacts_after<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredContact>> {
    use contact::Column;
    let rows: Vec<(i64, String, String, String)> = contact::Entity::find()
        .select_only()
        .columns([
            Column::Id,
            Column::AccountId,
            Column::Phone,
            Column::PhoneNational,
        ])
        .filter(Column::Id.gt(after))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, account_id, phone, phone_national)| StoredContact {
            id,
            account_id,
            phone,
            phone_national,
        })
        .collect())
}

/// Up to `limit` DNC entries after `(account_id, phone)`, in that order.
pub async fn dnc_entries_after<C: ConnectionTrait>(
    db: &C,
    after: Option<(&str, &str)>,
    limit: u64,
) -> Result<Vec<(String, String)>> {
    use dnc_entry::Column;
    let mut query = dnc_entry::Entity::find()
        .select_only()
        .columns([Column::AccountId, Column::Phone]);
    if let Some((account, phone)) = after {
        query = query.filter(
            Condition::any().add(Column::AccountId.gt(account)).add(
                Condition::all()
                    .add(Column::AccountId.eq(account))
                    .add(Column::Phone.gt(phone)),
            ),
        );
    }
    Ok(query
        .order_by_asc(Column::AccountId)
        .order_by_asc(Column::Phone)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Moves a DNC entry from `old` to `new` (the caller checked `new` is not listed).
pub async fn move_dnc_entry<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    dnc_entry::Entity::update_many()
        .col_expr(dnc_entry::Column::Phone, Expr::value(new))
        .filter(dnc_entry::Column::AccountId.eq(account_id))
        .filter(dnc_entry::Column::Phone.eq(old))
        .exec(db)
        .await?;
    Ok(())
}

/// Lists `new` as `old` is listed (same source, reason, actor and time), keeping `old`:
/// a contact still holds the old spelling and stays DNC by it.
pub async fn copy_dnc_entry<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    use sea_orm::sea_query::{ExprTrait, Query};
    let mut select = Query::select();
    select
        .column(dnc_entry::Column::AccountId)
        .expr(Expr::val(new))
        .columns([
            dnc_entry::Column::Source,
            dnc_entry::Column::Reason,
            dnc_entry::Column::Actor,
            dnc_entry::Column::CreatedAt,
        ])
        .from(dnc_entry::Entity)
        .and_where(Expr::col(dnc_entry::Column::AccountId).eq(account_id))
        .and_where(Expr::col(dnc_entry::Column::Phone).eq(old));
    let mut insert = Query::insert();
    insert
        .into_table(dnc_entry::Entity)
        .columns(super::dnc::ENTRY_COLUMNS)
        .select_from(select)
        .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
    db.execute(&insert).await?;
    Ok(())
}
