//! Records handed out by the store.

use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::{KeyId, OrgId, UserId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, KeyStatus, Scope};
use synaptiq_types::keys::ApiKey;
use synaptiq_types::me::Organization;
use synaptiq_types::time::Timestamp;

mod events;
pub use events::{Actor, NewEvent, Subject};

/// An organization.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgRecord {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Plan, which sets its keys' rate limits.
    pub plan: Plan,
    /// Creation time.
    pub created_at: Timestamp,
}

impl OrgRecord {
    /// The wire form.
    pub fn to_wire(&self) -> Organization {
        Organization {
            id: self.id.to_string(),
            name: self.name.clone(),
            plan: self.plan.as_str().to_owned(),
            created_at: self.created_at,
        }
    }
}

/// Everything stored about an API key (never the key itself).
///
/// `repr(C)`: the fields every authenticated request reads (id, the three that give its status,
/// scope) come first, in one or two cache lines, instead of wherever the compiler puts them;
/// with many keys in use each line of a cached record a request touches is a cache miss.
#[derive(Debug, Clone, PartialEq)]
#[repr(C)]
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
///
/// `repr(C)`: the key first, so that its hot fields (see [`KeyRecord`]) start the record.
#[derive(Debug, Clone, PartialEq)]
#[repr(C)]
pub struct AuthRecord {
    /// The key.
    pub key: KeyRecord,
    /// Its organization.
    pub org: OrgRecord,
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

/// Filters of the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Only events about this key.
    pub key_id: Option<KeyId>,
    /// Only events of this type.
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
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

/// Requests of one key in one UTC hour, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    /// The key.
    pub key_id: KeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its environment.
    pub environment: Environment,
    /// Start of the hour (a multiple of 3,600,000 ms).
    pub hour: Timestamp,
    /// 2xx responses.
    pub ok: u64,
    /// 4xx responses other than 429.
    pub client_error: u64,
    /// 429 responses.
    pub rate_limited: u64,
    /// 5xx responses.
    pub server_error: u64,
}
