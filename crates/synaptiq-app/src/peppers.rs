//! Pepper safety: a node runs only with the pepper its database's keys were hashed under. A
//! node with another pepper would answer 401 to every one of those keys and say nothing.

use synaptiq_core::hash::Pepper;
use synaptiq_store::{PepperVersion, StoreError};

use crate::Services;

/// Why a node must not run with the pepper it was given.
#[derive(Debug, thiserror::Error)]
pub enum PepperProblem {
    /// The database recorded another pepper under the same version.
    #[error(
        "the key pepper is not this database's: its pepper v{version} has fingerprint \
         {recorded}…, this node's v{version} has {configured}…, so every key made under the \
         database's pepper would be refused. Start this node with the same pepper as the \
         others (SYNAPTIQ_KEY_PEPPER, or the `pepper` file of the data directory that created \
         these keys)"
    )]
    Mismatch {
        /// The version both claim.
        version: u16,
        /// The first 8 hex characters of the recorded fingerprint.
        recorded: String,
        /// The first 8 hex characters of this node's.
        configured: String,
    },
    /// Keys were hashed under a version this node does not have.
    #[error(
        "this database holds {keys} usable key(s) hashed under pepper v{version}, and this \
         node has {configured}: those keys would all be refused. Start this node with the \
         pepper v{version} too (SYNAPTIQ_KEY_PEPPER or the `pepper` file may list several, \
         current first)"
    )]
    OtherVersion {
        /// The version the keys need.
        version: u16,
        /// How many usable keys need it.
        keys: u64,
        /// This node's versions, e.g. `v2, v1`.
        configured: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Services {
    /// Checks this node's `peppers` (current first) against the database: every usable key
    /// must be hashed under one of their versions, and each version's recorded fingerprint
    /// must be that pepper's. A version seen for the first time is recorded (so is the version
    /// of keys made before fingerprints were recorded: the first node to start after the
    /// upgrade vouches for it).
    pub async fn check_pepper(&self, peppers: &[Pepper]) -> Result<(), PepperProblem> {
        let versions = self.store.pepper_versions().await?;
        let known = |v: u16| peppers.iter().any(|p| p.version() == v);
        if let Some(v) = versions.iter().find(|v| !known(v.version) && v.keys > 0) {
            let configured: Vec<String> = peppers
                .iter()
                .map(|p| format!("v{}", p.version()))
                .collect();
            return Err(PepperProblem::OtherVersion {
                version: v.version,
                keys: v.keys,
                configured: configured.join(", "),
            });
        }
        for pepper in peppers {
            let mine = pepper.fingerprint();
            let recorded = self.store.record_pepper(pepper.version(), &mine).await?;
            if recorded != mine {
                return Err(PepperProblem::Mismatch {
                    version: pepper.version(),
                    recorded: recorded.chars().take(8).collect(),
                    configured: mine.chars().take(8).collect(),
                });
            }
        }
        Ok(())
    }

    /// Every pepper version the database knows, with its fingerprint and usable keys.
    pub async fn pepper_versions(&self) -> Result<Vec<PepperVersion>, StoreError> {
        self.store.pepper_versions().await
    }
}
