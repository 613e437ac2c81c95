//! The one middleware stack, composed in [`router`], and the per-route guard that
//! authenticates, authorizes and rate-limits.
//!
//! Order, outermost first: request id + security headers → JSON bodies for bare 405 →
//! request timeout → body size → (per route) guard → handler. The first four are one
//! middleware ([`outer`]): each `from_fn` layer boxes and clones per request, and these run
//! on every request. Public routes have no guard layer. Dashboard routes get the session
//! guard instead of the API-key guard, and browser security headers.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use synaptiq_types::ErrorCode;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::too_large;
use crate::request_id;
use crate::routes::{self, Access};

pub use crate::guard::{Caller, ClientAddr};

/// Builds the whole application: routes from the table, each behind its guard, and the stack.
pub fn router(state: AppState) -> Router {
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
            _ => {
                let route = crate::guard::RouteGuard::new(&def, &state.config.rate_policy);
                method_router.route_layer(from_fn_with_state(
                    (state.clone(), route),
                    crate::guard::guard,
                ))
            }
        };
        let guarded = if def.path.starts_with("/dashboard") {
            guarded.route_layer(from_fn(crate::dashboard::security_headers))
        } else {
            guarded
        };
        r = r.route(def.path, guarded);
    }
    r.fallback(not_found)
        .layer(from_fn_with_state(state.clone(), outer))
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

/// The outer stack of every request: request id and common headers, JSON for axum's bare
/// 405s, then the body limit and the request timeout.
async fn outer(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let public_url = app.public_url.clone();
    request_id::scope(public_url, async move {
        json_for_bare_errors(limits(&app, req, next).await)
    })
    .await
}

async fn limits(app: &AppState, req: Request, next: Next) -> Response {
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
        return match tokio::time::timeout_at(deadline, next.run(req)).await {
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
    match tokio::time::timeout_at(deadline, next.run(req)).await {
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
