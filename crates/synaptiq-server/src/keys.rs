//! Issuing keys: the one place a plain key exists, between generation and the response that
//! shows it once. Used by the API, the CLI and the first-run bootstrap.

use synaptiq_core::hash::Pepper;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::key::ApiKeySecret;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_store::{KeyRecord, NewAuditEvent, NewKey, Store, StoreError};
use synaptiq_types::keys::CreatedKey;
use synaptiq_types::time::Timestamp;

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

/// Generates, stores and audits a key; returns its record and the secret (to show once).
pub async fn issue(
    store: &dyn Store,
    pepper: &Pepper,
    spec: KeySpec,
    actor: &str,
    ip: Option<String>,
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
            actor: actor.to_owned(),
            key_id: Some(record.id.clone()),
            ip,
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
