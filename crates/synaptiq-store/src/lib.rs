//! The only crate that knows SQL.
//!
//! # Layout
//! - [`model`]: the records the store hands out (organizations, keys, users, sessions, usage
//!   counters, audit events).
//! - [`traits`]: the `Store` traits: one contract per resource, documented; handlers hold an
//!   `Arc<dyn Store>` and are never generic over the database.
//! - [`sqlite`]: the embedded SQLite implementation (WAL, foreign keys, busy timeout).
//! - [`postgres`]: the PostgreSQL implementation (row locks where SQLite relies on its single
//!   writer).
//! - `shared`: the trait implementations, written once as macros both backends expand;
//!   `sql`: the SQL text both backends run verbatim; `rows`: rows to records, written once
//!   for both row types.
//! - [`open`]: picks the backend from the database URL's scheme; pool settings.
//!
//! Every query on customer data filters on (organization, environment); there is no "get by
//! id" without both. SQL uses `$1` placeholders, `RETURNING` and `ON CONFLICT`, which both
//! SQLite and PostgreSQL understand; `tests/conformance.rs` runs one suite against both.

mod batch;
pub mod model;
pub mod open;
pub mod postgres;
mod rows;
mod shared;
mod sql;
pub mod sqlite;
pub mod traits;

pub use model::*;
pub use open::{OpenError, OpenOptions, open, open_with};
pub use traits::{
    AuditStore, KeyStore, LeadStore, OrgStore, SessionStore, Store, StoreError, UsageStore,
    UserStore,
};
