//! Webhook endpoints, their deliveries and the event envelope as the API shows them. A secret
//! appears only in [`CreatedWebhookEndpoint`] and [`RotatedWebhookSecret`].

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::pagination::Pagination;
use crate::time::Timestamp;

/// The `apiVersion` every envelope carries: the shape of `data` is the `/api/v1` object's.
pub const API_VERSION: &str = "v1";
/// Longest endpoint URL, in bytes.
pub const URL_MAX: usize = 2048;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;

/// An endpoint. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// `whep_` + ULID.
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it receives, or `["*"]` for all.
    pub events: Vec<String>,
    /// `live` or `test`: it receives that environment's events only.
    #[schema(value_type = String, example = "live")]
    pub environment: String,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Why it is disabled: `manual`, `gone` (the receiver answered 410) or `failing` (every
    /// delivery failed for 5 days).
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<Timestamp>,
    /// Its recent deliveries' health.
    pub health: WebhookHealth,
    /// While a rotated secret still signs: when it stops.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// How an endpoint's deliveries are going.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookHealth {
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    /// The first failure since the last success.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    /// When it will be disabled if nothing succeeds before (5 days after `failingSince`).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disables_at: Option<Timestamp>,
}

/// An endpoint just created: with its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verifies every delivery's signature. Store it now: it is never shown again.
    pub secret: String,
}

/// `POST /api/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"url": "https://crm.example.com/hooks/synaptiq",
    "events": ["lead.created", "lead.qualified"], "description": "CRM sync"}))]
pub struct CreateWebhookEndpoint {
    /// `https://…` (plain `http://` only where the operator allows it).
    pub url: String,
    /// Event types from `GET /api/v1/webhooks/event-types`, or `["*"]`.
    pub events: Vec<String>,
    /// A note for people, up to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Your own signing secret, `whsec_` + base64 of 24–64 bytes; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `PATCH /api/v1/webhooks/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"events": ["*"], "enabled": true}))]
pub struct UpdateWebhookEndpoint {
    /// New URL (checked like a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// New event types (replace the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// New description (`""` clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `false` stops deliveries; `true` re-enables (its health starts afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A page of endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookEndpointList {
    /// The endpoints on this page.
    pub data: Vec<WebhookEndpoint>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Page parameters of the endpoint list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookListQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `POST /api/v1/webhooks/{id}/rotate-secret`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"gracePeriodSeconds": 86400}))]
pub struct RotateWebhookSecret {
    /// How long the old secret keeps signing too: 0–604800 seconds (default 86400).
    #[serde(
        default,
        deserialize_with = "crate::validate::optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

/// The answer to a secret rotation: the endpoint and its new secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotatedWebhookSecret {
    /// The endpoint (its `previousSecretExpiresAt` says until when the old secret signs).
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The new `whsec_…`, shown this once.
    pub secret: String,
}

/// One event sent to one endpoint, with its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookDelivery {
    /// The event's id (`evt_…`), which is also the `webhook-id` header: a delivery is one
    /// event to one endpoint.
    pub id: String,
    /// Always `webhook_delivery`.
    pub object: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending` (an attempt is due), `delivered` or `failed` (given up).
    #[schema(example = "delivered")]
    pub status: String,
    /// Attempts made.
    pub attempts: u64,
    /// When the next attempt is due, while `pending`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// When the last attempt was made.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<Timestamp>,
    /// The last attempt's HTTP status, if an answer came.
    pub response_status: Option<u16>,
    /// The first 4 KB of the last answer's body.
    pub response_body: Option<String>,
    /// The last attempt's time to an answer (or to failing), in milliseconds.
    pub latency_ms: Option<u64>,
    /// Why the last attempt failed: `timeout`, `dns`, `tls`, `connect`, `http_status`,
    /// `blocked_address`, `redirect` or `endpoint_disabled`.
    pub error: Option<String>,
    /// When the event happened.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookDeliveryList {
    /// The deliveries on this page.
    pub data: Vec<WebhookDelivery>,
    /// Where this page sits.
    pub pagination: Pagination,
}

/// Query parameters of `GET /api/v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// An attempt is due.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up (the schedule ran out, or the endpoint was disabled).
    Failed,
}

impl DeliveryStatus {
    /// Its wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// `POST /api/v1/webhooks/{id}/recover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"since": "2026-04-01T00:00:00.000Z"}))]
pub struct RecoverWebhook {
    /// Resend every failed delivery of events since then (within the last 14 days).
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// The answer to a recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveredDeliveries {
    /// How many failed deliveries were scheduled again.
    pub recovered: u64,
}

/// One type of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventType {
    /// Its name, e.g. `lead.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it means.
    pub description: String,
    /// An example envelope.
    #[schema(value_type = Object)]
    pub example: serde_json::Value,
}

/// `GET /api/v1/webhooks/event-types`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventTypeList {
    /// Every type an endpoint may subscribe to.
    pub data: Vec<EventType>,
}

/// The body of a delivery: `{id, type, apiVersion, createdAt, version, data}`, written
/// directly so that every attempt of one event sends the same bytes (`data` is stored JSON,
/// inserted as it is). `version` increases with each message about the same object.
pub fn envelope(id: &str, kind: &str, created_at: Timestamp, version: i64, data: &str) -> String {
    format!(
        "{{\"id\":\"{id}\",\"type\":\"{kind}\",\"apiVersion\":\"{API_VERSION}\",\
         \"createdAt\":\"{}\",\"version\":{version},\"data\":{data}}}",
        created_at.to_iso()
    )
}

/// What the validators enforce, as JSON Schema keywords for the OpenAPI document.
pub fn schema_constraints() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;
    // An absolute `https://` URL whose host is not internal: said in words (the field's
    // description); scripts/schemathesis_hooks.py teaches the generator.
    let url = json!({"minLength": 1, "maxLength": URL_MAX});
    let description = json!({"maxLength": DESCRIPTION_MAX});
    // One form a valid secret may take (`whsec_` + base64 of 32 bytes); the server also
    // takes 24–64 bytes, which one pattern cannot state with base64's trailing-bit rule.
    let secret = json!({"pattern": "^whsec_[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"});
    let mut types: Vec<&str> = synaptiq_core::event::EventKind::webhook_catalogue()
        .map(|k| k.as_str())
        .collect();
    types.push("*");
    let events = json!({"minItems": 1, "maxItems": 64, "items": {"enum": types}});
    vec![
        ("CreateWebhookEndpoint", "secret", secret),
        ("CreateWebhookEndpoint", "url", url.clone()),
        ("CreateWebhookEndpoint", "events", events.clone()),
        ("CreateWebhookEndpoint", "description", description.clone()),
        ("UpdateWebhookEndpoint", "url", url),
        ("UpdateWebhookEndpoint", "events", events),
        ("UpdateWebhookEndpoint", "description", description),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_the_json_it_claims() {
        let body = envelope(
            "evt_01HQ3VXK9BWMN4F6T2P8R5GYSC",
            "lead.created",
            Timestamp(1_775_034_900_000),
            3,
            r#"{"id":"lead_1","tags":["a"]}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["type"], "lead.created");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["createdAt"], "2026-04-01T09:15:00.000Z");
        assert_eq!(v["version"], 3);
        assert_eq!(v["data"]["tags"][0], "a");
    }
}
