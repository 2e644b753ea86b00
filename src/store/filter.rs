//! Turns a [`ContactFilter`] into a SeaORM condition on `contacts`.
//!
//! Search is a prefix match done as byte-ordered range predicates (`key >= p AND key < p'`)
//! on key columns that are byte-ordered on both backends (COLLATE "C" on PostgreSQL), so
//! each arm is an index range scan on `(account_id, key)`.

use crate::domain::filter::{ContactFilter, SearchQuery, Selection, prefix_upper_bound};
use crate::entity::{campaign_member, contact};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, IntoCondition},
};

/// `col` starts with `prefix`, as an index-friendly range.
fn starts_with(col: contact::Column, prefix: &str) -> Condition {
    let mut cond = Condition::all().add(col.gte(prefix));
    if let Some(upper) = prefix_upper_bound(prefix) {
        cond = cond.add(col.lt(upper));
    }
    cond
}

/// The condition for `filter` within `account_id`.
pub fn condition(account_id: &str, filter: &ContactFilter) -> Condition {
    use contact::Column;
    let mut cond = Condition::all().add(Column::AccountId.eq(account_id));
    match &filter.query {
        Some(SearchQuery::Digits(digits)) => {
            cond = cond.add(
                Condition::any()
                    .add(starts_with(Column::PhoneNational, digits))
                    .add(starts_with(Column::Phone, &format!("+{digits}"))),
            );
        }
        Some(SearchQuery::Name(name)) => {
            cond = cond.add(
                Condition::any()
                    .add(starts_with(Column::NameKey, name))
                    .add(starts_with(Column::LastKey, name)),
            );
        }
        None => {}
    }
    if let Some(status) = filter.status {
        cond = cond.add(Column::Status.eq(status.as_str()));
    }
    if let Some(campaign) = &filter.campaign_id {
        let members = campaign_member::Entity::find()
            .select_only()
            .column(campaign_member::Column::ContactId)
            .filter(campaign_member::Column::AccountId.eq(account_id))
            .filter(campaign_member::Column::CampaignId.eq(campaign.as_str()))
            .into_query();
        cond = cond.add(Expr::col((contact::Entity, Column::Id)).in_subquery(members));
    }
    if let Some(after) = filter.last_called_after {
        cond = cond.add(Column::LastCalledAt.gte(after));
    }
    if let Some(before) = filter.last_called_before {
        cond = cond.add(Column::LastCalledAt.lt(before));
    }
    if filter.never_called {
        cond = cond.add(Column::LastCalledAt.is_null());
    }
    cond
}

/// The condition for a selection (ids or filter) within `account_id`.
pub fn selection_condition(account_id: &str, selection: &Selection) -> Condition {
    match selection {
        Selection::Ids(ids) => Condition::all()
            .add(contact::Column::AccountId.eq(account_id))
            .add(contact::Column::Id.is_in(ids.iter().copied()))
            .into_condition(),
        Selection::Filter(filter) => condition(account_id, filter),
    }
}
