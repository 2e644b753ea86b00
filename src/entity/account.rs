//! The `accounts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub plan: String,
    pub contact_limit: i64,
    pub contact_count: i64,
    pub default_region: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub max_calls_per_day: i32,
    pub max_calls_per_week: i32,
    pub min_call_spacing_seconds: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
