//! Dashboard users and their sessions.

use async_trait::async_trait;
use synaptiq_core::ids::{OrgId, UserId};
use synaptiq_types::time::Timestamp;

use crate::error::Result;
use crate::orgs::OrgRecord;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_user_store;

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

/// A dashboard user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including the organization itself.
    Owner,
    /// Manages keys and webhooks.
    Admin,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [Role::Owner, Role::Admin, Role::Viewer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A dashboard user. The password hash is an argon2id PHC string, never a password.
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    /// Its id.
    pub id: UserId,
    /// Its organization.
    pub org_id: OrgId,
    /// Login email (unique).
    pub email: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

/// The SHA-256 of a dashboard session token: the session table's key. The token itself lives
/// only in the browser's cookie, so a copy of the database opens no session.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHash(pub [u8; 32]);

impl std::fmt::Debug for SessionHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHash([redacted])")
    }
}

/// A dashboard session to store.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hash of the session token.
    pub id_hash: SessionHash,
    /// The signed-in user.
    pub user_id: UserId,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// End of the session (absolute).
    pub expires_at: Timestamp,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in (truncated to 256 characters).
    pub user_agent: Option<String>,
}

/// A live session with its user and the user's organization, found in one lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// The signed-in user (current role).
    pub user: UserRecord,
    /// The user's organization (current plan).
    pub org: OrgRecord,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// End of the session.
    pub expires_at: Timestamp,
}
