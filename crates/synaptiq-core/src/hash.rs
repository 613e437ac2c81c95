//! The server pepper and key hashes.
//!
//! Keys are stored only as HMAC-SHA256(pepper, key). The pepper carries a version so it can be
//! rotated: each stored hash records the version it was made with.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Pepper length in bytes.
pub const PEPPER_LEN: usize = 32;

/// The secret that keys are hashed under. `Debug` is redacted.
#[derive(Clone)]
pub struct Pepper {
    version: u16,
    /// HMAC state keyed once; cloning it is cheaper than re-keying per request.
    mac: Hmac<Sha256>,
}

/// Why a pepper could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the key pepper must be `v<version>:<64 hex characters>` (32 random bytes)")]
pub struct PepperFormatError;

impl Pepper {
    /// A pepper from raw bytes.
    pub fn new(version: u16, bytes: &[u8; PEPPER_LEN]) -> Self {
        #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
        let mac = Hmac::<Sha256>::new_from_slice(bytes).expect("any key length");
        Self { version, mac }
    }

    /// Generates a random pepper, returning it with its encoded form `v1:<hex>`.
    pub fn generate(version: u16) -> Result<(Self, String), getrandom::Error> {
        let mut bytes = [0u8; PEPPER_LEN];
        getrandom::fill(&mut bytes)?;
        let encoded = format!("v{version}:{}", hex::encode(bytes));
        Ok((Self::new(version, &bytes), encoded))
    }

    /// Parses `v<version>:<hex>`.
    pub fn decode(s: &str) -> Result<Self, PepperFormatError> {
        let (v, hexpart) = s.trim().split_once(':').ok_or(PepperFormatError)?;
        let version: u16 = v
            .strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .ok_or(PepperFormatError)?;
        let raw = hex::decode(hexpart).map_err(|_| PepperFormatError)?;
        let bytes: [u8; PEPPER_LEN] = raw.try_into().map_err(|_| PepperFormatError)?;
        Ok(Self::new(version, &bytes))
    }

    /// A list of peppers, `v<N>:<hex>` each, separated by commas or whitespace (a pepper file
    /// may hold one per line). The first is the current one: new keys are hashed under it, and
    /// keys found under the others are re-hashed under it. Versions must differ.
    pub fn decode_list(s: &str) -> Result<Vec<Self>, PepperFormatError> {
        let peppers: Vec<Self> = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(Self::decode)
            .collect::<Result<_, _>>()?;
        let mut versions: Vec<u16> = peppers.iter().map(Self::version).collect();
        versions.sort_unstable();
        versions.dedup();
        if peppers.is_empty() || versions.len() != peppers.len() {
            return Err(PepperFormatError);
        }
        Ok(peppers)
    }

    /// The pepper's version, stored beside each hash.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// A fingerprint of this pepper that the database can keep: 32 hex characters of
    /// HMAC-SHA256(pepper, a fixed label). It tells two peppers apart and reveals nothing of
    /// either (recovering the pepper from it is as hard as breaking HMAC-SHA256), and it is
    /// never a key's hash (keys never equal the label).
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"synaptiq pepper fingerprint v1");
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// HMAC-SHA256 of a key under this pepper.
    pub fn hash(&self, key: &str) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        KeyHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pepper(v{}, [redacted])", self.version)
    }
}

/// The stored form of a key. Comparing two hashes is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl std::hash::Hash for KeyHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal hashes have equal bytes, so hashing the bytes agrees with `eq`.
        self.0.hash(state);
    }
}

impl PartialEq for KeyHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl KeyHash {
    /// From stored bytes; `None` when the length is wrong.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_hash_agree() {
        let (p, enc) = Pepper::generate(3).expect("csprng");
        let q = Pepper::decode(&enc).expect("decodes");
        assert_eq!(q.version(), 3);
        assert_eq!(p.hash("sk_test_x"), q.hash("sk_test_x"));
        assert_ne!(p.hash("sk_test_x"), p.hash("sk_test_y"));
        assert!(!format!("{p:?}").contains(&enc[3..]));
    }

    #[test]
    fn fingerprints_tell_peppers_apart_and_hide_them() {
        let (p, enc) = Pepper::generate(1).expect("csprng");
        let (q, _) = Pepper::generate(1).expect("csprng");
        let f = p.fingerprint();
        assert_eq!(f.len(), 32);
        assert_eq!(f, Pepper::decode(&enc).expect("decodes").fingerprint());
        assert_ne!(f, q.fingerprint());
        assert!(!enc.contains(&f) && !f.contains(&enc[3..19]));
    }

    #[test]
    fn lists_put_the_current_pepper_first_and_refuse_repeated_versions() {
        let (_, a) = Pepper::generate(2).expect("csprng");
        let (_, b) = Pepper::generate(1).expect("csprng");
        let list = Pepper::decode_list(&format!("{a},{b}")).expect("list");
        assert_eq!(list.iter().map(Pepper::version).collect::<Vec<_>>(), [2, 1]);
        let lines = Pepper::decode_list(&format!("{a}\n{b}\n")).expect("lines");
        assert_eq!(lines.len(), 2);
        assert!(Pepper::decode_list(&format!("{a},{a}")).is_err());
        assert!(Pepper::decode_list("").is_err());
    }

    #[test]
    fn bad_encodings_fail() {
        for bad in ["", "v1", "1:00", "v1:zz", "v1:00", "vx:00"] {
            assert!(Pepper::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matches_an_independent_hmac() {
        // Expected value from Python: hmac.new(b'\x0b' * 32, b'Hi There', hashlib.sha256).
        let p = Pepper::new(1, &[0x0b; 32]);
        assert_eq!(
            hex::encode(p.hash("Hi There").0),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }
}
