//! The `contacts` table.

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
    pub status: String,
    pub dnc_source: String,
    pub dnc_at: Option<i64>,
    pub call_count: i64,
    pub last_called_at: Option<i64>,
    pub last_outcome: String,
    pub total_talk_seconds: i64,
    pub import_batch_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
