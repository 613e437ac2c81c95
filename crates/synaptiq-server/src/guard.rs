//! The per-route guard: authenticate, check the IP allow-list and scope, apply the rate
//! policy, then stamp the response with rate-limit and deprecation headers.
//!
//! Order matters for fairness: requests refused with 401 or 403 never reach the key's
//! buckets; failed authentications spend only the client IP's failure budget.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use synaptiq_core::gcra::Rate;
use synaptiq_core::key;
use synaptiq_core::plan::RatePolicy;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;
use crate::auth::{AuthFailure, Cached, Verified, bearer_token};
use crate::error::ApiError;
use crate::ratelimit::{Bucket, BucketKind, Verdict};
use crate::routes::{Access, RouteDef};

/// The client's address as the transport saw it (after trusted-proxy resolution).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

tokio::task_local! {
    /// The client address of the request being served, set by the transport around the
    /// request's future ([`ClientAddr::scope`]). A task-local rather than a request extension:
    /// the first extension allocates the request's extension map (≈ 470 instructions and an
    /// allocation per request, docs/performance-history.md). With HTTP/2 each stream's future is
    /// scoped on its own.
    static CLIENT: ClientAddr;
}

impl ClientAddr {
    /// Runs `request` (the future answering one request) with this as its client address.
    pub fn scope<F: Future>(self, request: F) -> impl Future<Output = F::Output> {
        CLIENT.scope(self, request)
    }

    /// The client address of the request being served, if any.
    pub fn current() -> Option<ClientAddr> {
        CLIENT.try_with(|c| *c).ok()
    }

    /// The client address of the request being served (`0.0.0.0` outside [`Self::scope`]).
    pub fn current_ip() -> IpAddr {
        CLIENT
            .try_with(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct Caller {
    /// The key and its organization (and what the hot path prepared from them).
    pub auth: Arc<Verified>,
    /// The per-minute rate-limit verdict of this request.
    pub verdict: Verdict,
    /// The client's address.
    pub ip: IpAddr,
    /// The time the guard judged the key at.
    pub now: Timestamp,
}

impl Caller {
    /// The audit actor: the calling key and the client address.
    pub fn actor(&self) -> synaptiq_app::Actor {
        synaptiq_app::Actor {
            id: self.auth.key.id.to_string(),
            ip: Some(self.ip.to_string()),
        }
    }
}

tokio::task_local! {
    /// The caller of the request being handled, set by [`guard`] around the handler. A
    /// task-local rather than a request extension: extensions allocate a map per request.
    static CALLER: Caller;
}

impl Caller {
    /// The caller of the request being handled, if a key was verified.
    pub fn current() -> Option<Caller> {
        CALLER.try_with(Caller::clone).ok()
    }

    /// Runs `inner` with this as its caller.
    pub fn scope<F: Future>(self, inner: F) -> impl Future<Output = F::Output> {
        CALLER.scope(self, inner)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, ApiError> {
        CALLER
            .try_with(Caller::clone)
            .map_err(|_| ApiError::internal("handler needs a caller but its route is public"))
    }
}

/// What the guard of one route knows, computed once when the router is built.
#[derive(Debug, Clone)]
pub struct RouteGuard {
    /// Required access.
    pub access: Access,
    /// The route's cap from the rate policy: (index, per minute, label).
    pub cap: Option<(usize, u32, Arc<str>)>,
    /// Whether the route streams its answer ([`RouteDef::streaming`]).
    pub streaming: bool,
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
            streaming: def.streaming,
        }
    }
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
pub fn buckets(
    app: &AppState,
    auth: &AuthRecord,
    route: &RouteGuard,
) -> smallvec::SmallVec<[Bucket; 3]> {
    buckets_for(key_limits(&app.config.rate_policy, auth), route)
}

/// The limits of `auth` under `policy`: (per minute, per day).
pub(crate) fn key_limits(policy: &RatePolicy, auth: &AuthRecord) -> (u32, Option<u32>) {
    (
        policy.limit(auth.key.scope, auth.org.plan),
        policy.daily(auth.org.plan),
    )
}

/// The buckets of a key with `(per minute, per day)` limits on this route.
fn buckets_for(limits: (u32, Option<u32>), route: &RouteGuard) -> smallvec::SmallVec<[Bucket; 3]> {
    let mut b = smallvec::SmallVec::new();
    b.push(Bucket {
        rate: Rate::per_minute(limits.0),
        kind: BucketKind::Minute,
    });
    if let Some((i, n, label)) = &route.cap {
        b.push(Bucket {
            rate: Rate::per_minute(*n),
            kind: BucketKind::Route(*i, label.clone()),
        });
    }
    if let Some(q) = limits.1 {
        b.push(Bucket {
            rate: Rate::per_day(q),
            kind: BucketKind::Daily,
        });
    }
    b
}

/// A handler behind the API-key guard: what the route table registers for every route that
/// takes a key.
///
/// The guard wraps the handler itself rather than being a `route_layer`: each axum layer adds
/// a boxed, cloned service level per request. Taking this one and the outer stack out of
/// axum's layers saved ≈ 3,400 instructions and 13 allocations per `/api/v1/me` request
/// (callgrind, docs/performance-history.md), and every API request passes here.
#[derive(Clone)]
pub struct Guarded<H> {
    handler: H,
    def: Arc<RouteDef>,
    /// Worked out from the router's state on the first request (a table's handlers serve one
    /// router, so one state).
    route: Arc<OnceLock<RouteGuard>>,
}

impl<H> Guarded<H> {
    /// `handler` behind the guard of the route `def`.
    pub fn new(handler: H, def: RouteDef) -> Self {
        Self {
            handler,
            def: Arc::new(def),
            route: Arc::new(OnceLock::new()),
        }
    }
}

impl<H, T> Handler<T, AppState> for Guarded<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let route = self
                .route
                .get_or_init(|| RouteGuard::new(&self.def, &state.config.rate_policy));
            let handler = self.handler;
            let inner = state.clone();
            guard(&state, route, req, move |req| handler.call(req, inner)).await
        })
    }
}

/// Authenticates, authorizes and rate-limits one request, then runs `next` with the caller in
/// scope.
async fn guard<N, F>(app: &AppState, route: &RouteGuard, req: Request, next: N) -> Response
where
    N: FnOnce(Request) -> F,
    F: Future<Output = Response>,
{
    let needed = match route.access {
        Access::Public => return next(req).await,
        Access::AnyKey => None,
        Access::Scope(s) => Some(s),
        // Mounted with `dashboard::session::guard` instead (stack.rs); never open to a key.
        Access::Session { .. } => {
            return ApiError::internal("a dashboard route reached the API-key guard")
                .into_response();
        }
    };
    let ip = ClientAddr::current_ip();
    let clock = crate::request_id::clock();
    let now = clock.now;
    let auth = match authenticate(app, req.headers(), ip, clock).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let buckets = buckets_for(auth.limits, route);
    let owner = auth.key.id.as_str();
    let refuse = |err: ApiError, verdict: &Verdict| {
        let res = with_key_headers(err.into_response(), app, &auth, verdict, now);
        app.usage.count(&auth.usage, &auth.key, now, res.status());
        res
    };
    let scope_ok = needed.is_none_or(|n| auth.key.scope.satisfies(n));
    if !synaptiq_core::net::ip_allowed(&auth.allowed_ips, ip) || !scope_ok {
        let peek = app
            .limiter
            .check_key(owner, &auth.buckets, &buckets[..1], false)
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
    let outcome = app
        .limiter
        .check_key(owner, &auth.buckets, &buckets, true)
        .await;
    let minute = outcome.verdicts[0];
    if let Some(i) = outcome.refused {
        let v = &outcome.verdicts[i];
        let secs = v.retry_after_secs();
        let what = match &buckets[i].kind {
            BucketKind::Minute => format!(
                "Rate limit of {} requests per minute exceeded for this key",
                v.limit
            ),
            BucketKind::Route(_, r) => format!(
                "Rate limit of {} requests per minute on {r} exceeded for this key",
                v.limit
            ),
            BucketKind::Daily => {
                format!("Daily quota of {} requests exceeded for this key", v.limit)
            }
            BucketKind::Named(_) => format!("Rate limit of {} requests exceeded", v.limit),
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
    let slot = match app.config.rate_policy.concurrency_per_key {
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
    let caller = Caller {
        auth: auth.clone(),
        verdict: minute,
        ip,
        now,
    };
    let mut res = CALLER.scope(caller, next(req)).await;
    if !crate::streaming::is_complete(&res) {
        // A streamed body outlives the handler: it keeps the slot until its last byte.
        if route.streaming {
            res = crate::streaming::IdleTimeout::wrap(res, app.config.stream_idle_timeout);
        }
        if let Some(slot) = slot {
            res = crate::streaming::Holding::wrap(res, slot);
        }
    }
    let user_agent = user_agent.as_ref().and_then(|v| v.to_str().ok());
    app.usage
        .used(&auth.usage, &auth.key, now, ip, user_agent, res.status());
    with_key_headers(res, app, &auth, &minute, now)
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
    clock: crate::request_id::Clock,
) -> Result<Arc<Verified>, ApiError> {
    let now = clock.now;
    let per_minute = app.config.rate_policy.auth_failures_per_minute;
    // The paths that wait (a failure, a key not in the cache) are boxed when taken: inline,
    // their futures made every request's future larger, and a request moves its future whole.
    let fail = |f: AuthFailure| {
        Box::pin(async move {
            let v = app.limiter.auth_failure(ip, per_minute).await;
            if v.decision.allowed {
                f.to_error()
            } else {
                throttled(v.retry_after_secs())
            }
        })
    };
    let token = match bearer_token(headers) {
        Ok(t) => t,
        Err(f) => return Err(fail(f).await),
    };
    let Ok(parsed) = key::parse(token) else {
        return Err(fail(AuthFailure::Invalid).await);
    };
    let hash = app.pepper.hash(parsed.as_str());
    let record = match app.keys.get(&hash, clock.at) {
        Cached::Found(r) => {
            r.touch();
            Some(r)
        }
        Cached::Missing => None,
        Cached::Unknown(generation) => {
            // A throttled address gets no storage lookups; keys already cached still work.
            if Box::pin(app.limiter.ip_blocked(ip, per_minute)).await {
                return Err(fail(AuthFailure::Invalid).await);
            }
            let found = Box::pin(app.store.find_by_hash(&hash))
                .await?
                .map(|r| Arc::new(Verified::new(r, app)));
            app.keys.put(hash, found.clone(), generation);
            found
        }
    };
    let Some(record) = record else {
        return Err(fail(AuthFailure::Invalid).await);
    };
    match record.key.status(now) {
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
