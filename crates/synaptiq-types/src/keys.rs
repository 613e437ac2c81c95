//! API keys as the management API shows them. A secret appears only in [`CreatedKey`].

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::pagination::Pagination;
use crate::time::Timestamp;

/// A key's metadata. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "id": "key_01HQ3VXK9BWMN4F6T2P8R5GYSC", "object": "api_key", "name": "CRM sync",
    "hint": "sk_live_a1B2…x9Y8", "scope": "read", "environment": "live", "status": "active",
    "allowedIps": [], "createdAt": "2026-04-01T09:15:00.000Z", "expiresAt": null,
    "lastUsedAt": null, "lastUsedIp": null, "lastUsedUserAgent": null, "rotatedFrom": null,
    "rotatedTo": null, "exposedAt": null, "revokedAt": null}))]
pub struct ApiKey {
    /// `key_` + ULID.
    pub id: String,
    /// Always `api_key`.
    pub object: String,
    /// A label for people.
    pub name: String,
    /// `sk_live_abcd…wxyz`: enough to recognise a key, not to use it.
    pub hint: String,
    /// `read`, `write` or `admin`.
    #[schema(value_type = String, example = "read")]
    pub scope: String,
    /// `live` or `test`.
    #[schema(value_type = String, example = "live")]
    pub environment: String,
    /// `active`, `rotating`, `expired` or `revoked`.
    #[schema(value_type = String, example = "active")]
    pub status: String,
    /// CIDR blocks the key may be used from; empty means anywhere.
    pub allowed_ips: Vec<String>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the key stops working (for a rotating key: the end of its grace period).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Last successful use (updated in batches, seconds behind).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    /// Client address of the last use.
    pub last_used_ip: Option<String>,
    /// User agent of the last use.
    pub last_used_user_agent: Option<String>,
    /// The key this one replaced.
    pub rotated_from: Option<String>,
    /// The key that replaced this one.
    pub rotated_to: Option<String>,
    /// When the key was seen over plain HTTP.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub exposed_at: Option<Timestamp>,
    /// When the key was revoked.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

/// A key just created: its metadata plus the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatedKey {
    /// The key.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full key. Store it now: it is never shown again.
    pub secret: String,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "CRM sync", "scope": "read"}))]
pub struct CreateKey {
    /// A label, 1–100 characters.
    pub name: String,
    /// `read`, `write` or `admin`.
    #[schema(value_type = String, example = "read")]
    pub scope: String,
    /// Optional expiry, in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Optional CIDR allow-list (at most 50 entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// A page of keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyList {
    /// The keys on this page.
    pub data: Vec<ApiKey>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Query parameters of `GET /api/v1/keys`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KeyListQuery {
    /// Only keys in this status.
    pub status: Option<KeyStatusFilter>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `PATCH /api/v1/keys/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "CRM sync (prod)", "allowedIps": ["203.0.113.0/24"]}))]
pub struct UpdateKey {
    /// New label, 1–100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New CIDR allow-list (replaces the old one; `[]` allows every address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// `POST /api/v1/keys/{id}/rotate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"gracePeriodSeconds": 86400}))]
pub struct RotateKey {
    /// How long the old key keeps working: 0–604800 seconds (default 86400).
    #[serde(
        default,
        deserialize_with = "crate::validate::optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

/// The answer to a rotation: the new key (with its secret, once) and the old key's deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotatedKey {
    /// The replacement, including `secret`.
    pub new_key: CreatedKey,
    /// The old key, now `rotating` (or `expired` for a zero grace period).
    pub old_key: ApiKey,
}

/// Filters of `GET /api/v1/keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatusFilter {
    /// Usable, not rotated.
    Active,
    /// In a rotation grace period.
    Rotating,
    /// Past `expiresAt`.
    Expired,
    /// Revoked.
    Revoked,
}

/// Longest key name, in characters.
pub const NAME_MAX: usize = 100;
/// Most entries in a key's `allowedIps`.
pub const ALLOWED_IPS_MAX: usize = 50;

/// Validates a key name: 1–100 characters, not blank (it is stored trimmed), no U+0000.
pub fn validate_name(name: &str) -> Result<(), crate::FieldError> {
    if name.trim().is_empty() || name.chars().count() > NAME_MAX {
        return Err(crate::FieldError::new(
            "name",
            "name must be 1 to 100 characters",
        ));
    }
    crate::validate::no_nul("name", name)
}

/// What this module's validators (and the key handlers) enforce, as JSON Schema keywords for
/// the OpenAPI document: (component schema, property, keywords). The derive cannot say these.
/// `allowedIps` entries use the format `cidr`: an IPv4 or IPv6 address or CIDR block.
pub fn schema_constraints() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;
    let name = json!({"minLength": 1, "maxLength": NAME_MAX,
                      "pattern": crate::validate::NOT_BLANK_TEXT_PATTERN});
    let ips = json!({"maxItems": ALLOWED_IPS_MAX, "items": {"format": "cidr"}});
    let scope = json!({"enum": ["read", "write", "admin"]});
    vec![
        ("CreateKey", "name", name.clone()),
        ("CreateKey", "scope", scope.clone()),
        ("CreateKey", "allowedIps", ips.clone()),
        ("UpdateKey", "name", name),
        ("UpdateKey", "allowedIps", ips),
        ("ApiKey", "scope", scope),
        ("ApiKey", "environment", json!({"enum": ["live", "test"]})),
        (
            "ApiKey",
            "status",
            json!({"enum": ["active", "rotating", "expired", "revoked"]}),
        ),
    ]
}
