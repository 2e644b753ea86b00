//! The integration test suite: every test drives a real server over gRPC, once on SQLite
//! and once on PostgreSQL (when `CONTACTD_TEST_PG_URL` is set; otherwise the PostgreSQL
//! variants are reported as ignored with that reason).

#[macro_use]
mod helpers;

mod accounts;
mod auth;
mod bounds;
mod callbacks;
mod calling_rules;
mod calls;
mod checker;
mod cli;
mod consent;
mod contacts;
mod dialer;
mod dialer_safety;
mod dnc;
mod dnc_lists;
mod export;
mod faults;
mod filters;
mod fuzz;
mod import;
mod import_batches;
mod import_csv;
mod import_duplicates;
mod import_formats;
mod import_limits;
mod interleavings;
mod phone_corpus;
mod phones;
mod renormalize;
mod request_fuzz;
mod server;
mod tls;
mod upgrade;
