//! The per-route guard: authenticate, check the IP allow-list and scope, apply the rate
//! policy, then stamp the response with rate-limit and deprecation headers.
//!
//! Order matters for fairness: requests refused with 401 or 403 never reach the key's
//! buckets; failed authentications spend only the client IP's failure budget.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use synaptiq_core::gcra::Rate;
use synaptiq_core::key;
use synaptiq_core::plan::RatePolicy;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;

use crate::app::AppState;
use crate::auth::{AuthFailure, Cached, Verified, bearer_token};
use crate::error::ApiError;
use crate::ratelimit::{Bucket, BucketKind, Verdict};
use crate::routes::{Access, RouteDef};

mod answers;
mod caller;
use answers::{RETRY_AFTER_X, insufficient_scope, throttled, with_key_headers};
pub use caller::{Caller, ClientAddr};

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
        Err(e) => return tripping(app, e.into_response()),
    };
    let buckets = buckets_for(auth.limits, route);
    let owner = auth.hot.id.as_str();
    let refuse = |err: ApiError, verdict: &Verdict| {
        let res = with_key_headers(err.into_response(), app, &auth, verdict, now);
        app.usage
            .count(&auth.usage, &auth.key, now, res.status().as_u16());
        res
    };
    let scope_ok = needed.is_none_or(|n| auth.hot.scope.satisfies(n));
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
            insufficient_scope(auth.hot.scope, needed.unwrap_or(Scope::Admin))
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
    let mut res = caller.scope(next(req)).await;
    if !crate::streaming::is_complete(&res) {
        // A streamed body outlives the handler: it keeps the slot until its last byte.
        let idle = route.streaming.then_some(app.config.stream_idle_timeout);
        res = crate::streaming::Streamed::wrap(res, slot, idle);
    }
    let user_agent = user_agent.as_ref().and_then(|v| v.to_str().ok());
    app.usage.used(
        &auth.usage,
        &auth.key,
        now,
        ip,
        user_agent,
        res.status().as_u16(),
    );
    with_key_headers(tripping(app, res), app, &auth, &minute, now)
}

/// A key hashed under an older pepper of a rotation in progress, re-hashed under the current
/// one (`current`) so that the next lookup finds it at once and the old pepper can be retired.
/// Another node re-hashing it first is fine: the key is the same.
async fn under_older_pepper(
    app: &AppState,
    token: &str,
    current: &synaptiq_core::hash::KeyHash,
) -> Result<Option<synaptiq_store::AuthRecord>, ApiError> {
    for pepper in &app.config.older_peppers {
        let old = pepper.hash(token);
        if let Some(record) = app.store.find_by_hash(&old).await? {
            let version = app.pepper.version();
            app.store
                .rehash_key(&record.key.id, &old, current, version)
                .await?;
            tracing::info!(key = %record.key.id, from = pepper.version(), to = version,
                "key re-hashed under the current pepper");
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// `res`, having tripped the storage breaker if it was given because storage is down.
#[inline]
fn tripping(app: &AppState, res: Response) -> Response {
    if res.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE
        && res
            .extensions()
            .get::<crate::breaker::StorageDown>()
            .is_some()
    {
        app.breaker.trip();
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
            let mut found = Box::pin(app.store.find_by_hash(&hash)).await?;
            if found.is_none() && !app.config.older_peppers.is_empty() {
                found = Box::pin(under_older_pepper(app, parsed.as_str(), &hash)).await?;
            }
            let found = found.map(|r| Arc::new(Verified::new(r, app)));
            app.keys.put(hash, found.clone(), generation);
            found
        }
    };
    let Some(record) = record else {
        return Err(fail(AuthFailure::Invalid).await);
    };
    match record.hot.status(now) {
        KeyStatus::Revoked => Err(fail(AuthFailure::Revoked).await),
        KeyStatus::Expired => Err(fail(AuthFailure::Expired).await),
        KeyStatus::Active | KeyStatus::Rotating => Ok(record),
    }
}
