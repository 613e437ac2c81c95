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
        Self::at(std::time::SystemTime::now())
    }

    /// An id whose time part is `t`.
    fn at(t: std::time::SystemTime) -> Self {
        let mut buf = [0u8; 30];
        buf[..4].copy_from_slice(b"req_");
        let mut ulid = [0u8; ulid::ULID_LEN];
        ulid::Ulid::from_datetime(t).array_to_str(&mut ulid);
        buf[4..].copy_from_slice(&ulid);
        Self(buf)
    }

    fn as_str(&self) -> &str {
        // ASCII by construction (a prefix and Crockford base32).
        std::str::from_utf8(&self.0).unwrap_or("req_")
    }
}

/// What every response of one request shares (carried into spawned tasks by
/// `context::RequestContext`).
#[derive(Clone)]
pub(crate) struct RequestCtx {
    id: RequestId,
    public_url: Arc<str>,
    clock: Clock,
}

/// The time of a request, read once when it arrives (or, for a request with a body, when the
/// body has been read: [`rescope`]): the id's time, the guard's "now" for key expiry and
/// rate-limit headers, and the request's deadline all come from one reading of each clock
/// instead of one each (`clock_gettime` was ≈ 2% of a request's CPU, eight calls per request).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Wall-clock time.
    pub now: synaptiq_types::time::Timestamp,
    /// Monotonic time.
    pub at: std::time::Instant,
}

impl Clock {
    /// Both clocks read now.
    pub fn read() -> Self {
        Self::from_system(std::time::SystemTime::now())
    }

    fn from_system(t: std::time::SystemTime) -> Self {
        Self {
            now: synaptiq_types::time::Timestamp::from_system(t),
            at: std::time::Instant::now(),
        }
    }
}

/// The current request's [`Clock`] (both clocks read now outside a request).
pub fn clock() -> Clock {
    CTX.try_with(|c| c.clock).unwrap_or_else(|_| Clock::read())
}

/// Runs `inner` (the rest of the current request) with its clock read anew: for a request
/// whose body took a while to arrive, so that the key's expiry and revocation are judged as of
/// now, not as of the request's first byte.
pub async fn rescope<T>(inner: impl Future<Output = T>) -> T {
    match CTX.try_with(|c| RequestCtx {
        clock: Clock::read(),
        ..c.clone()
    }) {
        Ok(ctx) => CTX.scope(ctx, inner).await,
        Err(_) => inner.await,
    }
}

tokio::task_local! {
    static CTX: RequestCtx;
}

/// The current request's ids and clock, to enter again elsewhere ([`within`]).
pub(crate) fn captured() -> Option<RequestCtx> {
    CTX.try_with(RequestCtx::clone).ok()
}

/// Runs `inner` with `ctx` (from [`captured`]) as its request, its clock read anew (work that
/// outlives the request judges time as of when it runs).
pub(crate) fn within<F: Future>(ctx: RequestCtx, inner: F) -> impl Future<Output = F::Output> {
    CTX.scope(
        RequestCtx {
            clock: Clock::read(),
            ..ctx
        },
        inner,
    )
}

impl RequestCtx {
    /// The request id.
    pub(crate) fn id(&self) -> &str {
        self.id.as_str()
    }
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
    scope(public_url, |_| next.run(req)).await
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

/// Runs the future `inner` makes (given the request's clock) with a fresh request id in scope,
/// then stamps the id and the headers every answer carries. `inner` itself is called before
/// the scope is entered, so it should only build the future (the request's work runs when it
/// is polled, in scope).
///
/// Not an `async fn`: that would hold `inner` twice in its state (as its argument and inside
/// the task-local future), and this is the outermost future of every request.
pub fn scope<F: Future<Output = Response>>(
    public_url: Arc<str>,
    inner: impl FnOnce(Clock) -> F,
) -> impl Future<Output = Response> {
    let t = std::time::SystemTime::now();
    let id = RequestId::at(t);
    let clock = Clock::from_system(t);
    let ctx = RequestCtx {
        id,
        public_url,
        clock,
    };
    futures_util::FutureExt::map(CTX.scope(ctx, inner(clock)), move |res| stamp(res, id))
}

/// Stamps the headers every answer carries.
fn stamp(mut res: Response, id: RequestId) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_request_reads_its_clock_once_and_again_after_its_body() {
        let base = Arc::<str>::from("https://127.0.0.1:8443");
        let res = scope(base, |_| async {
            let first = clock();
            let id = current();
            tokio::time::sleep(Duration::from_millis(20)).await;
            // One reading for the whole request…
            assert_eq!(clock().at, first.at);
            assert_eq!(clock().now, first.now);
            // …until its body has been read: then the rest of it sees the time anew, under
            // the same id.
            let (later, later_id) = rescope(async { (clock(), current()) }).await;
            assert!(later.at >= first.at + Duration::from_millis(20));
            assert_eq!(later_id, id);
            Response::default()
        })
        .await;
        assert!(res.headers().contains_key(X_REQUEST_ID));
        // Outside a request, both clocks are read on each call.
        let a = clock();
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(clock().at > a.at);
    }
}
