//! Every kind of domain event, with its wire name written once.
//!
//! An event is recorded in the same database transaction as the change it describes (see
//! `synaptiq-store`); the audit log shows the ones [`EventKind::audited`] selects, and the
//! webhook outbox and the analytics activity feed will read the same rows. Nowhere else in
//! the code is an event's name a string literal: a new kind is one line below.

use std::fmt;

/// Declares [`EventKind`] from `Variant => "wire.name", "description"` lines, keeping the name
/// table, the descriptions and [`EventKind::ALL`] in one place.
macro_rules! event_kinds {
    ($($variant:ident => $wire:literal, $what:literal,)+) => {
        /// What happened. The wire name (`key.created`) is [`EventKind::as_str`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $(#[doc = $what] $variant,)+
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)+];

            /// The wire name, e.g. `key.created`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $wire,)+
                }
            }

            /// What it means, one sentence (the webhook event catalogue shows it).
            pub const fn description(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $what,)+
                }
            }
        }
    };
}

event_kinds! {
    KeyCreated => "key.created",
        "A key was issued (by the API, the dashboard, the CLI, a rotation or the first run).",
    KeyRotated => "key.rotated", "A key was rotated: it now ends at its grace deadline.",
    KeyRevoked => "key.revoked", "A key was revoked.",
    KeyExpired => "key.expired", "A key's expiry time passed (recorded once, by the sweep).",
    KeyExposed => "key.exposed", "A key crossed the network in clear (plain HTTP).",
    KeyUpdated => "key.updated", "A key's name or allow-list changed.",
    KeyDeleted => "key.deleted", "A key was deleted.",
    LeadCreated => "lead.created", "A lead was created.",
    LeadUpdated => "lead.updated", "A lead changed.",
    LeadQualified => "lead.qualified",
        "A lead's status became `qualified` (recorded beside `lead.updated`).",
    LeadConverted => "lead.converted",
        "A lead's status became `converted` (recorded beside `lead.updated`).",
    LeadDeleted => "lead.deleted", "A lead was deleted.",
    ConversationStarted => "conversation.started", "A visitor started a conversation.",
    ConversationCompleted => "conversation.completed", "A conversation ended.",
    ConversationHandoff => "conversation.handoff",
        "A conversation was handed off to a human.",
    MessageReceived => "message.received", "A visitor's message arrived.",
    MessageSent => "message.sent", "The agent (or a human) answered.",
    IntentHighValue => "intent.high_value", "A visitor showed high buying intent.",
    KnowledgeDocumentReady => "knowledge.document.ready",
        "A knowledge-base document was processed and can be searched.",
    KnowledgeDocumentFailed => "knowledge.document.failed",
        "A knowledge-base document could not be processed.",
    WebhookTest => "webhook.test", "A test delivery, sent on request.",
    WebhookEndpointDisabled => "webhook.endpoint.disabled",
        "A webhook endpoint was disabled after failing deliveries (or a `410`).",
}

impl EventKind {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Whether the audit log (`GET /api/v1/audit-events`, the dashboard's Audit page) shows
    /// this kind: actions on keys (and, once they exist, on webhook endpoints). Customer-data
    /// events are in the same table for the webhook outbox and the activity feed.
    pub const fn audited(self) -> bool {
        matches!(
            self,
            EventKind::KeyCreated
                | EventKind::KeyRotated
                | EventKind::KeyRevoked
                | EventKind::KeyExpired
                | EventKind::KeyExposed
                | EventKind::KeyUpdated
                | EventKind::KeyDeleted
        )
    }

    /// Whether webhook endpoints can subscribe to this kind (the catalogue of
    /// `GET /api/v1/webhooks/event-types`): all but a key's renaming and deletion, which
    /// concern only the key's owner and are in the audit log.
    pub const fn in_webhook_catalogue(self) -> bool {
        !matches!(self, EventKind::KeyUpdated | EventKind::KeyDeleted)
    }

    /// The kinds webhook endpoints can subscribe to, in declaration order.
    pub fn webhook_catalogue() -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .iter()
            .copied()
            .filter(|k| k.in_webhook_catalogue())
    }

    /// The audited kinds, in the order the dashboard's filter offers them.
    pub fn audited_kinds() -> impl Iterator<Item = EventKind> {
        EventKind::ALL.iter().copied().filter(|k| k.audited())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn wire_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert!(seen.insert(k.as_str()), "{k} named twice");
            let (resource, verb) = k.as_str().split_once('.').expect("resource.verb");
            assert!(!resource.is_empty() && !verb.is_empty());
        }
        assert_eq!(EventKind::parse("key.unknown"), None);
    }

    /// The catalogue of the webhooks issue, exactly.
    #[test]
    fn the_webhook_catalogue() {
        let mut names: Vec<&str> = EventKind::webhook_catalogue()
            .map(EventKind::as_str)
            .collect();
        names.sort_unstable();
        let mut want = vec![
            "lead.created",
            "lead.updated",
            "lead.qualified",
            "lead.converted",
            "lead.deleted",
            "conversation.started",
            "conversation.completed",
            "conversation.handoff",
            "message.received",
            "message.sent",
            "intent.high_value",
            "key.created",
            "key.rotated",
            "key.revoked",
            "key.expired",
            "key.exposed",
            "knowledge.document.ready",
            "knowledge.document.failed",
            "webhook.test",
            "webhook.endpoint.disabled",
        ];
        want.sort_unstable();
        assert_eq!(names, want);
        for k in EventKind::webhook_catalogue() {
            let d = k.description();
            assert!(d.ends_with('.') && d.len() > 10, "{k}: {d}");
        }
    }

    #[test]
    fn the_audit_log_shows_key_events_only() {
        let audited: Vec<&str> = EventKind::audited_kinds().map(EventKind::as_str).collect();
        assert_eq!(
            audited,
            [
                "key.created",
                "key.rotated",
                "key.revoked",
                "key.expired",
                "key.exposed",
                "key.updated",
                "key.deleted"
            ]
        );
    }
}
