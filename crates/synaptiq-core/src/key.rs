//! The API key format.
//!
//! A key is `sk_live_` or `sk_test_`, then 36 base62 characters: 30 random ones from the
//! operating system's CSPRNG (~178 bits) and a 6-character base62 CRC32 of everything before
//! it, prefix included. The checksum lets us (and secret scanners) reject typos and made-up
//! keys without touching storage.

use std::fmt;

use crate::scope::Environment;

/// The base62 alphabet, in ASCII order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of `sk_live_` / `sk_test_`.
pub const PREFIX_LEN: usize = 8;
/// Random characters after the prefix.
pub const RANDOM_LEN: usize = 30;
/// Checksum characters at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

/// Why a string is not a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Neither `sk_live_` nor `sk_test_`.
    #[error("the key does not start with sk_live_ or sk_test_")]
    Prefix,
    /// Not exactly 44 characters.
    #[error("the key has the wrong length")]
    Length,
    /// A character outside base62.
    #[error("the key contains a character outside [0-9A-Za-z]")]
    Alphabet,
    /// The checksum does not match.
    #[error("the key's checksum does not match (mistyped or truncated key)")]
    Checksum,
}

/// A full, plain API key. Exists once, when a key is created; `Debug`/`Display` redact it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Generates a fresh key for `env` from the OS CSPRNG.
    pub fn generate(env: Environment) -> Result<Self, getrandom::Error> {
        let mut s = String::with_capacity(KEY_LEN);
        s.push_str(env.key_prefix());
        let mut produced = 0;
        let mut buf = [0u8; 64];
        while produced < RANDOM_LEN {
            getrandom::fill(&mut buf)?;
            for &b in &buf {
                // Rejection sampling: 248 = 4 × 62, so `b % 62` is uniform below it.
                if b < 248 && produced < RANDOM_LEN {
                    s.push(char::from(ALPHABET[usize::from(b % 62)]));
                    produced += 1;
                }
            }
        }
        let sum = checksum(s.as_bytes());
        s.push_str(&sum);
        Ok(Self(s))
    }

    /// Reveals the key. Call only to show it once to its owner or to hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The display hint: prefix, first four and last four characters, e.g. `sk_live_abcd…wxyz`.
    pub fn hint(&self) -> String {
        hint(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…[redacted])", &self.0[..PREFIX_LEN])
    }
}

/// A string that passed the format and checksum checks (not yet looked up).
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    raw: &'a str,
    env: Environment,
}

impl<'a> ParsedKey<'a> {
    /// The environment named by the prefix.
    pub fn environment(&self) -> Environment {
        self.env
    }

    /// The whole key (for hashing only).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The display hint.
    pub fn hint(&self) -> String {
        hint(self.raw)
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedKey({})", self.hint())
    }
}

/// Checks format and checksum. Constant work per input length; never allocates.
pub fn parse(raw: &str) -> Result<ParsedKey<'_>, KeyFormatError> {
    let env = if raw.starts_with(Environment::Live.key_prefix()) {
        Environment::Live
    } else if raw.starts_with(Environment::Test.key_prefix()) {
        Environment::Test
    } else {
        return Err(KeyFormatError::Prefix);
    };
    if raw.len() != KEY_LEN {
        return Err(KeyFormatError::Length);
    }
    let bytes = raw.as_bytes();
    if !bytes[PREFIX_LEN..].iter().all(u8::is_ascii_alphanumeric) {
        return Err(KeyFormatError::Alphabet);
    }
    let (body, sum) = bytes.split_at(KEY_LEN - CHECKSUM_LEN);
    if checksum_bytes(body) != sum {
        return Err(KeyFormatError::Checksum);
    }
    Ok(ParsedKey { raw, env })
}

/// Finds every well-formed key (valid checksum) in `text`, as byte ranges. Keys are found
/// wherever they sit — inside URLs (`token%3Dsk_live_…`), after `\n` escapes, glued to other
/// text: the 32-bit checksum, not word boundaries, is what rules out false positives.
pub fn find_keys(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(pos) = text[i..].find("sk_") {
        let start = i + pos;
        let end = start + KEY_LEN;
        if end <= text.len() && text.is_char_boundary(end) && parse(&text[start..end]).is_ok() {
            found.push(start..end);
            i = end;
        } else {
            i = start + 3;
        }
    }
    found
}

fn hint(raw: &str) -> String {
    let n = raw.len();
    if n < PREFIX_LEN + 8 {
        return format!("{}…", &raw[..raw.len().min(PREFIX_LEN)]);
    }
    format!("{}…{}", &raw[..PREFIX_LEN + 4], &raw[n - 4..])
}

fn checksum_bytes(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(body);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

fn checksum(body: &[u8]) -> String {
    checksum_bytes(body)
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(env: Environment) -> ApiKeySecret {
        ApiKeySecret::generate(env).expect("csprng")
    }

    #[test]
    fn generated_keys_parse() {
        for env in [Environment::Live, Environment::Test] {
            let k = key(env);
            assert_eq!(k.expose().len(), KEY_LEN);
            assert_eq!(parse(k.expose()).map(|p| p.environment()), Ok(env));
        }
    }

    #[test]
    fn debug_is_redacted() {
        let k = key(Environment::Live);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&k.expose()[PREFIX_LEN..]));
        let parsed = parse(k.expose()).expect("valid");
        assert!(!format!("{parsed:?}").contains(&k.expose()[PREFIX_LEN..]));
    }

    #[test]
    fn hint_shape() {
        let k = key(Environment::Test);
        let h = k.hint();
        assert!(h.starts_with("sk_test_"));
        assert_eq!(h.chars().count(), PREFIX_LEN + 4 + 1 + 4);
    }

    #[test]
    fn seed_example_is_rejected() {
        // The seed's illustrative key has no valid checksum.
        assert!(parse("sk_live_abc123def456ghi789jkl012mno345").is_err());
    }

    #[test]
    fn scan_finds_keys_in_text() {
        let k = key(Environment::Live);
        let text = format!("x = \"{}\"\nnot sk_live_short\n", k.expose());
        let found = find_keys(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].clone()], k.expose());
        for glued in [
            format!("a{}", k.expose()),
            format!("token%3D{}%22", k.expose()),
            format!("\\n{}x", k.expose()),
        ] {
            assert_eq!(find_keys(&glued).len(), 1, "{glued:?}");
        }
    }

    proptest! {
        #[test]
        fn keys_are_unique(_n in 0..64u8) {
            prop_assert_ne!(key(Environment::Test), key(Environment::Test));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,80}") {
            let _ = parse(&s);
            let _ = find_keys(&s);
        }

        /// Any character at any position — outside the alphabet too (`_`, `-`, non-ASCII,
        /// case flips) — makes the key invalid, whichever the environment.
        #[test]
        fn every_single_character_change_is_rejected(
            test in any::<bool>(),
            pos in 0usize..KEY_LEN,
            ch in any::<char>(),
        ) {
            let k = key(if test { Environment::Test } else { Environment::Live });
            let mut chars: Vec<char> = k.expose().chars().collect();
            prop_assume!(chars[pos] != ch);
            chars[pos] = ch;
            let changed: String = chars.into_iter().collect();
            prop_assert!(parse(&changed).is_err(), "{changed:?}");
            prop_assert!(find_keys(&changed).is_empty());
        }

        /// The prefix is covered by the checksum: the same body under the other environment's
        /// prefix is rejected, in both directions.
        #[test]
        fn the_environment_prefix_swap_is_rejected(test in any::<bool>()) {
            let (from, to) = if test {
                (Environment::Test, Environment::Live)
            } else {
                (Environment::Live, Environment::Test)
            };
            let k = key(from);
            let swapped = k.expose().replacen(from.key_prefix(), to.key_prefix(), 1);
            prop_assert_eq!(parse(&swapped).err(), Some(KeyFormatError::Checksum));
        }

        /// Swapping two different neighbours (the commonest typo) is rejected.
        #[test]
        fn adjacent_transpositions_are_rejected(pos in PREFIX_LEN..KEY_LEN - 1) {
            let k = key(Environment::Live);
            let mut bytes = k.expose().as_bytes().to_vec();
            prop_assume!(bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(parse(&changed).is_err());
        }

        /// A truncated key or one with anything appended is not a key; embedded in any text,
        /// the scanner still finds exactly the key.
        #[test]
        fn truncations_and_extensions_are_rejected(
            cut in 0usize..KEY_LEN,
            extra in ".{1,8}",
            before in "[^s]{0,20}",
        ) {
            let k = key(Environment::Test);
            prop_assert!(parse(&k.expose()[..cut]).is_err());
            let longer = format!("{}{extra}", k.expose());
            prop_assert_eq!(parse(&longer).err(), Some(KeyFormatError::Length));
            let text = format!("{before}{longer}");
            let found = find_keys(&text);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(&text[found[0].clone()], k.expose());
        }
    }

    #[test]
    fn every_substitution_exhaustively() {
        let k = key(Environment::Test);
        for pos in 0..KEY_LEN {
            for &ch in ALPHABET.iter().chain(b"_") {
                let mut bytes = k.expose().as_bytes().to_vec();
                if bytes[pos] == ch {
                    continue;
                }
                bytes[pos] = ch;
                let changed = String::from_utf8(bytes).expect("ascii");
                assert!(parse(&changed).is_err(), "accepted substitution at {pos}");
            }
        }
    }
}
