//! The streaming-ready request path, through the real stack and guard: a streamed answer keeps
//! its key's concurrency slot until its last byte, is not cut by the request timeout but by
//! the stream idle timeout, and work spawned by a request runs in its context.

use crate::common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use common::{TestApp, request};
use http_body_util::BodyExt;
use synaptiq_core::plan::RatePolicy;
use synaptiq_core::scope::Scope;
use synaptiq_server::context::RequestContext;
use synaptiq_server::routes::{Access, Route, route, streaming_route};
use synaptiq_server::stack::{Caller, ClientAddr};
use tokio::sync::mpsc;
use tower::ServiceExt;

type Feed = Arc<Mutex<Option<mpsc::Sender<Bytes>>>>;

/// `GET /api/v1/test/stream` (read scope, streaming): a body fed through `feed`.
fn stream_route(feed: Feed) -> Route {
    streaming_route(
        Method::GET,
        "/api/v1/test/stream",
        Access::Scope(Scope::Read),
        move || {
            let feed = feed.clone();
            async move {
                let (tx, rx) = mpsc::channel::<Bytes>(8);
                *feed.lock().expect("feed") = Some(tx);
                let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
                });
                Response::new(Body::from_stream(chunks))
            }
        },
    )
}

async fn send(t: &TestApp, key: &str) -> Response {
    let req = request(Method::GET, "/api/v1/test/stream", Some(key), None);
    let client = ClientAddr(std::net::SocketAddr::from(([127, 0, 0, 1], 40000)));
    client
        .scope(t.router.clone().oneshot(req))
        .await
        .expect("infallible")
}

fn feeder(feed: &Feed) -> mpsc::Sender<Bytes> {
    feed.lock().expect("feed").take().expect("the handler ran")
}

#[tokio::test]
async fn a_streamed_body_keeps_its_slot_until_its_last_byte() {
    let feed = Feed::default();
    let mut policy = RatePolicy::uniform(1_000_000);
    policy.concurrency_per_key = Some(1);
    let t = TestApp::build(
        policy,
        |c| c.request_timeout = Duration::from_millis(200),
        vec![stream_route(feed.clone())],
    )
    .await;
    let key = t.keys.a_live_read.clone();
    let key_id = t.get("/api/v1/me", &key).await.body["key"]["id"]
        .as_str()
        .expect("key id")
        .to_owned();

    let res = send(&t, &key).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let tx = feeder(&feed);
    // The handler has returned; its answer is still streaming, past the request timeout.
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(Bytes::from(format!("chunk {i}\n")))
            .await
            .expect("send");
        let frame = body.frame().await.expect("frame").expect("not cut");
        assert!(frame.is_data());
        assert_eq!(
            t.app.limiter.in_flight(&key_id),
            1,
            "slot held while streaming"
        );
        let second = t.get("/api/v1/me", &key).await;
        assert_eq!(
            second.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{:?}",
            second.body
        );
        assert!(
            second.body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("already has 1 requests in progress")
        );
    }
    drop(tx);
    assert!(body.frame().await.is_none(), "the stream ended");
    assert_eq!(
        t.app.limiter.in_flight(&key_id),
        0,
        "released at the last byte"
    );
    let after = t.get("/api/v1/me", &key).await;
    assert_eq!(after.status, StatusCode::OK);
    drop(body);
}

#[tokio::test]
async fn an_idle_stream_ends_and_frees_its_slot() {
    let feed = Feed::default();
    let mut policy = RatePolicy::uniform(1_000_000);
    policy.concurrency_per_key = Some(1);
    let t = TestApp::build(
        policy,
        |c| c.stream_idle_timeout = Duration::from_millis(300),
        vec![stream_route(feed.clone())],
    )
    .await;
    let key = t.keys.a_live_read.clone();
    let mut body = send(&t, &key).await.into_body();
    let tx = feeder(&feed);
    tx.send(Bytes::from_static(b"one\n")).await.expect("send");
    assert!(body.frame().await.expect("frame").is_ok());
    // Nothing more for longer than the idle timeout: the body ends with an error.
    let started = std::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("ended by the idle timeout, not left hanging")
        .expect("an error frame");
    assert!(ended.is_err());
    assert!(started.elapsed() >= Duration::from_millis(250));
    let after = t.get("/api/v1/me", &key).await;
    assert_eq!(after.status, StatusCode::OK, "the slot was released");
    drop(tx);
}

/// What a task spawned by a request saw: (request id, caller's key id, client address).
type Seen = Arc<Mutex<Option<(String, String, String)>>>;

#[tokio::test]
async fn a_spawned_task_runs_in_its_request_context() {
    let seen = Seen::default();
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || Writer(sink.clone()))
        .with_ansi(false)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let record = seen.clone();
    let spawner = route(
        Method::GET,
        "/api/v1/test/spawn",
        Access::Scope(Scope::Read),
        move || {
            let record = record.clone();
            async move {
                let context = RequestContext::current();
                assert_eq!(
                    context.client().map(|a| a.to_string()).as_deref(),
                    Some("127.0.0.1:40000")
                );
                let task = context.spawn(async move {
                    tracing::info!("spawned work");
                    let caller = Caller::current().expect("caller in the task");
                    (
                        synaptiq_server::request_id::current(),
                        caller.auth.key.id.to_string(),
                        ClientAddr::current_ip().to_string(),
                    )
                });
                *record.lock().expect("seen") = Some(task.await.expect("task"));
                StatusCode::NO_CONTENT
            }
        },
    );
    let t = TestApp::build(RatePolicy::uniform(1_000_000), |_| {}, vec![spawner]).await;
    let key = t.keys.a_live_read.clone();
    let me = t.get("/api/v1/me", &key).await;
    let r = t.get("/api/v1/test/spawn", &key).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (id, key_id, ip) = seen.lock().expect("seen").clone().expect("the task ran");
    assert_eq!(
        id,
        r.header("x-request-id"),
        "the request's id, not a fresh one"
    );
    assert_eq!(key_id, me.body["key"]["id"].as_str().expect("id"));
    assert_eq!(ip, "127.0.0.1");
    let logged = String::from_utf8(logs.lock().expect("logs").clone()).expect("utf-8");
    let line = logged
        .lines()
        .find(|l| l.contains("spawned work"))
        .expect("the task logged");
    assert!(line.contains(&id), "{line}");
}

/// A log sink for the test subscriber.
struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
