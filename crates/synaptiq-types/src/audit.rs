//! The audit log as the API shows it.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::pagination::Pagination;
use crate::time::Timestamp;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "aud_01HQ3VXK9BWMN4F6T2P8R5GYSC", "type": "key.rotated",
    "actor": "key_01HQ3VXK9BWMN4F6T2P8R5GYSD", "keyId": "key_01HQ3VXK9BWMN4F6T2P8R5GYSE",
    "ip": "203.0.113.7", "environment": "live", "createdAt": "2026-04-01T09:15:00.000Z"}))]
pub struct AuditEvent {
    /// `aud_` + ULID.
    pub id: String,
    /// `key.created`, `key.updated`, `key.rotated`, `key.revoked`, `key.expired`,
    /// `key.exposed` or `key.deleted`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who acted: a key id, a dashboard user id, `cli`, `bootstrap` or `system`.
    pub actor: String,
    /// The key acted on.
    pub key_id: Option<String>,
    /// The client address, when known.
    pub ip: Option<String>,
    /// `live` or `test`.
    pub environment: String,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditEventList {
    /// The events on this page.
    pub data: Vec<AuditEvent>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Query parameters of `GET /api/v1/audit-events`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events about this key.
    pub key_id: Option<String>,
    /// Only events of this type, e.g. `key.rotated`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only events at or after this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
    /// Only events before this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Query parameters validated beyond their type: (parameter, JSON Schema keywords).
pub fn query_constraints() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "keyId",
            serde_json::json!({"pattern": synaptiq_core::ids::KeyId::PATTERN}),
        ),
        (
            "type",
            serde_json::json!({"pattern": crate::validate::NO_NUL_PATTERN}),
        ),
    ]
}
