//! The only crate that knows SQL.
//!
//! # Layout
//! One folder per resource — [`orgs`], [`users`] (dashboard users and sessions), [`keys`],
//! [`peppers`], [`usage`], [`leads`], [`events`] — each holding its storage trait and the records it
//! speaks (`mod.rs`), its SQL and row mapping (`sql.rs`), and its implementation written once
//! as a macro both backends expand (`imp.rs`). Around them:
//! - [`store`]: `Store`, every resource trait at once, and the macro that implements them all
//!   for one backend; handlers hold an `Arc<dyn Store>` and are never generic over the
//!   database.
//! - [`sqlite`] and [`postgres`]: each backend's hooks (writer, locks, sweeps, migrations).
//! - [`open`]: picks the backend from the database URL's scheme; pool settings.
//! - `error`, `db` (row reads and SQL helpers every resource uses), `batch` (multi-row
//!   statements of the usage flush).
//!
//! Every query on customer data filters on (organization, environment); there is no "get by
//! id" without both. SQL uses `$1` placeholders, `RETURNING` and `ON CONFLICT`, which both
//! SQLite and PostgreSQL understand; the conformance suite (`tests/conformance/`, one case
//! list per resource) runs against both.

mod batch;
mod db;
mod error;
pub mod events;
pub mod keys;
pub mod leads;
pub mod open;
pub mod orgs;
pub mod peppers;
pub mod postgres;
pub mod sqlite;
pub mod store;
pub mod usage;
pub mod users;
pub mod webhooks;

pub use error::{Result, StoreError};
pub use events::{Actor, AuditFilter, AuditStore, EventRecord, NewEvent, Subject};
pub use keys::{AuthRecord, KeyRecord, KeyStore, NewKey, RotateOutcome, UsageFact};
pub use leads::{LeadChange, LeadRecord, LeadStore};
pub use open::{OpenError, OpenOptions, open, open_with};
pub use orgs::{OrgRecord, OrgStore};
pub use peppers::{PepperStore, PepperVersion};
pub use store::Store;
pub use usage::{UsageCount, UsageStore};
pub use users::{
    NewSession, Role, SessionHash, SessionRecord, SessionStore, UserRecord, UserStore,
};
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, DeliveryRecord, DeliveryStore, EndpointRecord, EventFilter,
    Next, WebhookStore,
};
