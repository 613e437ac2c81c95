//! API keys: stored by their HMAC, never the key.

use async_trait::async_trait;
use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::scope::{Environment, KeyStatus, Scope};
use synaptiq_types::keys::ApiKey;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::error::Result;
use crate::events::Actor;
use crate::orgs::OrgRecord;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_key_store;

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

/// Everything stored about an API key (never the key itself).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    /// Its id.
    pub id: KeyId,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
    /// Expiry or end of rotation grace.
    pub expires_at: Option<Timestamp>,
    /// The key that replaced it.
    pub rotated_to: Option<KeyId>,
    /// Scope.
    pub scope: Scope,
    /// Live or test.
    pub environment: Environment,
    /// Owning organization.
    pub org_id: OrgId,
    /// Label.
    pub name: String,
    /// Display hint.
    pub hint: String,
    /// CIDR allow-list (canonical strings); empty = anywhere.
    pub allowed_ips: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it was seen over plain HTTP.
    pub exposed_at: Option<Timestamp>,
    /// The key it replaced.
    pub rotated_from: Option<KeyId>,
    /// Last use.
    pub last_used_at: Option<Timestamp>,
    /// Last client address.
    pub last_used_ip: Option<String>,
    /// Last user agent.
    pub last_used_user_agent: Option<String>,
}

#[cfg(feature = "fixtures")]
impl KeyRecord {
    /// For other crates' unit tests (feature `fixtures`): an active write key of the test
    /// environment named `name`, made at a fixed time, expiring at `expires_at` (epoch ms).
    pub fn fixture(name: &str, expires_at: Option<i64>) -> Self {
        KeyRecord {
            id: KeyId::generate(),
            org_id: OrgId::generate(),
            environment: Environment::Test,
            name: name.to_owned(),
            scope: Scope::Write,
            hint: "sk_test_abcd…wxyz".to_owned(),
            allowed_ips: Vec::new(),
            created_at: Timestamp(1_700_000_000_000),
            expires_at: expires_at.map(Timestamp),
            revoked_at: None,
            exposed_at: None,
            rotated_from: None,
            rotated_to: None,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
        }
    }
}

impl KeyRecord {
    /// The status at `now`.
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        KeyStatus::derive(
            self.revoked_at.is_some(),
            self.expires_at.map(Timestamp::millis),
            self.rotated_to.is_some(),
            now.millis(),
        )
    }

    /// The wire form (no secret).
    pub fn to_wire(&self, now: Timestamp) -> ApiKey {
        ApiKey {
            id: self.id.to_string(),
            object: "api_key".to_owned(),
            name: self.name.clone(),
            hint: self.hint.clone(),
            scope: self.scope.as_str().to_owned(),
            environment: self.environment.as_str().to_owned(),
            status: self.status(now).as_str().to_owned(),
            allowed_ips: self.allowed_ips.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip.clone(),
            last_used_user_agent: self.last_used_user_agent.clone(),
            rotated_from: self.rotated_from.as_ref().map(ToString::to_string),
            rotated_to: self.rotated_to.as_ref().map(ToString::to_string),
            exposed_at: self.exposed_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// A key to insert: the hash is computed by the caller, the secret never reaches the store.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Owning organization.
    pub org_id: OrgId,
    /// Live or test.
    pub environment: Environment,
    /// Label.
    pub name: String,
    /// Scope.
    pub scope: Scope,
    /// HMAC of the key.
    pub hash: KeyHash,
    /// Version of the pepper the hash was made with.
    pub pepper_version: u16,
    /// Display hint.
    pub hint: String,
    /// CIDR allow-list.
    pub allowed_ips: Vec<String>,
    /// Optional expiry.
    pub expires_at: Option<Timestamp>,
    /// The key this one replaces (rotation).
    pub rotated_from: Option<KeyId>,
}

/// What authentication needs about a key, with its organization's plan, in one lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthRecord {
    /// The key.
    pub key: KeyRecord,
    /// Its organization.
    pub org: OrgRecord,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    /// No such key in that organization and environment.
    NotFound,
    /// The key is revoked or expired: nothing to rotate.
    NotUsable(KeyStatus),
    /// Done.
    Rotated {
        /// The old key, now ending at its deadline.
        old: Box<KeyRecord>,
        /// The replacement.
        new: Box<KeyRecord>,
    },
}

/// The last use of a key, as seen by one node.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageFact {
    /// The key.
    pub key_id: KeyId,
    /// When.
    pub at: Timestamp,
    /// Client address.
    pub ip: String,
    /// User agent (truncated to 256 characters).
    pub user_agent: Option<String>,
}
