//! The one middleware stack, composed in [`router`], and the per-route guard that
//! authenticates, authorizes and rate-limits.
//!
//! Order, outermost first: request id + security headers → JSON bodies for bare 405 →
//! request timeout → body size → (per route) guard → handler. The first four are one
//! function around the whole router ([`Stack`]), and the API-key guard wraps each handler
//! that takes a key ([`crate::guard::Guarded`]), because every axum layer costs a boxed,
//! cloned service level per request. Public routes have no guard. Dashboard routes get the
//! session guard (a `from_fn` layer: not hot) and browser security headers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use synaptiq_types::ErrorCode;
use tower::{Service, ServiceExt};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::too_large;
use crate::request_id;
use crate::routes::{self, Access, Direct};

pub use crate::guard::{Caller, ClientAddr};

/// The whole application as one service: the outer stack around the router.
///
/// API operations on static paths (`GET /api/v1/me`, `GET /api/v1/leads`, …) are dispatched
/// here by an exact (method, path) match, straight to the handler and its key guard; anything
/// else (path parameters, HEAD, a method the path lacks, 404s, pages with their own layers)
/// goes through axum's router. Written by hand because the router costs a cloned boxed
/// service, boxed futures and an extensions map per request (≈ 2,600 instructions and four
/// allocations of a `/api/v1/me` request's 46,800 and 24; docs/performance-history.md), and the answer
/// of a static route is the same either way
/// (`tests/auth.rs::direct_dispatch_matches_the_router`).
#[derive(Clone)]
pub struct Stack {
    app: AppState,
    router: Router,
    direct: Arc<HashMap<&'static str, Vec<(Method, Direct)>>>,
}

impl Stack {
    /// The same stack with every request going through axum's router (the tests compare the
    /// two dispatches).
    pub fn without_direct_dispatch(&self) -> Self {
        Self {
            direct: Arc::new(HashMap::new()),
            ..self.clone()
        }
    }

    /// How many (method, path) pairs are dispatched directly.
    pub fn direct_routes(&self) -> usize {
        self.direct.values().map(Vec::len).sum()
    }
}

/// Where the outer stack sends a request.
enum Inner {
    Router(Router),
    Direct(Direct, AppState),
}

impl Inner {
    fn run(self, req: Request) -> impl Future<Output = Response> {
        use futures_util::future::{Either, FutureExt};
        match self {
            // Boxed: axum's routing future is large, and inline it would be moved with every
            // request's future, direct ones included (see `outer`).
            Inner::Router(router) => Either::Left(Box::pin(router.oneshot(req)).map(|r| match r {
                Ok(res) => res,
                Err(never) => match never {},
            })),
            Inner::Direct(handler, state) => Either::Right(handler(req, state).map(|mut res| {
                // What axum's router does for every answer it routes.
                let size = axum::body::HttpBody::size_hint(res.body()).exact();
                if let Some(n) = size
                    && !res.headers().contains_key(header::CONTENT_LENGTH)
                {
                    res.headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                }
                res
            })),
        }
    }
}

impl Service<Request> for Stack {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router's own readiness is awaited per request (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let direct = self
            .direct
            .get(req.uri().path())
            .and_then(|m| m.iter().find(|(method, _)| method == req.method()));
        let inner = match direct {
            Some((_, handler)) => Inner::Direct(handler.clone(), self.app.clone()),
            None => Inner::Router(self.router.clone()),
        };
        let app = self.app.clone();
        Box::pin(futures_util::FutureExt::map(outer(app, req, inner), Ok))
    }
}

/// Builds the whole application: routes from the table, the guards, and the stack.
pub fn router(state: AppState) -> Stack {
    router_with(state, Vec::new())
}

/// [`router`] with `extra` routes beside the table's.
pub fn router_with(state: AppState, extra: Vec<routes::Route>) -> Stack {
    let mut r: Router<AppState> = Router::new();
    let mut direct: HashMap<&'static str, Vec<(Method, Direct)>> = HashMap::new();
    for routes::Route {
        def,
        router: method_router,
        direct: fast,
        layer,
    } in routes::table().into_iter().chain(extra)
    {
        // A route with its owner's layer always goes through the router, where the layer is.
        if let Some(handler) = fast.filter(|_| layer.is_none()) {
            direct
                .entry(def.path)
                .or_default()
                .push((def.method.clone(), handler));
        }
        // The API-key guard is part of the handler (`routes::route`); a session route's
        // guard is its owner's layer (the dashboard's), and without one it is never served.
        let guarded = match (layer, def.access) {
            (Some(layer), _) => layer(method_router, &state, &def),
            (None, Access::Session { .. }) => axum::routing::any(unguarded_session_route),
            (None, _) => method_router,
        };
        r = r.route(def.path, guarded);
    }
    let router = r.fallback(not_found).with_state(state.clone());
    Stack {
        app: state,
        router,
        direct: Arc::new(direct),
    }
}

/// What a session route registered without its session layer answers (a wiring mistake).
async fn unguarded_session_route() -> ApiError {
    ApiError::internal("a session route was registered without its session layer")
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
/// How long an oversized body declared by `Content-Length` is drained before its `413`: what a
/// client already sent is read (so HTTP/2 clients see the answer, not a reset), but a client
/// that sends nothing more is answered at once, not at the request timeout.
const DECLARED_DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// The bytes of a request head as HTTP/2 counts them (RFC 9113 §6.5.2): each field's name and
/// value plus 32.
fn head_bytes(headers: &axum::http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

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

/// The outer stack of every request: request id and common headers, JSON for axum's bare
/// 405s, then the body limit and the request timeout.
///
/// Plain functions composing futures rather than `async fn`s awaiting each other: an `async fn`
/// keeps its arguments in its own state beside the future it passes them to, so every level
/// held another copy of the request (and `request_id::scope` another of the whole inner
/// future). The request's future went from 5,432 to 248 bytes (test build), moved whole
/// on every request.
fn outer(app: AppState, req: Request, inner: Inner) -> impl Future<Output = Response> {
    let public_url = app.public_url.clone();
    request_id::scope(public_url, move |clock| {
        futures_util::FutureExt::map(limits(&app, req, inner, clock), json_for_bare_errors)
    })
}

/// A refusal before the request runs (rare: boxed when taken).
type Rare = Pin<Box<dyn Future<Output = Response> + Send>>;

fn limits(
    app: &AppState,
    req: Request,
    inner: Inner,
    clock: request_id::Clock,
) -> impl Future<Output = Response> + Send + use<> {
    use futures_util::future::{Either, FutureExt};
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = app.config.body_limit;
    let mut deadline = tokio::time::Instant::from_std(clock.at) + app.config.request_timeout;
    // Storage known to be down: whatever needs it gets its 503 at once (see `breaker`).
    let fast_fail = app.breaker.is_open();
    if fast_fail {
        deadline = deadline.min(tokio::time::Instant::now() + crate::breaker::FAST_FAIL);
    }
    let head_limit = app.config.header_limit;
    // Only the common path is inline; the others are boxed when taken, so that their futures
    // take no room in every request's future.
    if head_bytes(req.headers()) > head_limit {
        // Built when polled: inside the request-id scope (`outer`), like every answer.
        let refuse: Rare = Box::pin(async move {
            ApiError::new(
                ErrorCode::RequestHeaderFieldsTooLarge,
                format!(
                    "The request headers are over {head_limit} bytes in all (names, values and \
                     32 bytes per field). Send fewer or shorter headers."
                ),
            )
            .into_response()
        });
        return Either::Left(Either::Left(refuse));
    }
    if declared.is_some_and(|n| n > limit as u64) {
        let until = deadline.min(tokio::time::Instant::now() + DECLARED_DRAIN);
        let refuse: Rare = Box::pin(async move {
            drain(req.into_body(), limit * DRAIN_FACTOR, until).await;
            too_large(limit).into_response()
        });
        return Either::Left(Either::Left(refuse));
    }
    if axum::body::HttpBody::is_end_stream(req.body()) {
        // No body (most GETs): nothing to read first.
        return Either::Right(
            tokio::time::timeout_at(deadline, inner.run(req))
                .map(move |r| r.unwrap_or_else(|_| timed_out(fast_fail))),
        );
    }
    Either::Left(Either::Right(Box::pin(with_body(
        limit, deadline, fast_fail, req, inner,
    ))))
}

/// The answer to a request that took longer than the request timeout — or than the breaker's
/// short budget while storage is down (`storage_down`).
fn timed_out(storage_down: bool) -> Response {
    if storage_down {
        return ApiError::unavailable("storage down: request cut at the breaker's budget")
            .into_response();
    }
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "The request took too long. Retry shortly.",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    .into_response()
}

/// [`limits`] for a request with a body: reads it whole (≤ `limit`) before `deadline`, then
/// runs `inner`.
async fn with_body(
    limit: usize,
    deadline: tokio::time::Instant,
    fast_fail: bool,
    req: Request,
    inner: Inner,
) -> Response {
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
        // The client stopped sending: its error (408), not the server's (503).
        BodyRead::TimedOut => {
            return ApiError::new(
                ErrorCode::RequestTimeout,
                "The request body stopped arriving before the request timeout. Send the whole \
                 body promptly.",
            )
            .with_header(header::CONNECTION, HeaderValue::from_static("close"))
            .into_response();
        }
    };
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    match tokio::time::timeout_at(deadline, request_id::rescope(inner.run(req))).await {
        Ok(res) => res,
        Err(_) => timed_out(fast_fail),
    }
}

/// Gives axum's own empty 405 answers our JSON body (keeping `Allow`).
fn json_for_bare_errors(res: Response) -> Response {
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
