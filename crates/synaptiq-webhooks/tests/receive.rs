//! What a receiver gets, and what the worker refuses to send.

use std::time::{Duration, Instant};

use standardwebhooks::Webhook;
use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_core::scope::Environment;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_webhooks::WorkerConfig;
use tokio::sync::watch;

use crate::harness::{Answer, DEV, Receiver, World};

#[tokio::test]
async fn a_lead_change_arrives_signed_and_the_reference_library_accepts_it() {
    let w = World::new().await;
    let r = Receiver::start(vec![Answer::Status(204)]).await;
    let (id, secret) = w.endpoint(&r.url("/hook"), &["lead.created"]).await;
    let lead = w.lead("jane@acme.io").await;
    let worker = w.worker(WorkerConfig {
        policy: DEV,
        ..WorkerConfig::default()
    });
    w.set_now(Timestamp::now());
    let out = worker.deliver_due().await.expect("deliver");
    assert_eq!(out.len(), 1, "{out:?}");
    let got = r.received();
    assert_eq!(got.len(), 1);
    let (h, body) = (&got[0].headers, &got[0].body);
    Webhook::new(&secret)
        .expect("secret")
        .verify(body, h)
        .expect("the reference library verifies our delivery");
    let v: serde_json::Value = serde_json::from_slice(body).expect("json");
    assert_eq!(v["type"], "lead.created");
    assert_eq!(v["data"]["id"], lead.as_str());
    assert_eq!(v["data"]["email"], "jane@acme.io");
    assert_eq!(v["id"], h["webhook-id"].to_str().expect("id"));
    assert_eq!(h["content-type"], "application/json");
    let ep = WebhookEndpointId::parse(&id).expect("id");
    let (log, _) = w
        .store
        .list_deliveries(
            &w.org,
            Environment::Live,
            &ep,
            None,
            PageRequest::new(None, None).expect("page"),
        )
        .await
        .expect("log")
        .expect("endpoint");
    assert_eq!(log[0].status, "delivered");
    assert_eq!(log[0].last_status, Some(204));

    // During a rotation both secrets sign: a receiver holding either verifies.
    let (_, new) = w
        .services
        .rotate_endpoint_secret(&w.org, Environment::Live, &ep, 3600)
        .await
        .expect("rotate");
    w.lead("john@acme.io").await;
    w.set_now(Timestamp::now());
    worker.deliver_due().await.expect("deliver");
    let got = r.received();
    let last = got.last().expect("second delivery");
    let sig = last.headers["webhook-signature"].to_str().expect("sig");
    assert_eq!(sig.split(' ').count(), 2, "{sig}");
    for s in [secret.as_str(), new.encoded().as_str()] {
        Webhook::new(s)
            .expect("secret")
            .verify(&last.body, &last.headers)
            .expect("verifies under either secret");
    }
}

#[tokio::test]
async fn internal_addresses_are_refused_at_delivery() {
    let w = World::new().await;
    let r = Receiver::start(vec![Answer::Status(204)]).await;
    // Added while the operator allowed private addresses; the worker no longer does.
    let port = r.addr.port();
    w.endpoint(&format!("http://127.0.0.1:{port}/a"), &["*"])
        .await;
    w.endpoint(&format!("http://localhost:{port}/b"), &["*"])
        .await;
    w.lead("jane@acme.io").await;
    let strict = w.worker(WorkerConfig {
        policy: synaptiq_app::webhooks::WebhookPolicy {
            allow_http: true,
            allow_private: false,
        },
        ..WorkerConfig::default()
    });
    w.set_now(Timestamp::now());
    let out = strict.deliver_due().await.expect("deliver");
    assert_eq!(out.len(), 2);
    for o in &out {
        assert_eq!(o.error.as_deref(), Some("blocked_address"), "{o:?}");
        assert_eq!(o.http_status, None);
    }
    assert!(r.received().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let w = World::new().await;
    let r = Receiver::start(vec![Answer::Redirect("/elsewhere")]).await;
    w.endpoint(&r.url("/hook"), &["*"]).await;
    w.lead("jane@acme.io").await;
    let worker = w.worker(WorkerConfig {
        policy: DEV,
        ..WorkerConfig::default()
    });
    w.set_now(Timestamp::now());
    let out = worker.deliver_due().await.expect("deliver");
    assert_eq!(out[0].http_status, Some(302));
    assert_eq!(out[0].error.as_deref(), Some("redirect"));
    let paths: Vec<String> = r.received().into_iter().map(|g| g.path).collect();
    assert_eq!(paths, ["/hook"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_hold_up_another() {
    let w = World::new().await;
    let slow = Receiver::start(vec![Answer::Sleep(Duration::from_millis(1500))]).await;
    let fast = Receiver::start(vec![Answer::Status(204)]).await;
    w.endpoint(&slow.url("/slow"), &["lead.created"]).await;
    w.endpoint(&fast.url("/fast"), &["lead.created"]).await;
    for i in 0..8 {
        w.lead(&format!("lead{i}@acme.io")).await;
    }
    // The real clock: `run` is the concurrent path.
    let worker = std::sync::Arc::new(
        synaptiq_webhooks::Worker::new(
            w.store.clone(),
            WorkerConfig {
                policy: DEV,
                per_endpoint: 2,
                per_endpoint_queued: 4,
                poll: Duration::from_millis(20),
                ..WorkerConfig::default()
            },
        )
        .expect("worker"),
    );
    let (tx, rx) = watch::channel(false);
    let started = Instant::now();
    let run = tokio::spawn(worker.run(rx));
    while fast.received().len() < 8 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fast_done = started.elapsed();
    let slow_seen = slow.received().len();
    let _ = tx.send(true);
    let _ = run.await;
    assert_eq!(fast.received().len(), 8);
    assert!(
        fast_done < Duration::from_millis(1200),
        "the fast endpoint took {fast_done:?} beside a slow one"
    );
    assert!(
        slow_seen <= 4,
        "the slow lane sends 2 at a time: {slow_seen}"
    );
}
