//! Key SQL and rows.

use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, KeyStatus, Scope};
use synaptiq_types::time::Timestamp;

use super::{AuthRecord, KeyRecord, NewKey};
use crate::db::{Cols, corrupt};
use crate::error::Result;
use crate::orgs::OrgRecord;

/// Key columns, qualified with the alias `k`.
pub(crate) const KEY_COLUMNS: &str = "k.id, k.org_id, k.environment, k.name, k.scope, k.hint, \
    k.allowed_ips, k.created_at, k.expires_at, k.revoked_at, k.exposed_at, k.rotated_from, \
    k.rotated_to, k.last_used_at, k.last_used_ip, k.last_used_user_agent";

/// The same columns unqualified, for `RETURNING` (which cannot name a table alias).
pub(crate) const KEY_COLUMNS_BARE: &str = "id, org_id, environment, name, scope, hint, \
    allowed_ips, created_at, expires_at, revoked_at, exposed_at, rotated_from, rotated_to, \
    last_used_at, last_used_ip, last_used_user_agent";

/// `find_by_hash`: a key and its organization in one round trip (`$1` = hash).
pub(crate) fn find_by_hash_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS}, o.name AS org_name, o.plan AS org_plan, \
         o.created_at AS org_created_at \
         FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1"
    )
}

/// One live (not deleted) key: `$1` org, `$2` environment, `$3` id.
pub(crate) fn fetch_key_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.environment = $2 \
         AND k.id = $3 AND k.deleted_at IS NULL"
    )
}

/// The `list_keys` filter: `$1` org, `$2` environment or NULL, `$3` now. Status is derived
/// from stored facts at `now` exactly as [`KeyStatus::derive`] does; the condition comes from a
/// closed enum. `$3 = $3` keeps the parameter referenced (and typed) when no status needs it.
pub(crate) fn key_list_filter(status: Option<KeyStatus>) -> String {
    let cond = match status {
        None => "TRUE",
        Some(KeyStatus::Revoked) => "k.revoked_at IS NOT NULL",
        Some(KeyStatus::Expired) => {
            "k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= $3"
        }
        Some(KeyStatus::Rotating) => {
            "k.revoked_at IS NULL AND k.rotated_to IS NOT NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3)"
        }
        Some(KeyStatus::Active) => {
            "k.revoked_at IS NULL AND k.rotated_to IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3)"
        }
    };
    format!(
        "k.org_id = $1 AND ($2 IS NULL OR k.environment = $2) AND k.deleted_at IS NULL \
         AND ($3 = $3) AND {cond}"
    )
}

/// `revoke_key`: `$1` now, `$2` org, `$3` environment, `$4` id. A revoked key keeps its first
/// revocation time.
pub(crate) fn revoke_sql() -> String {
    format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
         WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// The rotation's update of the old key: `$1` new id, `$2` deadline, `$3` org, `$4`
/// environment, `$5` id, `$6` now. The WHERE clause re-checks usability inside the
/// transaction, so a concurrent revocation or expiry wins over a stale read; an earlier expiry
/// is never extended.
pub(crate) fn rotate_old_sql() -> String {
    format!(
        "UPDATE api_keys SET rotated_to = $1, \
           expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2 \
                             THEN expires_at ELSE $2 END \
         WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL \
           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $6) \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// `update_key`: `$1` name or NULL, `$2` allow-list JSON or NULL, `$3` org, `$4` environment,
/// `$5` id.
pub(crate) fn update_key_sql() -> String {
    format!(
        "UPDATE api_keys SET name = COALESCE($1, name), allowed_ips = COALESCE($2, allowed_ips) \
         WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// `INSERT` of a new key: `$1` id … `$12` rotated from.
pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys (id, org_id, environment, name, \
    scope, key_hash, pepper_version, hint, allowed_ips, created_at, expires_at, rotated_from) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// `delete_key`: `$1` now, `$2` org, `$3` environment, `$4` id. Soft: the row stays, revoked.
pub(crate) const DELETE_KEY: &str = "UPDATE api_keys SET deleted_at = $1, \
    revoked_at = COALESCE(revoked_at, $1) \
    WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL";

/// What the expiry sweep looks for (`$1` = now).
pub(crate) const SWEEP_DUE: &str = "expiry_recorded_at IS NULL AND expires_at IS NOT NULL \
    AND expires_at <= $1 AND revoked_at IS NULL";

/// `mark_exposed`: `$1` now, `$2` hash. Only the first exposure is kept.
pub(crate) fn mark_exposed_sql() -> String {
    format!(
        "UPDATE api_keys SET exposed_at = COALESCE(exposed_at, $1) WHERE key_hash = $2 \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

fn opt_key_id(v: Option<String>) -> Result<Option<KeyId>> {
    v.map(|s| KeyId::parse(&s).map_err(|_| corrupt("api_keys.rotated_*")))
        .transpose()
}

/// A key ([`crate::sql::KEY_COLUMNS`]).
pub(crate) fn key_from_row(row: &impl Cols) -> Result<KeyRecord> {
    let ips = row.text("allowed_ips")?;
    Ok(KeyRecord {
        id: KeyId::parse(&row.text("id")?).map_err(|_| corrupt("api_keys.id"))?,
        org_id: OrgId::parse(&row.text("org_id")?).map_err(|_| corrupt("api_keys.org_id"))?,
        environment: Environment::parse(&row.text("environment")?)
            .ok_or_else(|| corrupt("api_keys.environment"))?,
        name: row.text("name")?,
        scope: Scope::parse(&row.text("scope")?).ok_or_else(|| corrupt("api_keys.scope"))?,
        hint: row.text("hint")?,
        allowed_ips: serde_json::from_str(&ips).map_err(|_| corrupt("api_keys.allowed_ips"))?,
        created_at: Timestamp(row.int("created_at")?),
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        exposed_at: row.opt_time("exposed_at")?,
        rotated_from: opt_key_id(row.opt_text("rotated_from")?)?,
        rotated_to: opt_key_id(row.opt_text("rotated_to")?)?,
        last_used_at: row.opt_time("last_used_at")?,
        last_used_ip: row.opt_text("last_used_ip")?,
        last_used_user_agent: row.opt_text("last_used_user_agent")?,
    })
}

/// A key and its organization ([`crate::sql::find_by_hash_sql`]).
pub(crate) fn auth_from_row(row: &impl Cols) -> Result<AuthRecord> {
    let key = key_from_row(row)?;
    let org = OrgRecord {
        id: key.org_id.clone(),
        name: row.text("org_name")?,
        plan: Plan::parse(&row.text("org_plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("org_created_at")?),
    };
    Ok(AuthRecord { key, org })
}

/// The record of a key just inserted, as the database would return it.
pub(crate) fn inserted(id: KeyId, key: NewKey, now: Timestamp) -> KeyRecord {
    KeyRecord {
        id,
        org_id: key.org_id,
        environment: key.environment,
        name: key.name,
        scope: key.scope,
        hint: key.hint,
        allowed_ips: key.allowed_ips,
        created_at: now,
        expires_at: key.expires_at,
        revoked_at: None,
        exposed_at: None,
        rotated_from: key.rotated_from,
        rotated_to: None,
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
    }
}
