//! The retry schedule and the endpoint's states through a receiver that answers 500, then
//! times out, then 429 with Retry-After, then 410, with a clock the test moves.

use std::time::Duration;

use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_core::scope::Environment;
use synaptiq_store::DeliveryRecord;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_webhooks::WorkerConfig;

use crate::harness::{Answer, DEV, Receiver, World};

async fn log(w: &World, ep: &WebhookEndpointId) -> Vec<DeliveryRecord> {
    let page = PageRequest::new(None, None).expect("page");
    w.store
        .list_deliveries(&w.org, Environment::Live, ep, None, page)
        .await
        .expect("log")
        .expect("endpoint")
        .0
}

/// Moves the clock to the delivery's next attempt, makes it, and returns the delay (s) from
/// that attempt to the one after, if any.
async fn step(
    w: &World,
    worker: &synaptiq_webhooks::Worker,
    ep: &WebhookEndpointId,
) -> DeliveryRecord {
    let due = log(w, ep).await[0]
        .next_attempt_at
        .expect("an attempt is due");
    w.set_now(due);
    let out = worker.deliver_due().await.expect("deliver");
    assert_eq!(out.len(), 1, "one attempt at {due:?}");
    log(w, ep).await.remove(0)
}

fn secs_after(d: &DeliveryRecord, at: Timestamp) -> f64 {
    let next = d.next_attempt_at.expect("another attempt scheduled");
    (next.millis() - at.millis()) as f64 / 1000.0
}

#[tokio::test]
async fn each_answer_moves_the_schedule_and_410_disables() {
    let w = World::new().await;
    let r = Receiver::start(vec![
        Answer::Status(500),
        Answer::Sleep(Duration::from_millis(1500)),
        Answer::StatusRetryAfter(429, 3000),
        Answer::Status(410),
    ])
    .await;
    let (id, _) = w.endpoint(&r.url("/hook"), &["lead.created"]).await;
    let ep = WebhookEndpointId::parse(&id).expect("id");
    w.lead("jane@acme.io").await;
    let worker = w.worker(WorkerConfig {
        policy: DEV,
        timeout: Duration::from_millis(500),
        ..WorkerConfig::default()
    });

    // Attempt 1 at once: 500 → attempt 2 after 5 s ± 20 %.
    let d = step(&w, &worker, &ep).await;
    let at = d.last_attempt_at.expect("attempted");
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("pending", 1, Some(500))
    );
    assert_eq!(d.last_error.as_deref(), Some("http_status"));
    let s = secs_after(&d, at);
    assert!((4.0..=6.0).contains(&s), "after a 500: {s} s");

    // Attempt 2: no answer within the timeout → 5 min ± 20 % (at least 60 s).
    let d = step(&w, &worker, &ep).await;
    let at = d.last_attempt_at.expect("attempted");
    assert_eq!((d.attempts, d.last_status), (2, None));
    assert_eq!(d.last_error.as_deref(), Some("timeout"));
    let s = secs_after(&d, at);
    assert!((240.0..=360.0).contains(&s), "after a timeout: {s} s");

    // Attempt 3: 429 with Retry-After 3000 → 30 min ± 20 %, raised towards 3000 s but never
    // past twice the delay.
    let d = step(&w, &worker, &ep).await;
    let at = d.last_attempt_at.expect("attempted");
    assert_eq!((d.attempts, d.last_status), (3, Some(429)));
    let s = secs_after(&d, at);
    assert!(
        (2880.0..=3000.0).contains(&s),
        "after 429 Retry-After 3000: {s} s"
    );
    let health = w
        .store
        .get_endpoint(&w.org, Environment::Live, &ep)
        .await
        .expect("get")
        .expect("endpoint");
    assert_eq!(health.consecutive_failures, 3);
    assert!(health.enabled);

    // Attempt 4: 410 → the delivery fails and the endpoint is disabled at once.
    let d = step(&w, &worker, &ep).await;
    assert_eq!(
        (d.status.as_str(), d.attempts, d.last_status),
        ("failed", 4, Some(410))
    );
    assert_eq!(d.next_attempt_at, None);
    let e = w
        .store
        .get_endpoint(&w.org, Environment::Live, &ep)
        .await
        .expect("get")
        .expect("endpoint");
    assert!(!e.enabled);
    assert_eq!(e.disabled_reason.as_deref(), Some("gone"));

    // Nothing more is sent to it.
    w.lead("john@acme.io").await;
    assert!(worker.deliver_due().await.expect("deliver").is_empty());
    assert_eq!(r.received().len(), 4);
}

#[tokio::test]
async fn the_tenth_failure_gives_up() {
    let w = World::new().await;
    let r = Receiver::start(vec![Answer::Status(503)]).await;
    let (id, _) = w.endpoint(&r.url("/hook"), &["lead.created"]).await;
    let ep = WebhookEndpointId::parse(&id).expect("id");
    w.lead("jane@acme.io").await;
    let worker = w.worker(WorkerConfig {
        policy: DEV,
        ..WorkerConfig::default()
    });
    let first = Timestamp(w.now.load(std::sync::atomic::Ordering::SeqCst));
    let mut d = step(&w, &worker, &ep).await;
    while d.status == "pending" {
        d = step(&w, &worker, &ep).await;
    }
    assert_eq!((d.status.as_str(), d.attempts), ("failed", 10));
    let span = (d.last_attempt_at.expect("attempted").millis() - first.millis()) as f64 / 3.6e6;
    // 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 14 h + 20 h + 24 h ≈ 75.6 h, ± 20 %.
    assert!((60.0..=91.0).contains(&span), "ten attempts over {span} h");
    assert_eq!(r.received().len(), 10);
    // Failing since the first attempt, 3 days: not yet the 5 days that disable it.
    let e = w
        .store
        .get_endpoint(&w.org, Environment::Live, &ep)
        .await
        .expect("get")
        .expect("endpoint");
    assert!(e.enabled);
    assert_eq!(e.consecutive_failures, 10);
}
