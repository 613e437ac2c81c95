//! A hash-map key for short strings, stored inline.
//!
//! The per-key maps of the hot path (rate-limit buckets, pending usage) are keyed by key ids
//! (`key_` + 26 characters). With `String` keys every lookup follows a pointer to compare the
//! id, one more cache miss per map when requests come from many keys; inline, the comparison
//! reads the table slot itself. Lookups by `&[u8]` allocate nothing (`Borrow<[u8]>`).
//! Its methods are `#[inline]`: they run inside the server's maps, another crate.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest string kept inline: an owner such as `ip:` + an IPv4-mapped IPv6 address.
const INLINE: usize = 46;

/// A short string (inline) or a longer one (on the heap).
#[derive(Clone)]
pub enum ShortKey {
    /// At most [`INLINE`] bytes.
    Inline(u8, [u8; INLINE]),
    /// Anything longer.
    Heap(Box<[u8]>),
}

impl ShortKey {
    /// The key for `s`.
    #[inline]
    pub fn new(s: &str) -> Self {
        let b = s.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                ShortKey::Inline(len, bytes)
            }
            _ => ShortKey::Heap(b.into()),
        }
    }

    /// The string's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ShortKey::Inline(len, bytes) => &bytes[..usize::from(*len)],
            ShortKey::Heap(b) => b,
        }
    }
}

impl PartialEq for ShortKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortKey {}

// Hashes exactly as the borrowed `[u8]` does, as `Borrow` requires.
impl Hash for ShortKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl Borrow<[u8]> for ShortKey {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inline_and_heap_keys_behave_as_their_strings() {
        let long = "x".repeat(INLINE + 1);
        let exact = "y".repeat(INLINE);
        let names = [
            "",
            "key_01HQ3VXK9BWMN4F6T2P8R5GYSC",
            "ip:::ffff:192.168.100.200",
            &exact,
            &long,
        ];
        let mut map = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            map.insert(ShortKey::new(n), i);
        }
        assert!(matches!(ShortKey::new(&exact), ShortKey::Inline(..)));
        assert!(matches!(ShortKey::new(&long), ShortKey::Heap(_)));
        for (i, n) in names.iter().enumerate() {
            assert_eq!(map.get(n.as_bytes()), Some(&i), "{n:?}");
            assert_eq!(ShortKey::new(n).as_bytes(), n.as_bytes());
        }
        assert_eq!(map.get(b"key_01HQ3VXK9BWMN4F6T2P8R5GYSD".as_slice()), None);
        assert_eq!(map.len(), names.len());
    }
}
