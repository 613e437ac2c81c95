//! The one middleware stack, composed in [`router`], and the per-route guard that
//! authenticates, authorizes and rate-limits.
//!
//! Order, outermost first: request id + security headers → JSON bodies for bare 405 →
//! request timeout → body size → (per route) guard → handler. The first four are one
//! function around the whole router ([`Stack`]), and the API-key guard wraps each handler
//! that takes a key ([`crate::guard::Guarded`]), because every axum layer costs a boxed,
//! cloned service level per request. Public routes have no guard. Dashboard routes get the
//! session guard (a `from_fn` layer: not hot) and browser security headers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use synaptiq_types::ErrorCode;
use tower::{Service, ServiceExt};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::too_large;

use crate::request_id;
use crate::routes::{self, Access};

pub use crate::guard::{Caller, ClientAddr};

/// The whole application as one service: the outer stack around the router.
#[derive(Clone)]
pub struct Stack {
    app: AppState,
    router: Router,
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
        let (app, router) = (self.app.clone(), self.router.clone());
        Box::pin(async move { Ok(outer(app, req, router).await) })
    }
}

/// Builds the whole application: routes from the table, the guards, and the stack.
pub fn router(state: AppState) -> Stack {
    let mut r: Router<AppState> = Router::new();
    for (def, method_router) in routes::table() {
        // `route_layer`, not `layer`: a method the route lacks must get 405, not this guard.
        let guarded = match def.access {
            Access::Public => method_router,
            // Dashboard pages: the session guard (cookie, CSRF, role); never an API key.
            Access::Session { min_role } => method_router.route_layer(from_fn_with_state(
                (state.clone(), min_role),
                crate::dashboard::session::guard,
            )),
            // The API-key guard is part of the handler (`routes::route`).
            Access::AnyKey | Access::Scope(_) => method_router,
        };
        let guarded = if def.path.starts_with("/dashboard") {
            guarded.route_layer(from_fn(crate::dashboard::security_headers))
        } else {
            guarded
        };
        r = r.route(def.path, guarded);
    }
    let router = r.fallback(not_found).with_state(state.clone());
    Stack { app: state, router }
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

/// The outer stack of every request: request id and common headers, JSON for axum's bare
/// 405s, then the body limit and the request timeout.
async fn outer(app: AppState, req: Request, router: Router) -> Response {
    let public_url = app.public_url.clone();
    request_id::scope(public_url, async move {
        json_for_bare_errors(limits(&app, req, router).await)
    })
    .await
}

/// Runs the router (always ready, never failing).
async fn run(router: Router, req: Request) -> Response {
    match router.oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

async fn limits(app: &AppState, req: Request, router: Router) -> Response {
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
    if axum::body::HttpBody::is_end_stream(req.body()) {
        // No body (most GETs): nothing to read first.
        return match tokio::time::timeout_at(deadline, run(router, req)).await {
            Ok(res) => res,
            Err(_) => timed_out(),
        };
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
    match tokio::time::timeout_at(deadline, run(router, req)).await {
        Ok(res) => res,
        Err(_) => timed_out(),
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
