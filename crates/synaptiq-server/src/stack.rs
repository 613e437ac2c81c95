//! The one middleware stack, composed in [`router`], and the per-route guard that
//! authenticates, authorizes and rate-limits.
//!
//! Order, outermost first: request id + security headers → JSON bodies for bare 404/405 →
//! request timeout → body size → (per route) guard → handler.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use synaptiq_core::key;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;
use crate::auth::{AuthFailure, Cached, bearer_token};
use crate::error::ApiError;
use crate::extract::too_large;
use crate::ratelimit::Verdict;
use crate::request_id;
use crate::routes::{self, Access};

/// The client's address as the transport saw it (after trusted-proxy resolution).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct Caller {
    /// The key and its organization.
    pub auth: Arc<AuthRecord>,
    /// The rate-limit verdict of this request.
    pub verdict: Verdict,
    /// The client's address.
    pub ip: IpAddr,
}

impl Caller {
    /// The audit actor: the calling key and the client address.
    pub fn actor(&self) -> crate::keys::Actor {
        crate::keys::Actor {
            id: self.auth.key.id.to_string(),
            ip: Some(self.ip.to_string()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("handler needs a caller but its route is public"))
    }
}

/// Builds the whole application: routes from the table, each behind its guard, and the stack.
pub fn router(state: AppState) -> Router {
    let mut r: Router<AppState> = Router::new();
    for (def, method_router) in routes::table() {
        let guarded = method_router.layer(from_fn_with_state((state.clone(), def.access), guard));
        r = r.route(def.path, guarded);
    }
    r.fallback(not_found)
        .layer(from_fn_with_state(state.clone(), limits))
        .layer(from_fn(json_for_bare_errors))
        .layer(from_fn_with_state(
            state.public_url.clone(),
            request_id::middleware,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "No such route. See /docs/api-reference for the API.",
    )
}

/// Request timeout and the body-size limit declared by `Content-Length`.
/// How much of an oversized body is read and discarded so the client sees a clean 413
/// (larger uploads are cut off).
const DRAIN_FACTOR: usize = 8;

enum BodyRead {
    Complete(axum::body::Bytes),
    TooLarge,
    Failed,
    TimedOut,
}

/// Reads a body of at most `limit` bytes. Past the limit it keeps reading and discarding (up
/// to `DRAIN_FACTOR` × the limit) so the 413 reaches the client cleanly.
async fn read_body(
    body: axum::body::Body,
    limit: usize,
    deadline: tokio::time::Instant,
) -> BodyRead {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return BodyRead::TimedOut,
            Ok(None) => return BodyRead::Complete(buf.into()),
            Ok(Some(Err(_))) => return BodyRead::Failed,
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if buf.len() + data.len() > limit {
                        drain(body, limit * DRAIN_FACTOR, deadline).await;
                        return BodyRead::TooLarge;
                    }
                    buf.extend_from_slice(data);
                }
            }
        }
    }
}

/// Reads and discards up to `cap` bytes of `body` before `deadline`.
async fn drain(body: axum::body::Body, cap: usize, deadline: tokio::time::Instant) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    while seen <= cap {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}

async fn limits(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = app.config.body_limit;
    let timed_out = || {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "The request took too long. Retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        .into_response()
    };
    let deadline = tokio::time::Instant::now() + app.config.request_timeout;
    if declared.is_some_and(|n| n > limit as u64) {
        drain(req.into_body(), limit * DRAIN_FACTOR, deadline).await;
        return too_large(limit).into_response();
    }
    // The whole body (≤ the limit) is read before any handler or guard answers. An answer sent
    // while the client is still uploading makes HTTP/2 reset the stream, which clients such as
    // curl report as a framing error instead of showing our 401/403/429.
    let (parts, body) = req.into_parts();
    let bytes = match read_body(body, limit, deadline).await {
        BodyRead::Complete(b) => b,
        BodyRead::TooLarge => return too_large(limit).into_response(),
        BodyRead::Failed => {
            return ApiError::invalid("body", "The request body could not be read.")
                .into_response();
        }
        BodyRead::TimedOut => return timed_out(),
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    match tokio::time::timeout_at(deadline, next.run(req)).await {
        Ok(res) => res,
        Err(_) => timed_out(),
    }
}

/// Gives axum's own empty 405 answers our JSON body (keeping `Allow`).
async fn json_for_bare_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::METHOD_NOT_ALLOWED
        && !res.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = res.headers().get(header::ALLOW).cloned();
        let mut err = ApiError::new(
            ErrorCode::MethodNotAllowed,
            "This method is not allowed on this route.",
        );
        if let Some(a) = allow {
            err = err.with_header(header::ALLOW, a);
        }
        return err.into_response();
    }
    res
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// Authenticates, authorizes and rate-limits one request for a route with `access`.
async fn guard(
    State((app, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Response {
    let needed = match access {
        Access::Public => return next.run(req).await,
        Access::AnyKey => None,
        Access::Scope(s) => Some(s),
    };
    let ip = client_ip(&req);
    let auth = match authenticate(&app, req.headers(), ip).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let limit = app.config.rate_policy.limit(auth.key.scope, auth.org.plan);
    let now = Timestamp::now();
    let allowed_ips: Vec<_> = auth
        .key
        .allowed_ips
        .iter()
        .filter_map(|c| synaptiq_core::net::parse_cidr(c))
        .collect();
    if !synaptiq_core::net::ip_allowed(&allowed_ips, ip) {
        let err = ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "This API key may not be used from {ip}: the address is outside the key's allowedIps."
            ),
        );
        return with_key_headers(
            err.into_response(),
            &app,
            &auth,
            &app.limiter.peek_key(auth.key.id.as_str(), limit),
            now,
        );
    }
    if let Some(needed) = needed
        && !auth.key.scope.satisfies(needed)
    {
        let err = insufficient_scope(auth.key.scope, needed);
        let peek = app.limiter.peek_key(auth.key.id.as_str(), limit);
        return with_key_headers(err.into_response(), &app, &auth, &peek, now);
    }
    let verdict = app.limiter.check_key(auth.key.id.as_str(), limit);
    if !verdict.decision.allowed {
        let secs = verdict.retry_after_secs();
        let err = ApiError::new(
            ErrorCode::RateLimitExceeded,
            format!("Rate limit of {limit} requests per minute exceeded for this key. Retry after {secs} seconds."),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
        .with_header(header::HeaderName::from_static("x-ratelimit-retryafter"), HeaderValue::from(secs));
        return with_key_headers(err.into_response(), &app, &auth, &verdict, now);
    }
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    req.extensions_mut().insert(Caller {
        auth: auth.clone(),
        verdict,
        ip,
    });
    let res = next.run(req).await;
    app.usage.note(&auth.key.id, ip, user_agent.as_deref());
    with_key_headers(res, &app, &auth, &verdict, now)
}

fn insufficient_scope(have: Scope, needed: Scope) -> ApiError {
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

/// Rate-limit headers, and deprecation headers for a key near its end.
fn with_key_headers(
    mut res: Response,
    app: &AppState,
    auth: &AuthRecord,
    v: &Verdict,
    now: Timestamp,
) -> Response {
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(v.limit));
    h.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(v.decision.remaining),
    );
    h.insert("x-ratelimit-reset", HeaderValue::from(v.reset_unix));
    if let Some(exp) = auth.key.expires_at {
        let week = 7 * 24 * 3600;
        if auth.key.status(now) == KeyStatus::Rotating
            || exp.unix_seconds() - now.unix_seconds() <= week
        {
            // RFC 9745: the key is deprecated from the start of its last week (or now, if
            // rotated); RFC 8594: it stops working at `expiresAt`.
            let since = (exp.unix_seconds() - week).min(now.unix_seconds());
            h.insert(
                "deprecation",
                HeaderValue::from_str(&format!("@{since}"))
                    .unwrap_or(HeaderValue::from_static("@0")),
            );
            if let Ok(v) = HeaderValue::from_str(&exp.to_http_date()) {
                h.insert("sunset", v);
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

/// Verifies the request's key: format and checksum first (no lookup), then the cache, then
/// the store. Failures spend the client IP's failed-authentication budget; past it, 429.
async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Arc<AuthRecord>, ApiError> {
    let per_minute = app.config.rate_policy.auth_failures_per_minute;
    let fail = |f: AuthFailure| -> ApiError {
        let v = app.limiter.auth_failure(ip, per_minute);
        if v.decision.allowed {
            f.to_error()
        } else {
            throttled(v.retry_after_secs())
        }
    };
    let token = bearer_token(headers).map_err(fail)?;
    let parsed = key::parse(token).map_err(|_| fail(AuthFailure::Invalid))?;
    let hash = app.pepper.hash(parsed.as_str());
    let record = match app.keys.get(&hash) {
        Cached::Found(r) => Some(r),
        Cached::Missing => None,
        Cached::Unknown => {
            // A throttled address gets no storage lookups; keys already cached still work.
            if app.limiter.ip_blocked(ip, per_minute) {
                return Err(fail(AuthFailure::Invalid));
            }
            let found = app.store.find_by_hash(&hash).await?.map(Arc::new);
            app.keys.put(hash, found.clone());
            found
        }
    };
    let record = record.ok_or_else(|| fail(AuthFailure::Invalid))?;
    match record.key.status(Timestamp::now()) {
        KeyStatus::Revoked => Err(fail(AuthFailure::Revoked)),
        KeyStatus::Expired => Err(fail(AuthFailure::Expired)),
        KeyStatus::Active | KeyStatus::Rotating => Ok(record),
    }
}

fn throttled(secs: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimitExceeded,
        format!(
            "Too many failed authentication attempts from this address. Retry after {secs} seconds."
        ),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
    .with_header(
        header::HeaderName::from_static("x-ratelimit-retryafter"),
        HeaderValue::from(secs),
    )
}
