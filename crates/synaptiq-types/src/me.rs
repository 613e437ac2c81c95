//! `GET /api/v1/me` and organizations.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::Timestamp;

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Organization {
    /// `org_` + ULID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `starter`, `pro` or `enterprise`.
    #[schema(value_type = String, example = "starter")]
    pub plan: String,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// The calling key, as `GET /api/v1/me` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeKey {
    /// `key_` + ULID.
    pub id: String,
    /// The key's label.
    pub name: String,
    /// `read`, `write` or `admin`.
    #[schema(value_type = String, example = "admin")]
    pub scope: String,
    /// `live` or `test`.
    #[schema(value_type = String, example = "test")]
    pub environment: String,
    /// `active` or `rotating` (other statuses cannot call the API).
    #[schema(value_type = String, example = "active")]
    pub status: String,
    /// When the key stops working, if ever.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// `sk_test_abcd…wxyz`.
    pub hint: String,
}

/// The rate-limit state of the calling key after this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitState {
    /// Requests per minute.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Unix seconds at which the bucket is full again.
    pub reset: i64,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "key": {"id": "key_01HQ3VXK9BWMN4F6T2P8R5GYSC", "name": "Default admin key", "scope": "admin",
            "environment": "test", "status": "active", "expiresAt": null, "hint": "sk_test_a1B2…x9Y8"},
    "organization": {"id": "org_01HQ3VXK9BWMN4F6T2P8R5GYSD", "name": "Default", "plan": "starter",
                     "createdAt": "2026-04-01T09:15:00.000Z"},
    "rateLimit": {"limit": 30, "remaining": 29, "reset": 1775034902}}))]
pub struct Me {
    /// The key that made this request.
    pub key: MeKey,
    /// Its organization.
    pub organization: Organization,
    /// Its rate-limit state.
    pub rate_limit: RateLimitState,
}
