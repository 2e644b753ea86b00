//! SeaORM entities, one per table of `migrations/sql`. Only `store` uses them.

pub mod account;
pub mod api_key;
pub mod call;
pub mod call_request;
pub mod callback;
pub mod campaign_member;
pub mod consent;
pub mod contact;
pub mod dial_state;
pub mod dnc_entry;
pub mod dnc_event;
pub mod dnc_list;
pub mod dnc_list_entry;
pub mod dnc_list_import;
pub mod import_batch;
pub mod import_error;
