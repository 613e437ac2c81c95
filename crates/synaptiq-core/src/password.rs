//! Dashboard passwords: argon2id hashes in PHC string form, and their verification.
//!
//! Pure computation (no I/O beyond the OS random generator for salts), so both the CLI that
//! creates users and the server that logs them in share one implementation. argon2 is slow on
//! purpose (~20 ms with the default parameters, optimised even in debug builds by the
//! workspace profile); servers call [`verify`] off the async executor.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted for a dashboard user.
pub const MIN_LEN: usize = 12;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The OS random generator failed (no salt).
    #[error("OS random generator failed: {0}")]
    Random(String),
    /// argon2 refused its input (never with the fixed parameters used here).
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHashString(String);

impl PasswordHashString {
    /// Wraps a stored PHC string.
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHashString([redacted])")
    }
}

/// argon2id, version 0x13, the OWASP minimum of 19 MiB and 2 passes (the crate's defaults,
/// spelled out so a dependency update cannot weaken them silently).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<PasswordHashString, PasswordError> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| PasswordError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| PasswordHashString(h.to_string()))
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (constant-time comparison inside
/// argon2). A malformed stored string never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as [`verify`] against a real hash and returns `false`: used when the
/// account does not exist, so response timing does not reveal which emails have accounts.
pub fn verify_dummy(password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        hash("synaptiq-dummy-password")
            .map(|h| h.0)
            .unwrap_or_default()
    });
    let _ = verify(password, stored);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", h.as_str()));
        assert!(!verify("correct horse battery!", h.as_str()));
        assert!(!verify("anything", "not a phc string"));
        assert!(!verify_dummy("correct horse battery"));
        assert_eq!(format!("{h:?}"), "PasswordHashString([redacted])");
        // Salts differ.
        assert_ne!(h, hash("correct horse battery").unwrap());
    }
}
