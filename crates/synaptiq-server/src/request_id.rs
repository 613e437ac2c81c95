//! Request ids (`req_` + ULID) and the response headers every answer carries.
//!
//! The id lives in a task-local for the duration of the request, so an error built anywhere
//! below the middleware (a handler, an extractor, the 404 fallback) carries the same id as the
//! `X-Request-Id` header without threading it through every signature.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// What every response of one request shares.
#[derive(Clone)]
struct RequestCtx {
    id: String,
    public_url: Arc<str>,
}

tokio::task_local! {
    static CTX: RequestCtx;
}

/// The current request's id (or a fresh one outside a request).
pub fn current() -> String {
    CTX.try_with(|c| c.id.clone()).unwrap_or_else(|_| new_id())
}

/// The public base URL (`https://host:port`) of documentation links in this request.
pub fn public_base() -> Arc<str> {
    CTX.try_with(|c| c.public_url.clone())
        .unwrap_or_else(|_| Arc::from("https://127.0.0.1:8443"))
}

/// A fresh request id.
pub fn new_id() -> String {
    format!("req_{}", ulid::Ulid::new())
}

/// HSTS value: one year.
pub const HSTS: &str = "max-age=31536000";

/// Assigns the request id and sets the headers every response carries.
pub async fn middleware(State(public_url): State<Arc<str>>, req: Request, next: Next) -> Response {
    let id = new_id();
    let ctx = RequestCtx {
        id: id.clone(),
        public_url,
    };
    let mut res = CTX.scope(ctx, next.run(req)).await;
    let class = match res.status().as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("synaptiq_http_responses_total", "class" => class).increment(1);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
