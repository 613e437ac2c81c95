//! What the guard adds to an answer: the rate-limit headers (the X- contract and the IETF
//! draft fields), deprecation headers near a key's end, and its own 403 and 429 errors.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_types::ErrorCode;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;
use crate::error::ApiError;
use crate::ratelimit::Verdict;

pub(super) const RETRY_AFTER_X: HeaderName = HeaderName::from_static("x-ratelimit-retryafter");
// Names as constants: `insert("x-…")` parses and lower-case-checks the name on every call.
const X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
const SUNSET: HeaderName = HeaderName::from_static("sunset");

pub(super) fn insufficient_scope(have: Scope, needed: Scope) -> ApiError {
    let challenge =
        format!(r#"Bearer realm="synaptiq", error="insufficient_scope", scope="{needed}""#);
    let mut err = ApiError::new(
        ErrorCode::Forbidden,
        format!("This API key has the '{have}' scope; this request requires the '{needed}' scope."),
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        err = err.with_header(header::WWW_AUTHENTICATE, v);
    }
    err
}

/// Rate-limit headers (the X- contract plus the IETF draft-09 fields), and deprecation
/// headers for a key near its end.
pub(super) fn with_key_headers(
    mut res: Response,
    app: &AppState,
    auth: &crate::auth::Verified,
    v: &Verdict,
    now: Timestamp,
) -> Response {
    let h = res.headers_mut();
    h.reserve(8);
    let reset_in = (v.reset_unix - now.unix_seconds()).max(0);
    // The five values are written into one buffer and shared by slices of it: one allocation
    // instead of one per header.
    let mut n = itoa::Buffer::new();
    let mut buf = Vec::with_capacity(96);
    let mut ends = [0usize; 5];
    buf.extend_from_slice(n.format(v.limit).as_bytes());
    ends[0] = buf.len();
    buf.extend_from_slice(n.format(v.decision.remaining).as_bytes());
    ends[1] = buf.len();
    buf.extend_from_slice(n.format(v.reset_unix).as_bytes());
    ends[2] = buf.len();
    buf.extend_from_slice(b"\"minute\";q=");
    buf.extend_from_slice(n.format(v.limit).as_bytes());
    buf.extend_from_slice(b";w=60");
    ends[3] = buf.len();
    buf.extend_from_slice(b"\"minute\";r=");
    buf.extend_from_slice(n.format(v.decision.remaining).as_bytes());
    buf.extend_from_slice(b";t=");
    buf.extend_from_slice(n.format(reset_in).as_bytes());
    ends[4] = buf.len();
    let all = axum::body::Bytes::from(buf);
    let names = [X_LIMIT, X_REMAINING, X_RESET, RATELIMIT_POLICY, RATELIMIT];
    let mut start = 0;
    for (name, end) in names.into_iter().zip(ends) {
        if let Ok(value) = HeaderValue::from_maybe_shared(all.slice(start..end)) {
            h.insert(name, value);
        }
        start = end;
    }
    if let Some(exp) = auth.hot.expires_at {
        let week = 7 * 24 * 3600;
        if auth.hot.status(now) == KeyStatus::Rotating
            || exp.unix_seconds() - now.unix_seconds() <= week
        {
            // RFC 9745: deprecated from the start of its last week (or now, if rotated);
            // RFC 8594: it stops working at `expiresAt`.
            let since = (exp.unix_seconds() - week).min(now.unix_seconds());
            if let Ok(v) = HeaderValue::from_str(&format!("@{since}")) {
                h.insert(DEPRECATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&exp.to_http_date()) {
                h.insert(SUNSET, v);
            }
            let link = format!(
                r#"<{}/docs/api-reference/rotation>; rel="deprecation""#,
                app.public_url
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                h.insert(header::LINK, v);
            }
        }
    }
    res
}

pub(super) fn throttled(secs: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimitExceeded,
        format!(
            "Too many failed authentication attempts from this address. Retry after {secs} seconds."
        ),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    .with_header(RETRY_AFTER_X, HeaderValue::from(secs))
}
