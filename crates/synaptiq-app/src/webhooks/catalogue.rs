//! `GET /api/v1/webhooks/event-types`: every type an endpoint may subscribe to, with its
//! description and an example envelope whose `data` is built from the real wire types, so an
//! example cannot drift from what is sent.

use std::collections::BTreeMap;

use synaptiq_core::event::EventKind;
use synaptiq_types::keys::ApiKey;
use synaptiq_types::leads::{Lead, LeadSource, LeadStatus};
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::{EventType, EventTypeList, envelope};

/// 2026-04-01T09:15:00.000Z, the documentation's example time.
const EXAMPLE_TIME: Timestamp = Timestamp(1_775_034_900_000);

fn example_lead(status: LeadStatus) -> Lead {
    Lead {
        id: "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC".to_owned(),
        email: "jane@acme.example".to_owned(),
        name: Some("Jane Doe".to_owned()),
        company: Some("Acme".to_owned()),
        title: Some("Head of Sales".to_owned()),
        phone: None,
        status,
        score: 72,
        source: LeadSource::Chat,
        tags: vec!["enterprise".to_owned()],
        custom_fields: BTreeMap::from([("dealValue".to_owned(), "25000".to_owned())]),
        first_seen_at: EXAMPLE_TIME,
        last_active_at: EXAMPLE_TIME,
        created_at: EXAMPLE_TIME,
        updated_at: EXAMPLE_TIME,
    }
}

fn example_key(status: &str) -> ApiKey {
    ApiKey {
        id: "key_01HQ3VXK9BWMN4F6T2P8R5GYSC".to_owned(),
        object: "api_key".to_owned(),
        name: "CRM sync".to_owned(),
        hint: "sk_live_a1B2…x9Y8".to_owned(),
        scope: "read".to_owned(),
        environment: "live".to_owned(),
        status: status.to_owned(),
        allowed_ips: vec![],
        created_at: EXAMPLE_TIME,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
        rotated_from: None,
        rotated_to: None,
        exposed_at: None,
        revoked_at: None,
    }
}

/// The example `data` of `kind`, or `None` for types nothing records yet (they arrive with
/// conversations, chat and the knowledge base).
fn example_data(kind: EventKind) -> Option<serde_json::Value> {
    use EventKind as K;
    let json = |v: Result<serde_json::Value, serde_json::Error>| v.ok();
    match kind {
        K::LeadCreated | K::LeadUpdated => {
            json(serde_json::to_value(example_lead(LeadStatus::New)))
        }
        K::LeadQualified => json(serde_json::to_value(example_lead(LeadStatus::Qualified))),
        K::LeadConverted => json(serde_json::to_value(example_lead(LeadStatus::Converted))),
        K::LeadDeleted => Some(serde_json::json!({
            "id": "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC", "deleted": true})),
        K::KeyCreated => json(serde_json::to_value(example_key("active"))),
        K::KeyRotated => json(serde_json::to_value(example_key("rotating"))),
        K::KeyRevoked => json(serde_json::to_value(example_key("revoked"))),
        K::KeyExpired => json(serde_json::to_value(example_key("expired"))),
        K::KeyExposed => json(serde_json::to_value(example_key("active"))),
        K::WebhookTest => Some(serde_json::json!({
            "endpointId": "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC",
            "message": "A test delivery from Synaptiq: your endpoint receives and verifies webhooks.",
            "requestedBy": "key_01HQ3VXK9BWMN4F6T2P8R5GYSC"})),
        K::WebhookEndpointDisabled => Some(serde_json::json!({
            "id": "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC", "object": "webhook_endpoint",
            "url": "https://crm.example.com/hooks/synaptiq", "enabled": false,
            "disabledReason": "gone"})),
        _ => None,
    }
}

/// The catalogue, in declaration order.
pub fn event_types() -> EventTypeList {
    let data = EventKind::webhook_catalogue()
        .map(|k| {
            let (data, description) = match example_data(k) {
                Some(d) => (d, k.description().to_owned()),
                None => (
                    serde_json::json!({}),
                    format!(
                        "{} (Not recorded yet: arrives with conversations and the knowledge base.)",
                        k.description()
                    ),
                ),
            };
            let body = envelope(
                "evt_01HQ3VXK9BWMN4F6T2P8R5GYSC",
                k.as_str(),
                EXAMPLE_TIME,
                1,
                &data.to_string(),
            );
            EventType {
                kind: k.as_str().to_owned(),
                description,
                example: serde_json::from_str(&body).unwrap_or_default(),
            }
        })
        .collect();
    EventTypeList { data }
}
