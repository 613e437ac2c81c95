//! How webhook endpoints and deliveries are shown: rows built from the API's wire types
//! (which never hold a secret), so the pages show exactly what `GET /api/v1/webhooks` does.

use synaptiq_app::webhooks::event_types;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::{WebhookDelivery, WebhookEndpoint};

use crate::view::{When, when};

/// Most bytes of a response body shown (the worker keeps the first 4 KB).
pub const BODY_SHOWN: usize = 4096;

/// One endpoint as shown.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    /// `whep_…`.
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// The note, or empty.
    pub description: String,
    /// `live` or `test`.
    pub environment: String,
    /// The types it receives; empty when it receives all.
    pub events: Vec<String>,
    /// Whether it receives every type.
    pub all_events: bool,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// `enabled`, `failing` or `disabled` (the badge).
    pub status: &'static str,
    /// Why it is disabled, in words.
    pub disabled_reason: String,
    /// When it was disabled.
    pub disabled_at: Option<When>,
    /// Failed attempts since the last success.
    pub failures: u64,
    /// The first failure since the last success.
    pub failing_since: Option<When>,
    /// When it will be disabled if nothing succeeds before.
    pub disables_at: Option<When>,
    /// While a rotated secret still signs: until when.
    pub old_secret_until: Option<When>,
    /// Creation.
    pub created: When,
}

/// Why an endpoint is disabled, for people.
pub fn reason_text(code: &str) -> String {
    match code {
        "manual" => "Disabled by a user of this organization.".to_owned(),
        "gone" => "The receiver answered 410 Gone.".to_owned(),
        "failing" => "Every delivery failed for 5 days.".to_owned(),
        other => other.to_owned(),
    }
}

impl EndpointRow {
    /// The row of `e` at `now`.
    pub fn new(e: &WebhookEndpoint, now: Timestamp) -> Self {
        let all_events = e.events.iter().any(|t| t == "*");
        let status = match (e.enabled, e.health.consecutive_failures) {
            (false, _) => "disabled",
            (true, 0) => "enabled",
            (true, _) => "failing",
        };
        Self {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone().unwrap_or_default(),
            environment: e.environment.clone(),
            events: if all_events {
                Vec::new()
            } else {
                e.events.clone()
            },
            all_events,
            enabled: e.enabled,
            status,
            disabled_reason: e
                .disabled_reason
                .as_deref()
                .map_or_else(String::new, reason_text),
            disabled_at: e.disabled_at.map(|t| when(t, now)),
            failures: e.health.consecutive_failures,
            failing_since: e.health.failing_since.map(|t| when(t, now)),
            disables_at: e.health.disables_at.map(|t| when(t, now)),
            old_secret_until: e.previous_secret_expires_at.map(|t| when(t, now)),
            created: when(e.created_at, now),
        }
    }
}

/// One delivery as shown.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The event id (`evt_…`, the `webhook-id` header).
    pub id: String,
    /// Its type.
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: u64,
    /// The last answer's HTTP status.
    pub response_status: Option<u16>,
    /// Whether that status is a success (2xx).
    pub response_ok: bool,
    /// `123 ms`.
    pub latency: Option<String>,
    /// The last failure's code (`timeout`, `http_status`, …).
    pub error: Option<String>,
    /// When the next attempt is due.
    pub next_attempt: Option<When>,
    /// When the last attempt was made.
    pub last_attempt: Option<When>,
    /// When the event happened.
    pub created: When,
    /// The first 4 KB of the last answer's body (empty: none).
    pub body: String,
}

impl DeliveryRow {
    /// The row of `d` at `now`.
    pub fn new(d: WebhookDelivery, now: Timestamp) -> Self {
        Self {
            id: d.id,
            kind: d.kind,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            response_ok: d.response_status.is_some_and(|s| (200..300).contains(&s)),
            latency: d.latency_ms.map(|ms| format!("{ms} ms")),
            error: d.error,
            next_attempt: d.next_attempt_at.map(|t| when(t, now)),
            last_attempt: d.last_attempt_at.map(|t| when(t, now)),
            created: when(d.created_at, now),
            body: d.response_body.map(|b| head(&b)).unwrap_or_default(),
        }
    }
}

/// The first [`BODY_SHOWN`] bytes of `s`, cut at a character boundary.
pub fn head(s: &str) -> String {
    let mut end = s.len().min(BODY_SHOWN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// One event type of the catalogue, as a checkbox.
#[derive(Debug, Clone)]
pub struct TypeChoice {
    /// `lead.created`.
    pub kind: String,
    /// What it means.
    pub description: String,
    /// Whether nothing records it yet (its example has no data).
    pub not_yet: bool,
    /// Whether it is checked.
    pub checked: bool,
}

/// The catalogue as checkboxes, `checked` ticked.
pub fn type_choices(checked: &[String]) -> Vec<TypeChoice> {
    event_types()
        .data
        .into_iter()
        .map(|t| {
            let not_yet = t
                .example
                .get("data")
                .and_then(|d| d.as_object())
                .is_some_and(|o| o.is_empty());
            let description = synaptiq_core::event::EventKind::parse(&t.kind)
                .map_or(t.description.as_str(), |k| k.description())
                .replace('`', "");
            TypeChoice {
                checked: checked.contains(&t.kind),
                kind: t.kind,
                description,
                not_yet,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_at_4_kb_on_a_character_boundary() {
        assert_eq!(head("ok"), "ok");
        let long = "é".repeat(3000);
        let cut = head(&long);
        assert!(cut.len() <= BODY_SHOWN && cut.len() >= BODY_SHOWN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_catalogue_offers_every_type_unchecked() {
        let all = type_choices(&[]);
        assert!(all.iter().any(|t| t.kind == "lead.created" && !t.not_yet));
        assert!(all.iter().any(|t| t.kind == "message.sent" && t.not_yet));
        assert!(
            all.iter()
                .all(|t| !t.checked && !t.description.contains('`'))
        );
        let some = type_choices(&["webhook.test".to_owned()]);
        assert_eq!(some.iter().filter(|t| t.checked).count(), 1);
    }
}
