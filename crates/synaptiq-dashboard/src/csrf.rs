//! Cross-site request forgery defences, three layers deep:
//!
//! 1. The session cookie is `SameSite=Strict`: browsers do not send it on cross-site requests.
//! 2. Every POST must come from our own origin: a `Sec-Fetch-Site` other than `same-origin`,
//!    or an `Origin` that is not this server's, is refused. (Clients that send neither, such
//!    as scripts, still need layer 3.)
//! 3. Every form carries a synchronizer token bound to the session: SHA-256 over the session
//!    token with a domain label, so it changes with every sign-in, needs no storage, and
//!    cannot be computed from the database (which holds only a different hash of the token).
//!    It is compared in constant time (`subtle`).
//!
//! The sign-in form has no session yet: it uses a double-submit token in a separate
//! `__Host-` cookie (which no subdomain can plant) plus layer 2.

use axum::http::{HeaderMap, Uri, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name of the hidden form field that carries the token.
pub const FIELD: &str = "csrf";

/// The CSRF token of the session whose cookie value is `session_token`.
pub fn token_for(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"synaptiq dashboard csrf v1\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// Constant-time equality of two tokens (lengths are not secret).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of the `csrf` field of an `application/x-www-form-urlencoded` body.
pub fn form_token(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

/// Whether the form `body` carries `expected`.
pub fn form_token_matches(body: &[u8], expected: &str) -> bool {
    form_token(body).is_some_and(|t| tokens_equal(&t, expected))
}

/// Whether a state-changing request comes from this server's own pages, judging by the
/// headers browsers set and pages cannot forge (`Sec-Fetch-Site`, `Origin`).
///
/// Our origin is the public URL's, or `https://` + the `Host` (or HTTP/2 `:authority`) the
/// browser addressed, which a cross-site page cannot choose for a request to us.
pub fn same_origin(headers: &HeaderMap, uri: &Uri, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str));
    let ours = origin_of(public_url);
    origin.eq_ignore_ascii_case(ours)
        || host.is_some_and(|h| {
            origin
                .strip_prefix("https://")
                .is_some_and(|o| o.eq_ignore_ascii_case(h))
        })
}

/// `scheme://host[:port]` of a URL (drops any path).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_rules() {
        let uri: Uri = "/dashboard/keys".parse().unwrap_or_default();
        let url = "https://dash.example.com";
        assert!(
            same_origin(&headers(&[]), &uri, url),
            "scripts send neither"
        );
        assert!(same_origin(
            &headers(&[("origin", "https://dash.example.com")]),
            &uri,
            url
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "https://127.0.0.1:9443"),
                ("host", "127.0.0.1:9443"),
                ("sec-fetch-site", "same-origin"),
            ]),
            &uri,
            url
        ));
        for bad in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-site")]),
            headers(&[("origin", "http://dash.example.com")]),
            headers(&[
                ("origin", "https://evil.example"),
                ("host", "dash.example.com"),
            ]),
        ] {
            assert!(!same_origin(&bad, &uri, url), "{bad:?}");
        }
    }

    #[test]
    fn tokens() {
        let t = token_for("abc");
        assert_eq!(t.len(), 64);
        assert_ne!(t, token_for("abd"));
        assert!(form_token_matches(format!("a=1&csrf={t}").as_bytes(), &t));
        assert!(!form_token_matches(b"a=1", &t));
        assert!(!form_token_matches(b"csrf=", &t));
        assert!(!tokens_equal("", ""));
        assert_eq!(origin_of("https://h:1/x/y"), "https://h:1");
        assert_eq!(origin_of("https://h"), "https://h");
    }
}
