//! Scopes and environments, exactly as the seed defines them.
//!
//! | scope | methods |
//! |---|---|
//! | read | GET (and HEAD) |
//! | write | GET, POST, PATCH |
//! | admin | GET, POST, PATCH, DELETE |

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a key may do. Ordered: `Read < Write < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET and HEAD.
    Read,
    /// Read plus POST and PATCH.
    Write,
    /// Everything, including DELETE and key/webhook management.
    Admin,
}

impl Scope {
    /// All scopes, weakest first.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    /// The scope an HTTP method needs on customer data. Unknown methods need `admin`.
    pub fn for_method(method: &str) -> Scope {
        match method {
            "GET" | "HEAD" => Scope::Read,
            "POST" | "PATCH" => Scope::Write,
            _ => Scope::Admin,
        }
    }

    /// Whether a key with this scope may do what `needed` allows.
    pub fn satisfies(self, needed: Scope) -> bool {
        self >= needed
    }

    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Production (`sk_live_`) or sandbox (`sk_test_`) data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Real data.
    Live,
    /// The isolated sandbox.
    Test,
}

impl Environment {
    /// Both environments.
    pub const ALL: [Environment; 2] = [Environment::Live, Environment::Test];

    /// The key prefix for this environment.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Environment::Live => "sk_live_",
            Environment::Test => "sk_test_",
        }
    }

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_table() {
        let allowed = |s: Scope, m: &str| s.satisfies(Scope::for_method(m));
        assert!(allowed(Scope::Read, "GET") && allowed(Scope::Read, "HEAD"));
        assert!(!allowed(Scope::Read, "POST") && !allowed(Scope::Read, "PATCH"));
        assert!(!allowed(Scope::Read, "DELETE"));
        assert!(allowed(Scope::Write, "GET") && allowed(Scope::Write, "POST"));
        assert!(allowed(Scope::Write, "PATCH") && !allowed(Scope::Write, "DELETE"));
        for m in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(allowed(Scope::Admin, m));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        for e in Environment::ALL {
            assert_eq!(Environment::parse(e.as_str()), Some(e));
        }
    }
}

/// A key's status at a given instant, derived from its stored facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Replaced by a rotation, usable until its deadline.
    Rotating,
    /// Past its `expiresAt` (or its rotation deadline).
    Expired,
    /// Ended by a revocation.
    Revoked,
}

impl KeyStatus {
    /// Derives the status: revocation wins, then expiry, then rotation.
    pub fn derive(revoked: bool, expires_at_ms: Option<i64>, rotated: bool, now_ms: i64) -> Self {
        if revoked {
            KeyStatus::Revoked
        } else if expires_at_ms.is_some_and(|e| e <= now_ms) {
            KeyStatus::Expired
        } else if rotated {
            KeyStatus::Rotating
        } else {
            KeyStatus::Active
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotating => "rotating",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Rotating, Self::Expired, Self::Revoked]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Whether a request may be served with a key in this status.
    pub fn usable(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::Rotating)
    }
}
