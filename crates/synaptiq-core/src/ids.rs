//! Prefixed identifiers: a type prefix plus a ULID, e.g. `lead_01HQ3VXK9BWMN4F6T2P8R5GYSC`.
//!
//! Each id is its own newtype so an organization id can never be passed where a key id is
//! expected; parsing checks the prefix and the ULID.

use std::fmt;

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id (expected `{prefix}` followed by a 26-character ULID)")]
pub struct IdError {
    /// The id kind, e.g. "lead".
    pub kind: &'static str,
    /// The expected prefix, e.g. "lead_".
    pub prefix: &'static str,
}

/// The ULID part of an id as a regular expression: 26 Crockford base32 characters (either
/// case), the first at most `7` (a ULID is 128 bits; 26 characters could hold 130).
macro_rules! ulid_pattern {
    () => {
        "[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}"
    };
}

/// The next ULID of this process. Monotonic (the `ulid` crate's generator): ULIDs made in one
/// millisecond increase in the order they were made, so records ordered by (time, id) — the
/// audit log, lists — keep their order within a millisecond instead of a random one. Falls
/// back to a fresh random ULID when a millisecond's sequence overflows.
#[expect(
    clippy::unwrap_or_default,
    reason = "`Ulid::default()` is the nil ULID; `Ulid::new()` a fresh random one"
)]
fn next_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    GENERATOR
        .lock()
        .ok()
        .and_then(|mut g| g.generate().ok())
        .unwrap_or_else(ulid::Ulid::new)
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The type prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// What [`Self::parse`] accepts, as a regular expression (for OpenAPI `pattern`).
            pub const PATTERN: &'static str = concat!("^", $prefix, ulid_pattern!(), "$");

            /// A new, unique id (ULIDs sort by creation time, and within this process by
            /// creation order).
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, next_ulid()))
            }

            /// Parses and validates an id received from outside.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let err = IdError { kind: $kind, prefix: $prefix };
                let rest = s.strip_prefix($prefix).ok_or(err.clone())?;
                // A first character above `7` overflows 128 bits; the decoder would silently drop
                // the top bits and alias another id (`lead_8…` = `lead_0…`).
                if !rest.as_bytes().first().is_some_and(|c| (b'0'..=b'7').contains(c)) {
                    return Err(err);
                }
                let ulid = ulid::Ulid::from_string(rest).map_err(|_| err.clone())?;
                // Canonical upper-case form, so lookups never miss on case.
                Ok(Self(format!("{}{}", $prefix, ulid)))
            }

            /// The id as it appears on the wire and in storage.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by id can be searched with a `&str` (no allocation on the hot path).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

prefixed_id!(
    /// An organization (a customer account).
    OrgId, "org_", "organization"
);
prefixed_id!(
    /// An API key (never the secret itself).
    KeyId, "key_", "key"
);
prefixed_id!(
    /// A lead.
    LeadId, "lead_", "lead"
);
prefixed_id!(
    /// A dashboard user.
    UserId, "user_", "user"
);
prefixed_id!(
    /// An audit event.
    AuditEventId, "aud_", "audit event"
);
prefixed_id!(
    /// A webhook endpoint.
    WebhookEndpointId, "whep_", "webhook endpoint"
);
prefixed_id!(
    /// An event as webhooks carry it (`webhook-id`); the same ULID as its `aud_` row.
    EventId, "evt_", "event"
);

impl EventId {
    /// The webhook id of the event recorded as `aud`: the same ULID under `evt_`.
    pub fn of(aud: &AuditEventId) -> Self {
        let ulid = aud
            .as_str()
            .get(AuditEventId::PREFIX.len()..)
            .unwrap_or_default();
        Self(format!("{}{ulid}", Self::PREFIX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_one_after_another_increase() {
        // Thousands of ids fall in each millisecond here; a random ULID part would put about
        // half of each consecutive pair out of order.
        let ids: Vec<AuditEventId> = (0..10_000).map(|_| AuditEventId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn round_trip_and_prefix_check() {
        let id = LeadId::generate();
        assert!(id.as_str().starts_with("lead_"));
        assert_eq!(LeadId::parse(id.as_str()), Ok(id.clone()));
        assert!(KeyId::parse(id.as_str()).is_err());
        assert!(LeadId::parse("lead_nope").is_err());
        assert!(LeadId::parse("").is_err());
    }

    #[test]
    fn ids_beyond_128_bits_are_rejected_not_aliased() {
        // Regression: `ulid` decodes `8…` (130 bits) by dropping the top bits, so `lead_8…`
        // used to fetch the lead `lead_0…`.
        let id = LeadId::parse("lead_01HQ3VXK9BWMN4F6T2P8R5GYSC").expect("valid");
        assert_eq!(id.as_str(), "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC");
        for first in ['8', '9', 'G', 'Z', 'z'] {
            let alias = format!("lead_{first}1HQ3VXK9BWMN4F6T2P8R5GYSC");
            assert!(LeadId::parse(&alias).is_err(), "{alias}");
        }
        assert!(LeadId::parse("lead_7ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_ok());
    }

    #[test]
    fn parse_canonicalises_case() {
        let id = OrgId::generate();
        let lower = format!("org_{}", id.as_str()["org_".len()..].to_lowercase());
        assert_eq!(OrgId::parse(&lower), Ok(id));
    }
}
