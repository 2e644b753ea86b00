//! contactd — the contact database of an AI voice-calling platform, as a gRPC service.
//!
//! A tour, from the wire inwards:
//!
//! - [`grpc`]: tonic handlers. Each validates the request, converts it to domain values,
//!   calls one service function and converts the answer back.
//! - [`service`]: the use cases and their transactions (plan limits, DNC rules, leases),
//!   over domain types and one [`store::Store`] handle (the dialer's claims in
//!   `service::dialer`, CheckDialable and PreviewDialable in `service::dialable`).
//! - [`store`]: SeaORM queries; the only module that knows tables, builds rows and
//!   decodes them into domain types, and picks the connection for each kind of work
//!   ([`store::Store`]). Backend-specific SQL lives here, one function per need with its
//!   SQLite twin beside it.
//! - [`entity`]: the SeaORM entities of the schema in `migrations/`.
//! - [`domain`]: what the layers exchange (accounts, contacts, calls, consents, DNC
//!   entries and lists, import batches), values parsed once at the edge (phone numbers,
//!   emails, plans, filters) and one enum per stored state, stored by explicit value.
//! - [`import`]: the streaming import pipeline for CSV files and Excel/ODS workbooks
//!   (decode, records, header synonyms, per-row countries, mapping; the parsing worker
//!   in `import::pipeline`, with its rows and checks in submodules).
//! - [`error`]: the one error type and its one mapping to gRPC status codes.
//! - [`export`]: the CSV side of exports (columns, formula-injection neutralization,
//!   chunking); the service feeds it pages read from one snapshot.
//! - [`metrics`]: the Prometheus metrics (RPCs, imported rows, active leases) and the
//!   `/metrics` endpoint served beside gRPC when `--metrics-listen` is given.
//! - [`cli`]: the subcommands — `serve`, `migrate`, `keys`, `renormalize` on the
//!   database, `import`, `preview` and `export` as clients of a running server.
//! - [`startup`], [`config`], [`telemetry`]: running it.
//!
//! The service is stateless: every replica may serve every request, and all coordination
//! (plan limits, dialer leases) happens in the database.

pub mod cli;
pub mod config;
pub mod domain;
pub mod entity;
pub mod error;
pub mod export;
pub mod grpc;
pub mod import;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;

/// The generated protobuf types, client and server of `contacts.v1`.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("contacts.v1");
    /// The encoded descriptor set served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("contacts_descriptor");
}
