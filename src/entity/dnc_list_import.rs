//! The `dnc_list_imports` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dnc_list_imports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub list_id: i64,
    pub request_id: Option<String>,
    pub status: String,
    pub replace_list: bool,
    pub lines_read: i64,
    pub added: i64,
    pub already_listed: i64,
    pub invalid: i64,
    pub removed: i64,
    /// The first invalid lines, one `LINE\tREASON` per line.
    pub first_invalid: String,
    pub error: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
