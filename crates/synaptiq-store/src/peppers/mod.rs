//! Key pepper versions: the fingerprint recorded for each, and how many keys each one hashed.

use async_trait::async_trait;
use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::KeyId;

use crate::error::Result;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_pepper_store;

/// What the database knows of the peppers its keys are hashed under.
#[async_trait]
pub trait PepperStore {
    /// Records `fingerprint` for pepper `version` unless one is recorded already (by any
    /// node); returns the fingerprint recorded for that version — `fingerprint` itself, or the
    /// one found. Two nodes starting at once with different peppers get the same answer.
    async fn record_pepper(&self, version: u16, fingerprint: &str) -> Result<String>;
    /// Every version recorded or used by a key, oldest first, with its fingerprint (if
    /// recorded) and its number of usable keys (neither revoked nor deleted).
    async fn pepper_versions(&self) -> Result<Vec<PepperVersion>>;
    /// Re-hashes a key found under an older pepper: its hash becomes `new` (made under pepper
    /// `version`) if it is still `old`. `false` when it was not (another node did it first,
    /// or the key is gone).
    async fn rehash_key(
        &self,
        id: &KeyId,
        old: &KeyHash,
        new: &KeyHash,
        version: u16,
    ) -> Result<bool>;
}

/// One pepper version as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PepperVersion {
    /// The version (`v<N>` of the pepper's encoding).
    pub version: u16,
    /// Its recorded fingerprint; `None` for keys made before fingerprints were recorded.
    pub fingerprint: Option<String>,
    /// Keys hashed under it that can still authenticate (neither revoked nor deleted).
    pub keys: u64,
}
