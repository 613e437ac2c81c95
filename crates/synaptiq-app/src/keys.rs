//! Key use cases: issue, rotate, revoke, update, delete, expire and flag as exposed. Issuing
//! and rotating are the one place a plain key exists, between generation and the response
//! that shows it once. Each change is stored with its `key.*` event in one transaction, and
//! every change a key's holder would notice invalidates the authentication cache here.

use std::fmt;

use synaptiq_core::hash::{KeyHash, Pepper};
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::key::ApiKeySecret;
use synaptiq_core::scope::{Environment, KeyStatus, Scope};
use synaptiq_store::{Actor, KeyRecord, NewKey, RotateOutcome, StoreError};
use synaptiq_types::FieldError;
use synaptiq_types::keys::CreatedKey;
use synaptiq_types::time::Timestamp;

use crate::Services;

/// The default rotation grace period (24 h) and the largest allowed (7 days).
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
/// See [`DEFAULT_GRACE_SECS`].
pub const MAX_GRACE_SECS: i64 = 604_800;

/// What a new key should be.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// Owning organization.
    pub org_id: OrgId,
    /// Live or test.
    pub environment: Environment,
    /// Scope.
    pub scope: Scope,
    /// Label.
    pub name: String,
    /// Optional expiry.
    pub expires_at: Option<Timestamp>,
    /// CIDR allow-list (canonical).
    pub allowed_ips: Vec<String>,
    /// The key it replaces, for rotation.
    pub rotated_from: Option<KeyId>,
}

/// Why a rotation did not happen.
#[derive(Debug)]
pub enum RotateError {
    /// No such key in the caller's organization and environment.
    NotFound,
    /// The key is revoked or expired.
    NotUsable(KeyStatus),
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for RotateError {
    fn from(e: StoreError) -> Self {
        RotateError::Store(e)
    }
}

impl fmt::Display for RotateError {
    /// The sentence the API and the dashboard show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotateError::NotFound => f.write_str("No such key."),
            RotateError::NotUsable(s) => write!(
                f,
                "This key is {}; only active or rotating keys can be rotated.",
                s.as_str()
            ),
            RotateError::Store(e) => write!(f, "{e}"),
        }
    }
}

/// The creation response: metadata plus the secret.
pub fn created(record: &KeyRecord, secret: &ApiKeySecret) -> CreatedKey {
    CreatedKey {
        key: record.to_wire(Timestamp::now()),
        secret: secret.expose().to_owned(),
    }
}

/// Checks and canonicalises an allow-list (at most 50 CIDRs).
pub fn parse_allowed_ips(list: &[String]) -> Result<Vec<String>, FieldError> {
    if list.len() > synaptiq_types::keys::ALLOWED_IPS_MAX {
        return Err(FieldError::new("allowedIps", "at most 50 entries"));
    }
    list.iter()
        .map(|s| {
            synaptiq_core::net::parse_cidr(s)
                .map(|n| n.to_string())
                .ok_or_else(|| {
                    FieldError::new(
                        "allowedIps",
                        format!("{s:?} is not an IP address or CIDR block"),
                    )
                })
        })
        .collect()
}

/// A fresh secret for `env` and the record that stores its hash.
fn new_secret(pepper: &Pepper, spec: KeySpec) -> Result<(NewKey, ApiKeySecret), StoreError> {
    let secret = ApiKeySecret::generate(spec.environment)
        .map_err(|e| StoreError::Internal(format!("OS random generator failed: {e}")))?;
    let key = NewKey {
        org_id: spec.org_id,
        environment: spec.environment,
        name: spec.name,
        scope: spec.scope,
        hash: pepper.hash(secret.expose()),
        pepper_version: pepper.version(),
        hint: secret.hint(),
        allowed_ips: spec.allowed_ips,
        expires_at: spec.expires_at,
        rotated_from: spec.rotated_from,
    };
    Ok((key, secret))
}

impl Services {
    /// Generates and stores a key (`key.created`); returns its record and the secret, to show
    /// once.
    pub async fn issue_key(
        &self,
        pepper: &Pepper,
        spec: KeySpec,
        actor: &Actor,
    ) -> Result<(KeyRecord, ApiKeySecret), StoreError> {
        let (key, secret) = new_secret(pepper, spec)?;
        let record = self.store.insert_key(key, actor).await?;
        Ok((record, secret))
    }

    /// Rotates `id`: a new key with the same name, scope, environment and allow-list; the old
    /// one keeps working for `grace_secs`. Returns (old, new, new secret).
    pub async fn rotate_key(
        &self,
        pepper: &Pepper,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        grace_secs: i64,
        actor: &Actor,
    ) -> Result<(KeyRecord, KeyRecord, ApiKeySecret), RotateError> {
        let old = self
            .store
            .get_key(org, env, id)
            .await?
            .ok_or(RotateError::NotFound)?;
        let spec = KeySpec {
            org_id: org.clone(),
            environment: env,
            scope: old.scope,
            name: old.name,
            expires_at: None,
            allowed_ips: old.allowed_ips,
            rotated_from: Some(old.id),
        };
        let (replacement, secret) = new_secret(pepper, spec)?;
        let now = Timestamp::now();
        let deadline = now.plus_seconds(grace_secs);
        let outcome = self
            .store
            .rotate_key(org, env, id, replacement, deadline, now, actor)
            .await?;
        match outcome {
            RotateOutcome::NotFound => Err(RotateError::NotFound),
            RotateOutcome::NotUsable(s) => Err(RotateError::NotUsable(s)),
            RotateOutcome::Rotated { old, new } => {
                self.auth_changed();
                Ok((*old, *new, secret))
            }
        }
    }

    /// Revokes a key now (`key.revoked`). `None` when no such key exists in that organization
    /// and environment.
    pub async fn revoke_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        actor: &Actor,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let rec = self
            .store
            .revoke_key(org, env, id, Timestamp::now(), actor)
            .await?;
        if rec.is_some() {
            self.auth_changed();
        }
        Ok(rec)
    }

    /// Renames a key and/or replaces its allow-list (`key.updated`). `None` when absent.
    pub async fn update_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        name: Option<&str>,
        allowed_ips: Option<&[String]>,
        actor: &Actor,
    ) -> Result<Option<KeyRecord>, StoreError> {
        let rec = self
            .store
            .update_key(org, env, id, name, allowed_ips, actor)
            .await?;
        if rec.is_some() {
            self.auth_changed();
        }
        Ok(rec)
    }

    /// Deletes a key (`key.deleted`): it stops working at once. `false` when absent.
    pub async fn delete_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .store
            .delete_key(org, env, id, Timestamp::now(), actor)
            .await?;
        if deleted {
            self.auth_changed();
        }
        Ok(deleted)
    }

    /// Every key of an organization in one environment, newest first (at most 2,000).
    pub async fn all_keys(
        &self,
        org: &OrgId,
        env: Environment,
        now: Timestamp,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let mut all = Vec::new();
        for page in 1..=20 {
            let req = synaptiq_types::pagination::PageRequest::new(Some(page), Some(100))
                .map_err(|e| StoreError::Internal(e.message))?;
            let (keys, total) = self.store.list_keys(org, Some(env), None, now, req).await?;
            let n = keys.len();
            all.extend(keys);
            if n == 0 || all.len() as u64 >= total {
                break;
            }
        }
        Ok(all)
    }

    /// Records `key.expired` for every key whose deadline passed since the last sweep (the
    /// store writes the events with the sweep). Failures are logged and retried next time.
    pub async fn record_expiries(&self) {
        match self.store.sweep_expired(Timestamp::now()).await {
            Ok(expired) => {
                for k in expired {
                    tracing::info!(key_id = %k.id, "key expired");
                }
            }
            Err(e) => tracing::debug!(error = %e, "expiry sweep failed"),
        }
    }

    /// A key with this hash crossed the network in clear: marks it exposed (`key.exposed`)
    /// and, when `revoke`, revokes it (`key.revoked`), both by `system` from `ip`. Returns the
    /// key, or `None` when there is no such key or storage failed (logged: the caller's
    /// answer does not depend on it).
    pub async fn flag_exposed(&self, hash: &KeyHash, ip: &str, revoke: bool) -> Option<KeyRecord> {
        let actor = Actor::system(Some(ip.to_owned()));
        let now = Timestamp::now();
        let rec = match self.store.mark_exposed(hash, now, &actor).await {
            Ok(rec) => rec?,
            Err(e) => {
                tracing::warn!(error = %e, "could not flag an exposed key");
                return None;
            }
        };
        tracing::warn!(key_id = %rec.id, %ip, "API key sent over plain HTTP; flagged as exposed");
        if revoke
            && let Ok(Some(_)) = self
                .store
                .revoke_key(&rec.org_id, rec.environment, &rec.id, now, &actor)
                .await
        {
            self.auth_changed();
        }
        Some(rec)
    }
}
