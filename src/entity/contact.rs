//! The `contacts` table.

use crate::domain::ContactStatus;
use sea_orm::Iterable;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub phone: String,
    pub phone_national: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: String,
    pub title: String,
    pub name_key: String,
    pub last_key: String,
    pub custom_fields: String,
    pub time_zone: String,
    pub status: ContactStatus,
    pub dnc_source: String,
    pub dnc_at: Option<i64>,
    pub call_count: i64,
    pub last_called_at: Option<i64>,
    pub last_outcome: String,
    pub total_talk_seconds: i64,
    pub import_batch_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Digits sent after connect ("" for none).
    pub phone_extension: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Decodes a row whose columns from `first` on are the table's in [`Column`] order
    /// (what [`select_columns`] lists), by position. The derived decoder looks every
    /// column up by name: on a claim's 100 leased contacts that lookup was most of the
    /// decoding, itself the largest part of the server's CPU time per claim.
    pub fn from_columns_at(row: &QueryResult, first: usize) -> Result<Self, DbErr> {
        fn at<T: sea_orm::TryGetable>(row: &QueryResult, i: &mut usize) -> Result<T, DbErr> {
            let v = row.try_get_by_index(*i)?;
            *i += 1;
            Ok(v)
        }
        let mut i = first;
        // Field order is [`Column`]'s (the struct's): a test compares this with the
        // derived decoder on a stored contact.
        Ok(Model {
            id: at(row, &mut i)?,
            account_id: at(row, &mut i)?,
            phone: at(row, &mut i)?,
            phone_national: at(row, &mut i)?,
            first_name: at(row, &mut i)?,
            last_name: at(row, &mut i)?,
            email: at(row, &mut i)?,
            company: at(row, &mut i)?,
            title: at(row, &mut i)?,
            name_key: at(row, &mut i)?,
            last_key: at(row, &mut i)?,
            custom_fields: at(row, &mut i)?,
            time_zone: at(row, &mut i)?,
            status: at(row, &mut i)?,
            dnc_source: at(row, &mut i)?,
            dnc_at: at(row, &mut i)?,
            call_count: at(row, &mut i)?,
            last_called_at: at(row, &mut i)?,
            last_outcome: at(row, &mut i)?,
            total_talk_seconds: at(row, &mut i)?,
            import_batch_id: at(row, &mut i)?,
            created_at: at(row, &mut i)?,
            updated_at: at(row, &mut i)?,
            phone_extension: at(row, &mut i)?,
        })
    }
}

/// Every column of the table, in [`Column`] order, qualified by the table: the select
/// list that [`Model::from_columns_at`] decodes.
pub fn select_columns() -> impl Iterator<Item = (Entity, Column)> {
    Column::iter().map(|c| (Entity, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::Query;
    use sea_orm::{ActiveValue::Set, ConnectionTrait};

    /// Every column distinct, so that decoding one field from another's position fails.
    #[tokio::test]
    async fn decoding_by_position_matches_decoding_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        crate::store::migrate(&url).await.unwrap();
        let db = crate::store::connect(&url, 1).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO accounts (id, name, plan, contact_limit, contact_count, default_region, \
             created_at, updated_at) VALUES ('a', 'n', 'CUSTOM', 10, 0, 'US', 0, 0)",
        )
        .await
        .unwrap();
        let text = |s: &str| Set(s.to_string());
        let inserted = ActiveModel {
            account_id: text("a"),
            phone: text("+12125550123"),
            phone_national: text("2125550123"),
            first_name: text("first"),
            last_name: text("last"),
            email: text("e@x.io"),
            company: text("company"),
            title: text("title"),
            name_key: text("name key"),
            last_key: text("last key"),
            custom_fields: text(r#"{"k":"v"}"#),
            time_zone: text("America/Chicago"),
            status: Set(ContactStatus::Dnc),
            dnc_source: text("MANUAL"),
            dnc_at: Set(Some(7)),
            call_count: Set(3),
            last_called_at: Set(Some(11)),
            last_outcome: text("BUSY"),
            total_talk_seconds: Set(13),
            import_batch_id: Set(Some("batch".into())),
            created_at: Set(17),
            updated_at: Set(19),
            phone_extension: text("22"),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let q = Query::select()
            .expr(sea_orm::sea_query::Expr::val(0))
            .columns(select_columns())
            .from(Entity)
            .to_owned();
        let row = db.query_one(&q).await.unwrap().unwrap();
        assert_eq!(Model::from_columns_at(&row, 1).unwrap(), inserted);
    }
}
