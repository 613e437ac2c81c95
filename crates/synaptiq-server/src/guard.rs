//! The per-route guard: authenticate, check the IP allow-list and scope, apply the rate
//! policy, then stamp the response with rate-limit and deprecation headers.
//!
//! Order matters for fairness: requests refused with 401 or 403 never reach the key's
//! buckets; failed authentications spend only the client IP's failure budget.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use synaptiq_core::gcra::Rate;
use synaptiq_core::key;
use synaptiq_core::plan::RatePolicy;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;
use crate::auth::{AuthFailure, Cached, bearer_token};
use crate::error::ApiError;
use crate::ratelimit::{Bucket, BucketKind, Verdict};
use crate::routes::{Access, RouteDef};

/// The client's address as the transport saw it (after trusted-proxy resolution).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct Caller {
    /// The key and its organization.
    pub auth: Arc<AuthRecord>,
    /// The per-minute rate-limit verdict of this request.
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

/// What the guard of one route knows, computed once when the router is built.
#[derive(Debug, Clone)]
pub struct RouteGuard {
    /// Required access.
    pub access: Access,
    /// The route's cap from the rate policy: (index, per minute, label).
    pub cap: Option<(usize, u32, Arc<str>)>,
}

impl RouteGuard {
    /// The guard for `def` under `policy`.
    pub fn new(def: &RouteDef, policy: &RatePolicy) -> Self {
        let cap = policy
            .route_cap(def.method.as_str(), def.path)
            .map(|(i, n)| (i, n, Arc::from(format!("{} {}", def.method, def.path))));
        Self {
            access: def.access,
            cap,
        }
    }
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ClientAddr>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

const RETRY_AFTER_X: HeaderName = HeaderName::from_static("x-ratelimit-retryafter");
// Names as constants: `insert("x-…")` parses and lower-case-checks the name on every call.
const X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
const SUNSET: HeaderName = HeaderName::from_static("sunset");

/// The buckets a request of `auth` on this route must fit in; the first is the per-minute one.
pub(crate) fn buckets(app: &AppState, auth: &AuthRecord, route: &RouteGuard) -> Vec<Bucket> {
    let policy = &app.config.rate_policy;
    let id = auth.key.id.as_str();
    let mut b = vec![Bucket {
        id: format!("{id}:m"),
        rate: Rate::per_minute(policy.limit(auth.key.scope, auth.org.plan)),
        kind: BucketKind::Minute,
    }];
    if let Some((i, n, label)) = &route.cap {
        b.push(Bucket {
            id: format!("{id}:r{i}"),
            rate: Rate::per_minute(*n),
            kind: BucketKind::Route(label.to_string()),
        });
    }
    if let Some(q) = policy.daily(auth.org.plan) {
        b.push(Bucket {
            id: format!("{id}:d"),
            rate: Rate::per_day(q),
            kind: BucketKind::Daily,
        });
    }
    b
}

/// Authenticates, authorizes and rate-limits one request.
pub async fn guard(
    State((app, route)): State<(AppState, RouteGuard)>,
    mut req: Request,
    next: Next,
) -> Response {
    let needed = match route.access {
        Access::Public => return next.run(req).await,
        Access::AnyKey => None,
        Access::Scope(s) => Some(s),
        // Mounted with `dashboard::session::guard` instead (stack.rs); never open to a key.
        Access::Session { .. } => {
            return ApiError::internal("a dashboard route reached the API-key guard")
                .into_response();
        }
    };
    let ip = client_ip(&req);
    let auth = match authenticate(&app, req.headers(), ip).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let now = Timestamp::now();
    let buckets = buckets(&app, &auth, &route);
    let owner = auth.key.id.as_str();
    let refuse = |err: ApiError, verdict: &Verdict| {
        let res = with_key_headers(err.into_response(), &app, &auth, verdict, now);
        app.usage.count(&auth.key, res.status());
        res
    };
    let allowed_ips: Vec<_> = auth
        .key
        .allowed_ips
        .iter()
        .filter_map(|c| synaptiq_core::net::parse_cidr(c))
        .collect();
    let scope_ok = needed.is_none_or(|n| auth.key.scope.satisfies(n));
    if !synaptiq_core::net::ip_allowed(&allowed_ips, ip) || !scope_ok {
        let peek = app
            .limiter
            .check(owner, &buckets[..1], false)
            .await
            .verdicts
            .remove(0);
        let err = if scope_ok {
            ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "This API key may not be used from {ip}: the address is outside the key's allowedIps."
                ),
            )
        } else {
            insufficient_scope(auth.key.scope, needed.unwrap_or(Scope::Admin))
        };
        return refuse(err, &peek);
    }
    let outcome = app.limiter.check(owner, &buckets, true).await;
    let minute = outcome.verdicts[0];
    if let Some(i) = outcome.refused {
        let v = &outcome.verdicts[i];
        let secs = v.retry_after_secs();
        let what = match &buckets[i].kind {
            BucketKind::Minute => format!(
                "Rate limit of {} requests per minute exceeded for this key",
                v.limit
            ),
            BucketKind::Route(r) => format!(
                "Rate limit of {} requests per minute on {r} exceeded for this key",
                v.limit
            ),
            BucketKind::Daily => {
                format!("Daily quota of {} requests exceeded for this key", v.limit)
            }
        };
        let err = ApiError::new(
            ErrorCode::RateLimitExceeded,
            format!("{what}. Retry after {secs} seconds."),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
        .with_header(RETRY_AFTER_X, HeaderValue::from(secs));
        let mut shown = minute;
        if i == 0 {
            shown = *v;
        }
        return refuse(err, &shown);
    }
    let _slot = match app.config.rate_policy.concurrency_per_key {
        Some(cap) => {
            match app.limiter.enter(owner, cap) {
                Some(slot) => Some(slot),
                None => {
                    let err = ApiError::new(
                    ErrorCode::RateLimitExceeded,
                    format!("This key already has {cap} requests in progress. Retry after 1 seconds."),
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from(1))
                .with_header(RETRY_AFTER_X, HeaderValue::from(1));
                    return refuse(err, &minute);
                }
            }
        }
        None => None,
    };
    // A clone of the header value shares the request's buffer (no copy).
    let user_agent = req.headers().get(header::USER_AGENT).cloned();
    req.extensions_mut().insert(Caller {
        auth: auth.clone(),
        verdict: minute,
        ip,
    });
    let res = next.run(req).await;
    let user_agent = user_agent.as_ref().and_then(|v| v.to_str().ok());
    app.usage.note(&auth.key.id, ip, user_agent);
    app.usage.count(&auth.key, res.status());
    with_key_headers(res, &app, &auth, &minute, now)
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

/// Rate-limit headers (the X- contract plus the IETF draft-09 fields), and deprecation
/// headers for a key near its end.
fn with_key_headers(
    mut res: Response,
    app: &AppState,
    auth: &AuthRecord,
    v: &Verdict,
    now: Timestamp,
) -> Response {
    let h = res.headers_mut();
    h.insert(X_LIMIT, HeaderValue::from(v.limit));
    h.insert(X_REMAINING, HeaderValue::from(v.decision.remaining));
    h.insert(X_RESET, HeaderValue::from(v.reset_unix));
    let reset_in = (v.reset_unix - now.unix_seconds()).max(0);
    // `try_from(String)` takes the buffer over instead of copying it.
    if let Ok(p) = HeaderValue::try_from(format!(r#""minute";q={};w=60"#, v.limit)) {
        h.insert(RATELIMIT_POLICY, p);
    }
    if let Ok(r) = HeaderValue::try_from(format!(
        r#""minute";r={};t={reset_in}"#,
        v.decision.remaining
    )) {
        h.insert(RATELIMIT, r);
    }
    if let Some(exp) = auth.key.expires_at {
        let week = 7 * 24 * 3600;
        if auth.key.status(now) == KeyStatus::Rotating
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

/// Verifies the request's key: format and checksum first (no lookup), then the cache, then
/// the store. Failures spend the client IP's failed-authentication budget; past it, 429.
async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Arc<AuthRecord>, ApiError> {
    let per_minute = app.config.rate_policy.auth_failures_per_minute;
    let fail = async |f: AuthFailure| -> ApiError {
        let v = app.limiter.auth_failure(ip, per_minute).await;
        if v.decision.allowed {
            f.to_error()
        } else {
            throttled(v.retry_after_secs())
        }
    };
    let token = match bearer_token(headers) {
        Ok(t) => t,
        Err(f) => return Err(fail(f).await),
    };
    let Ok(parsed) = key::parse(token) else {
        return Err(fail(AuthFailure::Invalid).await);
    };
    let hash = app.pepper.hash(parsed.as_str());
    let record = match app.keys.get(&hash) {
        Cached::Found(r) => Some(r),
        Cached::Missing => None,
        Cached::Unknown => {
            // A throttled address gets no storage lookups; keys already cached still work.
            if app.limiter.ip_blocked(ip, per_minute).await {
                return Err(fail(AuthFailure::Invalid).await);
            }
            let found = app.store.find_by_hash(&hash).await?.map(Arc::new);
            app.keys.put(hash, found.clone());
            found
        }
    };
    let Some(record) = record else {
        return Err(fail(AuthFailure::Invalid).await);
    };
    match record.key.status(Timestamp::now()) {
        KeyStatus::Revoked => Err(fail(AuthFailure::Revoked).await),
        KeyStatus::Expired => Err(fail(AuthFailure::Expired).await),
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
    .with_header(RETRY_AFTER_X, HeaderValue::from(secs))
}
