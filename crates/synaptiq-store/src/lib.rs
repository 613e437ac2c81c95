//! The only crate that knows SQL.
//!
//! # Layout
//! - [`model`]: the records the store hands out (organizations, keys, users, audit events).
//! - [`traits`]: the `Store` traits: one contract per resource, documented; handlers hold an
//!   `Arc<dyn Store>` and are never generic over the database.
//! - [`sqlite`]: the embedded SQLite implementation (WAL, foreign keys, busy timeout).
//! - [`open`]: picks the backend from the database URL's scheme.
//!
//! Every query on customer data filters on (organization, environment); there is no "get by
//! id" without both. SQL uses `$1` placeholders, `RETURNING` and `ON CONFLICT`, which both
//! SQLite and PostgreSQL understand, so the PostgreSQL backend is an addition.

pub mod model;
pub mod open;
pub mod sqlite;
pub mod traits;

pub use model::*;
pub use open::{OpenError, open};
pub use traits::{AuditStore, KeyStore, LeadStore, OrgStore, Store, StoreError, UserStore};
