//! Field-level validation: the `param` and message of a 400 `invalid_request`.

/// A request field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The offending field, as named on the wire (camelCase).
    pub param: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.param, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Deserializes an optional integer from any JSON number without a fractional part (`84`,
/// `84.0`, `8.4e1`): what JSON Schema calls an `integer`, as the OpenAPI document promises.
/// Fractions and numbers outside `T` are refused; `null` is `None`.
pub(crate) fn optional_integer<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::Deserialize;
    use serde::de::{Error, Unexpected};
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        // ±2^63 bounds the floats that convert to i64 exactly.
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18 => f as i64,
        (None, Some(f)) => {
            return Err(D::Error::invalid_value(Unexpected::Float(f), &"an integer"));
        }
        (None, None) => return Err(D::Error::custom("expected an integer")),
    };
    T::try_from(whole)
        .map(Some)
        .map_err(|_| D::Error::invalid_value(Unexpected::Signed(whole), &"a smaller integer"))
}

/// Checks a stored text: at most `max` characters and no U+0000 ([`NO_NUL_PATTERN`]).
pub fn text(param: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {max} characters"),
        ));
    }
    no_nul(param, value)
}

/// Refuses U+0000, which PostgreSQL cannot store in (or compare with) a `text` value, and
/// which ends an SQLite FTS5 query string early (`unterminated string`). Refused on both
/// backends alike, so what one accepts the other stores.
pub fn no_nul(param: &str, value: &str) -> Result<(), FieldError> {
    if value.contains('\0') {
        return Err(FieldError::new(
            param,
            format!("{param} must not contain U+0000"),
        ));
    }
    Ok(())
}

/// The OpenAPI `pattern` that [`no_nul`] enforces: any text without U+0000.
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// The OpenAPI `pattern` of a name or search text: not blank — at least one character that is
/// not whitespace in the sense of `str::trim` (`char::is_whitespace`), the class spelled out so
/// that every JSON Schema engine (ECMA-262, Python, Rust) reads it alike — and without U+0000
/// (see [`no_nul`]).
pub const NOT_BLANK_TEXT_PATTERN: &str =
    r"^[^\x00]*[^\x00\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$";

/// The OpenAPI `pattern` that [`email`] enforces (with `maxLength: 254`): a local part of 1–64
/// characters without `@`, whitespace or control characters; `@`; at least two dot-separated
/// DNS labels of 1–63 ASCII letters, digits and inner hyphens (internationalized domains in
/// their `xn--` form).
pub const EMAIL_PATTERN: &str = r"^[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";

/// A pragmatic email check, exactly [`EMAIL_PATTERN`] with at most 254 characters: one `@`, a
/// local part of 1–64 characters without whitespace or control characters, and a dotted ASCII
/// domain. (Full RFC 5322 parsing accepts addresses no mail system delivers to; this matches
/// what sales tools accept, and what the OpenAPI document promises.)
pub fn email(param: &str, value: &str) -> Result<(), FieldError> {
    let bad = || FieldError::new(param, format!("{param} must be a valid email address"));
    if value.chars().count() > 254 {
        return Err(bad());
    }
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.chars().count() > 64
        || local.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || l.len() > 63
                || !l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The documented patterns, compiled once.
    fn re(pattern: &'static str) -> &'static regex::Regex {
        use std::collections::HashMap;
        use std::sync::{LazyLock, Mutex};
        static CACHE: LazyLock<Mutex<HashMap<&'static str, &'static regex::Regex>>> =
            LazyLock::new(Mutex::default);
        let mut cache = CACHE.lock().expect("not poisoned");
        cache.entry(pattern).or_insert_with(|| {
            Box::leak(Box::new(
                regex::Regex::new(pattern).expect("the documented pattern compiles"),
            ))
        })
    }

    proptest! {
        /// The OpenAPI document promises `pattern: EMAIL_PATTERN, maxLength: 254`; the validator
        /// accepts exactly that.
        #[test]
        fn email_is_its_documented_pattern(s in prop_oneof![
            ".{0,40}",
            "[a-zA-Z0-9é.+_ \t\u{85}\u{a0}\u{3000}@-]{0,70}@[a-zA-Z0-9ñ.@-]{0,70}",
            "[a-z]{60,70}@[a-z]{1,3}\\.[a-z-]{1,70}",
        ]) {
            let documented = s.chars().count() <= 254 && re(EMAIL_PATTERN).is_match(&s);
            prop_assert_eq!(email("email", &s).is_ok(), documented, "{:?}", s);
        }

        /// `NOT_BLANK_TEXT_PATTERN` matches exactly the texts `str::trim` leaves non-empty
        /// and that hold no U+0000; `NO_NUL_PATTERN` exactly those `no_nul` accepts.
        #[test]
        fn not_blank_is_what_trim_keeps_and_nul_is_refused(s in prop_oneof![
            ".{0,12}",
            "[ \t\n\r\u{0}\u{b}\u{c}\u{1c}\u{85}\u{a0}\u{1680}\u{2000}\u{200b}\u{2028}\u{202f}\u{3000}\u{feff}a]{0,6}",
        ]) {
            prop_assert_eq!(
                re(NOT_BLANK_TEXT_PATTERN).is_match(&s),
                !s.trim().is_empty() && !s.contains('\0'),
                "{:?}", s
            );
            prop_assert_eq!(re(NO_NUL_PATTERN).is_match(&s), no_nul("x", &s).is_ok(), "{:?}", s);
        }

        /// `KeyId::PATTERN` (the `keyId` filter and the `{id}` of key routes) accepts exactly
        /// what `KeyId::parse` accepts.
        #[test]
        fn key_id_is_its_documented_pattern(s in prop_oneof![
            "key_[0-9A-Za-z]{24,27}",
            "(key|lead)_[0-9A-HJKMNP-TV-Z]{26}",
            ".{0,32}",
        ]) {
            use synaptiq_core::ids::KeyId;
            prop_assert_eq!(KeyId::parse(&s).is_ok(), re(KeyId::PATTERN).is_match(&s), "{:?}", s);
        }
    }

    #[test]
    fn integers_may_be_written_as_integral_numbers() {
        #[derive(serde::Deserialize)]
        struct S {
            #[serde(default, deserialize_with = "optional_integer")]
            n: Option<u8>,
        }
        let n = |json: &str| serde_json::from_str::<S>(json).map(|s| s.n).ok();
        assert_eq!(n(r#"{"n": 84}"#), Some(Some(84)));
        // Regression (schemathesis): JSON Schema's `integer` includes 84.0 and 8.4e1.
        assert_eq!(n(r#"{"n": 84.0}"#), Some(Some(84)));
        assert_eq!(n(r#"{"n": 8.4e1}"#), Some(Some(84)));
        assert_eq!(n(r#"{"n": null}"#), Some(None));
        assert_eq!(n("{}"), Some(None));
        for bad in [
            r#"{"n": 84.5}"#,
            r#"{"n": 256}"#,
            r#"{"n": -1}"#,
            r#"{"n": "84"}"#,
            r#"{"n": 1e300}"#,
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "jane.doe+x@acme.io", "x@sub.example.com"] {
            assert!(email("email", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a b@c.io", "a@b..c", "a@@b.co", "a@-b.co",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        // Lengths count characters, as JSON Schema's maxLength does.
        let local = "é".repeat(64);
        assert!(email("email", &format!("{local}@b.co")).is_ok());
        assert!(email("email", &format!("{local}é@b.co")).is_err());
        // Domains are ASCII (IDNs in their xn-- form), as the documented pattern says.
        assert!(email("email", "a@xn--espaa-rta.es").is_ok());
        assert!(email("email", "a@españa.es").is_err());
        assert!(email("email", "a\u{85}b@c.io").is_err());
    }
}
