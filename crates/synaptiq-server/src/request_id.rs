//! Request ids (`req_` + ULID) and the response headers every answer carries.
//!
//! The id lives in a task-local for the duration of the request, so an error built anywhere
//! below the middleware (a handler, an extractor, the 404 fallback) carries the same id as the
//! `X-Request-Id` header without threading it through every signature.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// `X-Request-Id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `req_` + a ULID, kept on the stack (every request makes one; most never need it as a
/// `String`).
#[derive(Clone, Copy)]
struct RequestId([u8; 30]);

impl RequestId {
    fn new() -> Self {
        let mut buf = [0u8; 30];
        buf[..4].copy_from_slice(b"req_");
        let mut ulid = [0u8; ulid::ULID_LEN];
        ulid::Ulid::new().array_to_str(&mut ulid);
        buf[4..].copy_from_slice(&ulid);
        Self(buf)
    }

    fn as_str(&self) -> &str {
        // ASCII by construction (a prefix and Crockford base32).
        std::str::from_utf8(&self.0).unwrap_or("req_")
    }
}

/// What every response of one request shares.
#[derive(Clone)]
struct RequestCtx {
    id: RequestId,
    public_url: Arc<str>,
}

tokio::task_local! {
    static CTX: RequestCtx;
}

/// The current request's id (or a fresh one outside a request).
pub fn current() -> String {
    CTX.try_with(|c| c.id.as_str().to_owned())
        .unwrap_or_else(|_| new_id())
}

/// The public base URL (`https://host:port`) of documentation links in this request.
pub fn public_base() -> Arc<str> {
    CTX.try_with(|c| c.public_url.clone())
        .unwrap_or_else(|_| Arc::from("https://127.0.0.1:8443"))
}

/// A fresh request id.
pub fn new_id() -> String {
    RequestId::new().as_str().to_owned()
}

/// HSTS value: one year.
pub const HSTS: &str = "max-age=31536000";

/// Assigns the request id and sets the headers every response carries (as a layer of its
/// own; the server's stack calls [`scope`] from its one outer middleware).
pub async fn middleware(State(public_url): State<Arc<str>>, req: Request, next: Next) -> Response {
    scope(public_url, next.run(req)).await
}

/// The response counters by status class, registered once: the `counter!` macro with a label
/// builds its key and looks it up in the recorder on every call.
fn response_counter(status: u16) -> &'static metrics::Counter {
    static COUNTERS: OnceLock<[metrics::Counter; 5]> = OnceLock::new();
    let c = COUNTERS.get_or_init(|| {
        ["2xx", "3xx", "429", "4xx", "5xx"]
            .map(|class| metrics::counter!("synaptiq_http_responses_total", "class" => class))
    });
    match status {
        200..=299 => &c[0],
        300..=399 => &c[1],
        429 => &c[2],
        400..=499 => &c[3],
        _ => &c[4],
    }
}

/// Runs `inner` with a fresh request id in scope, then stamps the id and the headers every
/// answer carries.
pub async fn scope(public_url: Arc<str>, inner: impl Future<Output = Response>) -> Response {
    let id = RequestId::new();
    let ctx = RequestCtx { id, public_url };
    let mut res = CTX.scope(ctx, inner).await;
    response_counter(res.status().as_u16()).increment(1);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_bytes(&id.0) {
        h.insert(X_REQUEST_ID, v);
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
