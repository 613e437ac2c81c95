//! Verifying the webhooks Synaptiq sends (Standard Webhooks 1.0): check the signature over
//! the exact bytes received, then read the envelope.
//!
//! ```
//! # fn handle(headers: &reqwest::header::HeaderMap, body: &[u8]) {
//! match synaptiq_client::webhook::verify(headers, body, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
//!     Ok(event) => println!("{} {}", event.kind, event.id),
//!     Err(e) => eprintln!("refused: {e}"), // answer 400 or 401; never act on it
//! }
//! # }
//! ```

use reqwest::header::HeaderMap;
use serde::Deserialize;
use synaptiq_core::webhook::{VerifyError, WebhookSecret, verify as verify_signature};

/// A verified delivery's envelope.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    /// `evt_…`, the same as the `webhook-id` header and across retries: deduplicate on it.
    pub id: String,
    /// The event type, e.g. `lead.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The shape of `data` (`v1`).
    pub api_version: String,
    /// When the event happened (ISO 8601).
    pub created_at: String,
    /// Increases with each event about the same object: drop one older than what you hold.
    pub version: i64,
    /// The object, as the API shows it.
    pub data: serde_json::Value,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64 of 24–64 bytes.
    #[error("the secret is not a webhook secret: {0}")]
    Secret(#[from] synaptiq_core::webhook::SecretError),
    /// A `webhook-*` header is missing or not text.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The signature or timestamp did not verify.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// Verified, but not an envelope.
    #[error("the body is not a webhook envelope: {0}")]
    Body(#[from] serde_json::Error),
}

/// Verifies a delivery (`webhook-id`, `webhook-timestamp` within 5 minutes of now,
/// `webhook-signature`) against `secret` and returns its envelope.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<WebhookEvent, WebhookError> {
    let secret = WebhookSecret::parse(secret)?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookError::MissingHeader(name))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    verify_signature(
        &[&secret],
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
        body,
        now,
    )?;
    Ok(serde_json::from_slice(body)?)
}
