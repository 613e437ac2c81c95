//! Every kind of domain event, with its wire name written once.
//!
//! An event is recorded in the same database transaction as the change it describes (see
//! `synaptiq-store`); the audit log shows the ones [`EventKind::audited`] selects, and the
//! webhook outbox and the analytics activity feed will read the same rows. Nowhere else in
//! the code is an event's name a string literal: a new kind is one line below.

use std::fmt;

/// Declares [`EventKind`] from `Variant => "wire.name"` lines, keeping the name table and
/// [`EventKind::ALL`] in one place.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)+) => {
        /// What happened. The wire name (`key.created`) is [`EventKind::as_str`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)+
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
        }
    };
}

event_kinds! {
    /// A key was issued (by the API, the dashboard, the CLI, a rotation or the first run).
    KeyCreated => "key.created",
    /// A key was rotated: it now ends at its grace deadline.
    KeyRotated => "key.rotated",
    /// A key was revoked.
    KeyRevoked => "key.revoked",
    /// A key's expiry time passed (recorded once, by the sweep).
    KeyExpired => "key.expired",
    /// A key crossed the network in clear (plain HTTP).
    KeyExposed => "key.exposed",
    /// A key's name or allow-list changed.
    KeyUpdated => "key.updated",
    /// A key was deleted.
    KeyDeleted => "key.deleted",
    /// A lead was created.
    LeadCreated => "lead.created",
    /// A lead changed.
    LeadUpdated => "lead.updated",
    /// A lead's status became `qualified` (recorded beside `lead.updated`).
    LeadQualified => "lead.qualified",
    /// A lead's status became `converted` (recorded beside `lead.updated`).
    LeadConverted => "lead.converted",
    /// A lead was deleted.
    LeadDeleted => "lead.deleted",
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
