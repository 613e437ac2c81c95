//! The storage contracts. Each method states what it guarantees; both backends must pass the
//! same conformance tests (`tests/conformance.rs`).

use async_trait::async_trait;
use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::{KeyId, LeadId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::Environment;
use synaptiq_types::leads::{CreateLead, Lead, LeadListQuery, UpdateLead};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::model::{
    Actor, AuditFilter, AuthRecord, KeyRecord, NewEvent, NewKey, NewSession, OrgRecord, Role,
    RotateOutcome, SessionHash, SessionRecord, UsageCount, UsageFact, UserRecord,
};
use synaptiq_core::scope::KeyStatus;
use synaptiq_types::audit::AuditEvent;

/// What can go wrong in storage, in words the server maps to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; `existing_id` names the object already there.
    #[error("{param} already exists")]
    Conflict {
        /// The field that must be unique (wire name).
        param: &'static str,
        /// The id of the object that holds the value, when known.
        existing_id: Option<String>,
    },
    /// The database cannot be reached or timed out: retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or corrupt data.
    #[error("storage error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => transient_database_error(db.as_ref()),
            _ => false,
        };
        if transient {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(e.to_string())
        }
    }
}

/// Whether a database error clears up by retrying later: the database is busy, restarting,
/// unreachable or out of connections, or the transaction lost a race it can win next time.
fn transient_database_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes: the low byte is the primary code. SQLITE_BUSY (5, beyond the
        // busy timeout, including BUSY_SNAPSHOT) and SQLITE_LOCKED (6).
        let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
        return matches!(code & 0xff, 5 | 6);
    }
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // SQLSTATE: 08 connection exception, 53 insufficient resources (too many
        // connections), 57P01-03 shutdown / not accepting connections, 57014 statement
        // timeout, 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
        let code = db.code().unwrap_or_default();
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(
                code.as_ref(),
                "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01" | "55P03"
            );
    }
    false
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Organizations.
#[async_trait]
pub trait OrgStore {
    /// Creates an organization.
    async fn create_org(&self, name: &str, plan: Plan) -> Result<OrgRecord>;
    /// One organization, or `None`.
    async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>>;
    /// All organizations, oldest first.
    async fn list_orgs(&self) -> Result<Vec<OrgRecord>>;
    /// Changes the plan; bumps the change epoch. `false` when the organization does not exist.
    async fn set_plan(&self, id: &OrgId, plan: Plan) -> Result<bool>;
}

/// API keys. Keys are found by their HMAC only; every other lookup is scoped to an
/// organization and environment. Every change records its `key.*` event, by `actor`, in its
/// own transaction: the change and its event commit together or not at all.
#[async_trait]
pub trait KeyStore {
    /// Inserts a key (`key.created`). A hash collision (impossible in practice) is a
    /// `Conflict`.
    async fn insert_key(&self, key: NewKey, actor: &Actor) -> Result<KeyRecord>;
    /// The key with this hash and its organization, whatever its status (the caller decides
    /// whether it is usable, so it can say "revoked" or "expired").
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<AuthRecord>>;
    /// One key of an organization and environment.
    async fn get_key(&self, org: &OrgId, env: Environment, id: &KeyId)
    -> Result<Option<KeyRecord>>;
    /// A page of keys, newest first, with the total.
    async fn list_keys(
        &self,
        org: &OrgId,
        env: Option<Environment>,
        status: Option<KeyStatus>,
        now: Timestamp,
        page: PageRequest,
    ) -> Result<(Vec<KeyRecord>, u64)>;
    /// Revokes a key now (idempotent: an already revoked key keeps its first revocation time;
    /// `key.revoked` each time); bumps the change epoch. `None` when the key does not exist
    /// in that scope.
    async fn revoke_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<Option<KeyRecord>>;
    /// Rotates `id`: inserts `replacement` (same organization, environment, name, scope and
    /// allow-list, prepared by the caller) and makes the old key end at `deadline` (or earlier,
    /// if it already expired sooner), atomically. Only a usable key (active or rotating) can be
    /// rotated. Records `key.created` (the new key) then `key.rotated` (the old one); bumps the
    /// change epoch.
    #[expect(
        clippy::too_many_arguments,
        reason = "scope, key, replacement, times, actor"
    )]
    async fn rotate_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        replacement: NewKey,
        deadline: Timestamp,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<RotateOutcome>;
    /// Changes a key's name and/or allow-list (`key.updated`); bumps the change epoch. `None`
    /// when absent.
    async fn update_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        name: Option<&str>,
        allowed_ips: Option<&[String]>,
        actor: &Actor,
    ) -> Result<Option<KeyRecord>>;
    /// Deletes a key: it stops working at once and leaves every list; the row stays for the
    /// audit trail (`key.deleted`). `false` when absent (or already deleted).
    async fn delete_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<bool>;
    /// Keys whose `expiresAt` has passed and whose expiry has not been recorded yet; marks
    /// them recorded, with a `key.expired` event each (actor `system`). Each key is returned by
    /// exactly one call, whichever node makes it.
    async fn sweep_expired(&self, now: Timestamp) -> Result<Vec<KeyRecord>>;
    /// Writes a batch of last-use facts in one transaction. A fact older than the stored one
    /// does not overwrite it (batches from several nodes merge).
    async fn record_usage(&self, batch: &[UsageFact]) -> Result<()>;
    /// Where a key lives, for operator tools that are given only its id (the CLI). Never used
    /// on a customer request path.
    async fn locate_key(&self, id: &KeyId) -> Result<Option<(OrgId, Environment)>>;
    /// Marks the key with this hash as exposed (the first time is kept; `key.exposed` each
    /// time), returning it; `None` when no such key exists.
    async fn mark_exposed(
        &self,
        hash: &KeyHash,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<Option<KeyRecord>>;
    /// The change epoch: increases whenever something that authentication caches changes.
    async fn change_epoch(&self) -> Result<i64>;
}

/// Leads. Emails are unique per (organization, environment), compared case-insensitively.
/// Every change records its `lead.*` event, by `actor`, in its own transaction.
#[async_trait]
pub trait LeadStore {
    /// Creates a lead (`lead.created`); `Conflict { param: "email", existing_id }` on a
    /// duplicate email.
    async fn create_lead(
        &self,
        org: &OrgId,
        env: Environment,
        lead: &CreateLead,
        actor: &Actor,
    ) -> Result<Lead>;
    /// One lead.
    async fn get_lead(&self, org: &OrgId, env: Environment, id: &LeadId) -> Result<Option<Lead>>;
    /// A number that increases with every change to the leads of `org` in `env` (made in the
    /// same transaction as the change, by any process); 0 before the first lead. Anything
    /// derived from the leads after reading version `v` is current for as long as the version
    /// stays `v`.
    async fn lead_version(&self, org: &OrgId, env: Environment) -> Result<i64>;
    /// [`Self::lead_version`] read on the calling thread without waiting for anything (no
    /// thread hand-off, no lock wait, no network), or `None` when this backend or this moment
    /// cannot (the caller then awaits `lead_version`). Same meaning, same freshness: the read
    /// starts after the call does.
    fn lead_version_now(&self, org: &OrgId, env: Environment) -> Option<i64>;
    /// A filtered, sorted page of leads with the total matching.
    async fn list_leads(
        &self,
        org: &OrgId,
        env: Environment,
        query: &LeadListQuery,
        page: PageRequest,
    ) -> Result<(Vec<Lead>, u64)>;
    /// Leads whose name, email or company contains `q` (case-insensitive), best matches first:
    /// exact email, then prefix matches, then substring matches; newest first within a rank.
    async fn search_leads(
        &self,
        org: &OrgId,
        env: Environment,
        q: &str,
        page: PageRequest,
    ) -> Result<(Vec<Lead>, u64)>;
    /// Applies a partial update atomically (`lead.updated`, and `lead.qualified` or
    /// `lead.converted` when the status becomes one of those); `None` when the lead does not
    /// exist in that scope.
    async fn update_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        patch: &UpdateLead,
        actor: &Actor,
    ) -> Result<Option<Lead>>;
    /// Deletes a lead (`lead.deleted`); `false` when it did not exist in that scope.
    async fn delete_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        actor: &Actor,
    ) -> Result<bool>;
}

/// Dashboard users.
#[async_trait]
pub trait UserStore {
    /// Creates a user; `Conflict { param: "email" }` when the email is taken.
    async fn create_user(
        &self,
        org: &OrgId,
        email: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<UserRecord>;
    /// The user signing in with `email` (compared case-insensitively), whatever their
    /// organization: emails are logins.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>>;
    /// An organization's users, oldest first.
    async fn list_users(&self, org: &OrgId) -> Result<Vec<UserRecord>>;
}

/// Dashboard sessions, stored by the hash of their token (never the token).
#[async_trait]
pub trait SessionStore {
    /// Stores a new session. A hash collision (impossible in practice) is a `Conflict`.
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The session with this hash if it has not expired at `now`, with its user and the
    /// user's organization as they are now (a role change applies on the next request).
    async fn find_session(
        &self,
        id_hash: &SessionHash,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>>;
    /// Ends a session (sign-out, or the session a new sign-in replaces). `false` when there
    /// was none.
    async fn delete_session(&self, id_hash: &SessionHash) -> Result<bool>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64>;
}

/// Hourly request counters per key, written in batches by the usage recorder.
#[async_trait]
pub trait UsageStore {
    /// Adds a batch of counters in one transaction: a (key, hour) already stored is
    /// incremented, so batches from several nodes and several flushes add up.
    async fn record_usage_counts(&self, batch: &[UsageCount]) -> Result<()>;
    /// An organization's counters in one environment from the hour containing `since` on,
    /// ordered by key and hour.
    async fn usage_counts(
        &self,
        org: &OrgId,
        env: Environment,
        since: Timestamp,
    ) -> Result<Vec<UsageCount>>;
}

/// The events table and the audit log read from it.
#[async_trait]
pub trait AuditStore {
    /// Appends an event that no stored change carries (changes record their own).
    async fn record(&self, event: NewEvent) -> Result<()>;
    /// A page of an organization's audited events ([`synaptiq_core::event::EventKind::audited`])
    /// in one environment, newest first, with the total.
    async fn list_audit(
        &self,
        org: &OrgId,
        env: Environment,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<(Vec<AuditEvent>, u64)>;
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    OrgStore + KeyStore + LeadStore + UserStore + SessionStore + UsageStore + AuditStore + Send + Sync
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// Closes the pool, waiting for in-flight queries.
    async fn close(&self);
    /// The backend's name, for logs (`sqlite`).
    fn backend(&self) -> &'static str;
}
