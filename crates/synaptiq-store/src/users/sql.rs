//! User and session SQL and rows.

use synaptiq_core::ids::{OrgId, UserId};
use synaptiq_core::plan::Plan;
use synaptiq_types::time::Timestamp;

use super::{Role, SessionRecord, UserRecord};
use crate::db::{Cols, corrupt};
use crate::error::Result;
use crate::orgs::OrgRecord;

/// `INSERT` of a user: `$1` id, `$2` org, `$3` email (lower-cased), `$4` role, `$5` password
/// hash, `$6` created at.
pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, org_id, email, role, \
    password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

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

/// A user ([`crate::sql::USER_COLUMNS`], prefixed `u_`).
pub(crate) fn user_from_row(row: &impl Cols) -> Result<UserRecord> {
    Ok(UserRecord {
        id: UserId::parse(&row.text("u_id")?).map_err(|_| corrupt("users.id"))?,
        org_id: OrgId::parse(&row.text("u_org_id")?).map_err(|_| corrupt("users.org_id"))?,
        email: row.text("u_email")?,
        role: Role::parse(&row.text("u_role")?).ok_or_else(|| corrupt("users.role"))?,
        password_hash: row.text("u_password_hash")?,
        created_at: Timestamp(row.int("u_created_at")?),
    })
}

/// A session with its user and organization ([`crate::sql::find_session_sql`]).
pub(crate) fn session_from_row(row: &impl Cols) -> Result<SessionRecord> {
    let user = user_from_row(row)?;
    let org = OrgRecord {
        id: user.org_id.clone(),
        name: row.text("org_name")?,
        plan: Plan::parse(&row.text("org_plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("org_created_at")?),
    };
    Ok(SessionRecord {
        user,
        org,
        created_at: Timestamp(row.int("s_created_at")?),
        expires_at: Timestamp(row.int("s_expires_at")?),
    })
}
