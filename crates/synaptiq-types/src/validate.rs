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

/// Checks a string's length in characters.
pub fn max_chars(param: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            param,
            format!("{param} must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no spaces or
/// control characters, at most 254 characters. (Full RFC 5322 parsing accepts addresses no
/// mail system delivers to; this matches what sales tools accept.)
pub fn email(param: &str, value: &str) -> Result<(), FieldError> {
    let bad = || FieldError::new(param, format!("{param} must be a valid email address"));
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || l.len() > 63
                || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
