//! Issuing keys: the one place a plain key exists, between generation and the response that
//! shows it once. Used by the API, the CLI and the first-run bootstrap.

use synaptiq_core::hash::Pepper;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::key::ApiKeySecret;
use synaptiq_core::scope::KeyStatus;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_store::{KeyRecord, NewAuditEvent, NewKey, RotateOutcome, Store, StoreError};
use synaptiq_types::keys::CreatedKey;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;

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

/// Who acts, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A key id, a user id, `cli`, `bootstrap` or `system`.
    pub id: String,
    /// The client address, when there is one.
    pub ip: Option<String>,
}

impl Actor {
    /// An actor without a client address (CLI, bootstrap, background tasks).
    pub fn local(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            ip: None,
        }
    }
}

/// Generates, stores and audits a key; returns its record and the secret (to show once).
pub async fn issue(
    store: &dyn Store,
    pepper: &Pepper,
    spec: KeySpec,
    actor: &Actor,
) -> Result<(KeyRecord, ApiKeySecret), StoreError> {
    let secret = ApiKeySecret::generate(spec.environment)
        .map_err(|e| StoreError::Internal(format!("OS random generator failed: {e}")))?;
    let record = store
        .insert_key(NewKey {
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
        })
        .await?;
    store
        .record(NewAuditEvent {
            org_id: record.org_id.clone(),
            environment: record.environment,
            kind: "key.created".to_owned(),
            actor: actor.id.clone(),
            key_id: Some(record.id.clone()),
            ip: actor.ip.clone(),
        })
        .await?;
    Ok((record, secret))
}

/// The creation response: metadata plus the secret.
pub fn created(record: &KeyRecord, secret: &ApiKeySecret) -> CreatedKey {
    CreatedKey {
        key: record.to_wire(Timestamp::now()),
        secret: secret.expose().to_owned(),
    }
}

/// The default rotation grace period (24 h) and the largest allowed (7 days).
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
/// See [`DEFAULT_GRACE_SECS`].
pub const MAX_GRACE_SECS: i64 = 604_800;

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

/// Rotates `id`: a new key with the same name, scope, environment and allow-list; the old one
/// keeps working for `grace_secs`. Returns (old, new, new secret).
pub async fn rotate(
    store: &dyn Store,
    pepper: &Pepper,
    org: &OrgId,
    env: Environment,
    id: &KeyId,
    grace_secs: i64,
    actor: &Actor,
) -> Result<(KeyRecord, KeyRecord, ApiKeySecret), RotateError> {
    let old = store
        .get_key(org, env, id)
        .await?
        .ok_or(RotateError::NotFound)?;
    let secret = ApiKeySecret::generate(env)
        .map_err(|e| StoreError::Internal(format!("OS random generator failed: {e}")))?;
    let replacement = NewKey {
        org_id: org.clone(),
        environment: env,
        name: old.name.clone(),
        scope: old.scope,
        hash: pepper.hash(secret.expose()),
        pepper_version: pepper.version(),
        hint: secret.hint(),
        allowed_ips: old.allowed_ips.clone(),
        expires_at: None,
        rotated_from: Some(old.id.clone()),
    };
    let now = Timestamp::now();
    let deadline = now.plus_seconds(grace_secs);
    match store
        .rotate_key(org, env, id, replacement, deadline, now)
        .await?
    {
        RotateOutcome::NotFound => Err(RotateError::NotFound),
        RotateOutcome::NotUsable(s) => Err(RotateError::NotUsable(s)),
        RotateOutcome::Rotated { old, new } => {
            for (kind, key) in [("key.created", &new.id), ("key.rotated", &old.id)] {
                store
                    .record(NewAuditEvent {
                        org_id: org.clone(),
                        environment: env,
                        kind: kind.to_owned(),
                        actor: actor.id.clone(),
                        key_id: Some(key.clone()),
                        ip: actor.ip.clone(),
                    })
                    .await?;
            }
            Ok((*old, *new, secret))
        }
    }
}

/// Records `key.expired` for every key whose deadline passed since the last sweep.
pub async fn record_expiries(app: &AppState) {
    let expired = match app.store.sweep_expired(Timestamp::now()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "expiry sweep failed");
            return;
        }
    };
    for k in expired {
        tracing::info!(key_id = %k.id, "key expired");
        let _ = app
            .store
            .record(NewAuditEvent {
                org_id: k.org_id.clone(),
                environment: k.environment,
                kind: "key.expired".to_owned(),
                actor: "system".to_owned(),
                key_id: Some(k.id.clone()),
                ip: None,
            })
            .await;
    }
}

/// Checks and canonicalises an allow-list (at most 50 CIDRs).
pub fn parse_allowed_ips(list: &[String]) -> Result<Vec<String>, synaptiq_types::FieldError> {
    if list.len() > synaptiq_types::keys::ALLOWED_IPS_MAX {
        return Err(synaptiq_types::FieldError::new(
            "allowedIps",
            "at most 50 entries",
        ));
    }
    list.iter()
        .map(|s| {
            synaptiq_core::net::parse_cidr(s)
                .map(|n| n.to_string())
                .ok_or_else(|| {
                    synaptiq_types::FieldError::new(
                        "allowedIps",
                        format!("{s:?} is not an IP address or CIDR block"),
                    )
                })
        })
        .collect()
}

/// Revokes a key now and records `key.revoked` (the API, the dashboard's "Revoke Old Key" and
/// the CLI all come here). `None` when no such key exists in that organization and
/// environment. Callers holding a key cache clear it.
pub async fn revoke(
    store: &dyn Store,
    org: &OrgId,
    env: Environment,
    id: &KeyId,
    actor: &Actor,
) -> Result<Option<KeyRecord>, StoreError> {
    let Some(rec) = store.revoke_key(org, env, id, Timestamp::now()).await? else {
        return Ok(None);
    };
    store
        .record(NewAuditEvent {
            org_id: org.clone(),
            environment: env,
            kind: "key.revoked".to_owned(),
            actor: actor.id.clone(),
            key_id: Some(id.clone()),
            ip: actor.ip.clone(),
        })
        .await?;
    Ok(Some(rec))
}
