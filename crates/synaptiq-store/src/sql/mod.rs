//! SQL text both backends run verbatim, and the small helpers around it.
//!
//! Each backend binds the same `$n` parameters in the same order, so a filter, a status rule
//! or a ranking written here behaves identically on SQLite and PostgreSQL. A backend writes its
//! own SQL only where the engines differ (row locks, `SKIP LOCKED`), and says why there.

use synaptiq_core::scope::KeyStatus;
use synaptiq_types::pagination::PageRequest;

use crate::traits::{Result, StoreError};

mod leads;
pub(crate) use leads::*;

/// Organization columns.
pub(crate) const ORG_COLUMNS: &str = "id, name, plan, created_at";

/// Key columns, qualified with the alias `k`.
pub(crate) const KEY_COLUMNS: &str = "k.id, k.org_id, k.environment, k.name, k.scope, k.hint, \
    k.allowed_ips, k.created_at, k.expires_at, k.revoked_at, k.exposed_at, k.rotated_from, \
    k.rotated_to, k.last_used_at, k.last_used_ip, k.last_used_user_agent";

/// The same columns unqualified, for `RETURNING` (which cannot name a table alias).
pub(crate) const KEY_COLUMNS_BARE: &str = "id, org_id, environment, name, scope, hint, \
    allowed_ips, created_at, expires_at, revoked_at, exposed_at, rotated_from, rotated_to, \
    last_used_at, last_used_ip, last_used_user_agent";

/// Lead columns.
pub(crate) const LEAD_COLUMNS: &str = "id, email, name, company, title, phone, status, score, \
    source, tags, custom_fields, first_seen_at, last_active_at, created_at, updated_at";

/// Audit event columns.
pub(crate) const AUDIT_COLUMNS: &str = "id, type, actor, key_id, ip, environment, created_at";

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

/// Bumps the change epoch; run inside the transaction of the change it announces.
pub(crate) const BUMP_EPOCH: &str = "UPDATE change_epoch SET epoch = epoch + 1 WHERE id = 1";

/// The audit filter: `$1` org, `$2` environment, `$3` key id, `$4` type, `$5` since, `$6`
/// until (each optional one NULL when absent). Only the kinds the audit log shows
/// (`audited`, set from [`synaptiq_core::event::EventKind::audited`] when recorded): the
/// events table also holds customer-data events.
pub(crate) const AUDIT_FILTER: &str = "org_id = $1 AND environment = $2 AND audited = TRUE \
    AND ($3 IS NULL OR key_id = $3) AND ($4 IS NULL OR type = $4) \
    AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6)";

/// `LIMIT` and `OFFSET` of a page.
pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.limit),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// A row count as the traits report it.
pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}

/// A JSON text column's value.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Maps a unique-constraint violation to a `Conflict` on `param`; anything else as usual.
pub(crate) fn conflict_or(e: sqlx::Error, param: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict {
            param,
            existing_id: None,
        };
    }
    e.into()
}

/// `INSERT` of an organization: `$1` id, `$2` name, `$3` plan, `$4` created at.
pub(crate) const INSERT_ORG: &str =
    "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)";

/// `set_plan`: `$1` plan, `$2` organization.
pub(crate) const SET_PLAN: &str = "UPDATE organizations SET plan = $1 WHERE id = $2";

/// `INSERT` of a user: `$1` id, `$2` org, `$3` email (lower-cased), `$4` role, `$5` password
/// hash, `$6` created at.
pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, org_id, email, role, \
    password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// `INSERT` of an event: `$1` id, `$2` org, `$3` environment, `$4` type, `$5` actor, `$6` key
/// id, `$7` subject id, `$8` ip, `$9` created at, `$10` audited.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (id, org_id, environment, type, \
    actor, key_id, subject_id, ip, created_at, audited) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// A user's columns, each prefixed `u_` (so they can sit beside other tables' columns).
pub(crate) const USER_COLUMNS: &str = "u.id AS u_id, u.org_id AS u_org_id, u.email AS u_email, \
    u.role AS u_role, u.password_hash AS u_password_hash, u.created_at AS u_created_at";

/// `find_user_by_email`: `$1` email, lower-cased (stored emails are).
pub(crate) fn user_by_email_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1")
}

/// `list_users`: `$1` organization.
pub(crate) fn list_users_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 ORDER BY u.created_at, u.id")
}

/// `INSERT` of a session: `$1` hash, `$2` user, `$3` created at, `$4` expires at, `$5` ip,
/// `$6` user agent.
pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions (id_hash, user_id, created_at, \
    expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)";

/// `find_session`: `$1` hash, `$2` now. The session, its user and the user's organization.
pub(crate) fn find_session_sql() -> String {
    format!(
        "SELECT s.created_at AS s_created_at, s.expires_at AS s_expires_at, {USER_COLUMNS}, \
         o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN organizations o ON o.id = u.org_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2"
    )
}

/// `delete_session`: `$1` hash.
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";

/// `delete_expired_sessions`: `$1` now.
pub(crate) const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

/// `usage_counts`: `$1` org, `$2` environment, `$3` first hour.
pub(crate) const USAGE_COUNTS: &str = "SELECT key_id, org_id, environment, hour, ok, \
    client_error, rate_limited, server_error FROM key_usage_hourly \
    WHERE org_id = $1 AND environment = $2 AND hour >= $3 ORDER BY key_id, hour";

#[cfg(test)]
mod tests;
