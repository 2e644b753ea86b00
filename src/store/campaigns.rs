//! Campaign membership and the per-campaign attempt data. Campaigns themselves
//! belong to the campaign service; only their ids are stored here.

use crate::domain::filter::Selection;
use crate::entity::{campaign_member, contact};
use crate::error::Result;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use std::collections::HashSet;

/// A selected contact: id, phone (E.164) and stored status.
pub type Selected = (i64, String, String);

/// The next page of a selection in ascending id order after `after_id` (keyset), so a bulk
/// action can walk a large filter in bounded transactions.
pub async fn selected_contacts<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    selection: &Selection,
    after_id: i64,
    limit: u64,
) -> Result<Vec<Selected>> {
    Ok(contact::Entity::find()
        .select_only()
        .columns([
            contact::Column::Id,
            contact::Column::Phone,
            contact::Column::Status,
        ])
        .filter(super::filter::selection_condition(account_id, selection))
        .filter(contact::Column::Id.gt(after_id))
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

fn of_campaign(account_id: &str, campaign_id: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(campaign_member::Column::AccountId.eq(account_id))
        .add(campaign_member::Column::CampaignId.eq(campaign_id))
}

/// Which of `ids` are members of the campaign.
pub async fn members_among<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    ids: &[i64],
) -> Result<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<i64> = campaign_member::Entity::find()
        .select_only()
        .column(campaign_member::Column::ContactId)
        .filter(of_campaign(account_id, campaign_id))
        .filter(campaign_member::Column::ContactId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Adds members (already-members are left alone); returns how many were added.
///
/// Rows go in in contact-id order whoever the caller is (AddToCampaign walks ids, an
/// import chunk meets its stored numbers in number order), so two transactions adding
/// overlapping contacts to one campaign wait for each other on the unique index
/// instead of deadlocking on it (PostgreSQL).
pub async fn add_members<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    ids: &[i64],
    now: i64,
) -> Result<u64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    let mut added = 0;
    for part in ids.chunks(super::KEYS_PER_STATEMENT) {
        let rows = part.iter().map(|id| campaign_member::ActiveModel {
            account_id: Set(account_id.to_string()),
            campaign_id: Set(campaign_id.to_string()),
            contact_id: Set(*id),
            attempts: Set(0),
            last_attempt_at: Set(None),
            added_at: Set(now),
        });
        let res = campaign_member::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec_without_returning(db)
            .await?;
        if let sea_orm::TryInsertResult::Inserted(n) = res {
            added += n;
        }
    }
    Ok(added)
}

/// Removes members; returns how many were removed.
pub async fn remove_members<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    ids: &[i64],
) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let res = campaign_member::Entity::delete_many()
        .filter(of_campaign(account_id, campaign_id))
        .filter(campaign_member::Column::ContactId.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// One membership.
pub async fn member<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    contact_id: i64,
) -> Result<Option<campaign_member::Model>> {
    Ok(campaign_member::Entity::find()
        .filter(of_campaign(account_id, campaign_id))
        .filter(campaign_member::Column::ContactId.eq(contact_id))
        .one(db)
        .await?)
}

/// Counts an attempt at `started_at` (the later of it and any earlier attempt stays the
/// last one). The person's lease is `store::leases`' business.
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    campaign_id: &str,
    contact_id: i64,
    started_at: i64,
) -> Result<bool> {
    use campaign_member::Column;
    use sea_orm::sea_query::{CaseStatement, ExprTrait};
    let newer = Expr::col(Column::LastAttemptAt)
        .is_null()
        .or(Expr::col(Column::LastAttemptAt).lt(started_at));
    let last = CaseStatement::new()
        .case(newer, Expr::val(started_at))
        .finally(Expr::col(Column::LastAttemptAt));
    let res = campaign_member::Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastAttemptAt, last.into())
        .filter(of_campaign(account_id, campaign_id))
        .filter(Column::ContactId.eq(contact_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}
