//! Webhook outcomes: delivery state and endpoint health, and disabling an endpoint (a `410`,
//! failing too long, by hand while attempts are in flight).

use super::*;

pub async fn finishing_records_the_outcome_and_health(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    tick().await;
    create(&store, &a, Live, minimal("two@acme.io")).await;
    let (second, first) = match deliveries(&store, &e).await.as_slice() {
        [s, f] => (s.event_id.clone(), f.event_id.clone()),
        other => panic!("two deliveries expected: {other:?}"),
    };
    let now = Timestamp::now();
    assert_eq!(claim_all(&store, now).await.len(), 2);
    let retry_at = plus(now, 60_000);
    let mut give_up = outcome(&e, &second, plus(now, 5), Next::GiveUp);
    give_up.attempts = 8;
    let done = store
        .finish_attempts(&[outcome(&e, &first, now, Next::RetryAt(retry_at)), give_up])
        .await
        .expect("finish");
    assert!(done.is_empty(), "nothing disabled");
    let d = delivery(&store, &e, &first).await;
    assert_eq!((d.status.as_str(), d.attempts), ("pending", 1));
    assert_eq!(
        (d.next_attempt_at, d.last_attempt_at),
        (Some(retry_at), Some(now))
    );
    assert_eq!(
        (d.last_status, d.last_error.as_deref()),
        (Some(500), Some("http_status"))
    );
    assert_eq!(
        (d.last_latency_ms, d.last_response.as_deref()),
        (Some(25), Some("nope"))
    );
    let d = delivery(&store, &e, &second).await;
    assert_eq!(
        (d.status.as_str(), d.attempts, d.next_attempt_at),
        ("failed", 8, None)
    );
    let health = reread(&store, &e).await;
    assert!(health.enabled);
    assert_eq!(
        (health.consecutive_failures, health.failing_since),
        (2, Some(now))
    );
    // Due again at its time, not before.
    assert!(!store.deliveries_due(plus(retry_at, -1)).await.expect("due"));
    assert!(claim_all(&store, plus(retry_at, -1)).await.is_empty());
    let again = claim_all(&store, retry_at).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].event_id.as_str(), again[0].attempts),
        (first.as_str(), 1)
    );
    let mut ok = outcome(&e, &first, retry_at, Next::Delivered);
    ok.attempts = 2;
    ok.latency_ms = 42;
    assert!(
        store
            .finish_attempts(&[ok])
            .await
            .expect("finish")
            .is_empty()
    );
    let d = delivery(&store, &e, &first).await;
    assert_eq!(
        (d.status.as_str(), d.attempts, d.next_attempt_at),
        ("delivered", 2, None)
    );
    assert_eq!((d.last_status, d.last_error), (Some(200), None));
    assert_eq!(
        (d.last_latency_ms, d.last_response.as_deref()),
        (Some(42), Some("thanks"))
    );
    assert_eq!(d.last_attempt_at, Some(retry_at));
    let health = reread(&store, &e).await;
    assert_eq!(
        (health.consecutive_failures, health.failing_since),
        (0, None),
        "reset"
    );
    let far = plus(now, 86_400_000);
    assert!(!store.deliveries_due(far).await.expect("due"));
    assert!(claim_all(&store, far).await.is_empty());
}

pub async fn gone_disables_and_tells_the_other_endpoints(store: Arc<dyn Store>) {
    let (a, b) = (org(&store, "Acme").await, org(&store, "Globex").await);
    let e = endpoint(&store, &a, Live, only(&["lead.created"])).await;
    let watch = endpoint(&store, &a, Live, EventFilter::All).await;
    let watch_test = endpoint(&store, &a, Test, EventFilter::All).await;
    let watch_b = endpoint(&store, &b, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    tick().await;
    create(&store, &a, Live, minimal("two@acme.io")).await;
    let now = Timestamp::now();
    let claimed = store
        .claim_deliveries(now, plus(now, 30_000), 1, std::slice::from_ref(&watch.id))
        .await
        .expect("claim");
    let [c] = claimed.as_slice() else {
        panic!("one claim expected: {claimed:?}")
    };
    let done = store
        .finish_attempts(&[outcome(&e, &c.event_id, now, Next::Gone)])
        .await
        .expect("finish");
    assert_eq!(done.len(), 1, "the endpoint disabled");
    for got in [&done[0], &reread(&store, &e).await] {
        assert_eq!(got.id, e.id);
        assert!(!got.enabled);
        assert_eq!(got.disabled_reason.as_deref(), Some("gone"));
        assert_eq!(got.disabled_at, Some(now));
    }
    let list = deliveries(&store, &e).await;
    assert_eq!(list.len(), 2);
    for d in &list {
        assert_eq!((d.status.as_str(), d.next_attempt_at), ("failed", None));
        if d.event_id == c.event_id {
            assert_eq!((d.last_status, d.attempts), (Some(410), 1));
        } else {
            assert_eq!(d.last_error.as_deref(), Some("endpoint_disabled"));
            assert_eq!((d.last_status, d.attempts), (None, 0));
        }
    }
    let told = deliveries(&store, &watch).await;
    assert_eq!(told.len(), 3);
    assert_eq!(
        (told[0].kind.as_str(), told[0].status.as_str()),
        ("webhook.endpoint.disabled", "pending")
    );
    assert!(
        deliveries(&store, &watch_test).await.is_empty(),
        "other environment"
    );
    assert!(
        deliveries(&store, &watch_b).await.is_empty(),
        "other organization"
    );
    let claimed = claim_all(&store, Timestamp::now()).await;
    assert!(
        claimed.iter().all(|c| c.endpoint_id == watch.id),
        "{claimed:?}"
    );
    let msg = claimed
        .iter()
        .find(|c| c.event_id == told[0].event_id)
        .expect("the disabled message is claimable");
    let data = json(&msg.data);
    assert_eq!(data["id"], e.id.as_str());
    assert_eq!(data["object"], "webhook_endpoint");
    assert_eq!(
        (&data["enabled"], &data["disabledReason"]),
        (&false.into(), &"gone".into())
    );
    // Once disabled, another 410 disables nothing more and tells nobody again.
    let other = list
        .iter()
        .find(|d| d.event_id != c.event_id)
        .expect("other");
    let done = store
        .finish_attempts(&[outcome(&e, &other.event_id, plus(now, 1), Next::Gone)])
        .await
        .expect("finish");
    assert!(done.is_empty());
    assert_eq!(deliveries(&store, &watch).await.len(), 3);
}

pub async fn failing_too_long_disables(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let since = Timestamp::now();
    let mut r = record(&a, Live, EventFilter::All);
    (r.consecutive_failures, r.failing_since) = (4, Some(since));
    let e = stored(&store, r).await;
    let watch = endpoint(&store, &a, Live, only(&["webhook.endpoint.disabled"])).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    assert!(
        deliveries(&store, &watch).await.is_empty(),
        "not subscribed"
    );
    let claimed = claim_all(&store, Timestamp::now()).await;
    let [c] = claimed.as_slice() else {
        panic!("one claim expected: {claimed:?}")
    };
    let almost = plus(since, DISABLE_AFTER_MS - 1);
    let o = outcome(&e, &c.event_id, almost, Next::RetryAt(plus(almost, 1000)));
    assert!(
        store
            .finish_attempts(&[o])
            .await
            .expect("finish")
            .is_empty()
    );
    let health = reread(&store, &e).await;
    assert!(health.enabled, "not yet");
    assert_eq!(
        (health.consecutive_failures, health.failing_since),
        (5, Some(since))
    );
    let past = plus(since, DISABLE_AFTER_MS + 1);
    let mut o = outcome(&e, &c.event_id, past, Next::RetryAt(plus(past, 1000)));
    o.attempts = 2;
    let done = store.finish_attempts(&[o]).await.expect("finish");
    assert_eq!(done.len(), 1);
    for got in [&done[0], &reread(&store, &e).await] {
        assert_eq!(got.id, e.id);
        assert!(!got.enabled);
        assert_eq!(got.disabled_reason.as_deref(), Some("failing"));
        assert_eq!(got.disabled_at, Some(past));
    }
    let d = delivery(&store, &e, &c.event_id).await;
    assert_eq!(
        (d.status.as_str(), d.next_attempt_at, d.attempts),
        ("failed", None, 2)
    );
    let told = deliveries(&store, &watch).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].kind, "webhook.endpoint.disabled");
    let claimed = claim_all(&store, Timestamp::now()).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint_id, watch.id);
    assert_eq!(json(&claimed[0].data)["disabledReason"], "failing");
}

/// Attempts in flight when their endpoint is disabled (by a 410 earlier in the same batch, or
/// by hand) end failed: a retry must not leave a delivery pending on a disabled endpoint.
pub async fn an_outcome_after_disabling_does_not_revive(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    create(&store, &a, Live, minimal("two@acme.io")).await;
    let now = Timestamp::now();
    let claimed = claim_all(&store, now).await;
    let [x, y] = claimed.as_slice() else {
        panic!("two claims expected: {claimed:?}")
    };
    let retry_at = plus(now, 60_000);
    let done = store
        .finish_attempts(&[
            outcome(&e, &x.event_id, now, Next::Gone),
            outcome(&e, &y.event_id, plus(now, 1), Next::RetryAt(retry_at)),
        ])
        .await
        .expect("finish");
    assert_eq!(done.len(), 1);
    for d in deliveries(&store, &e).await {
        assert_eq!(
            (d.status.as_str(), d.next_attempt_at),
            ("failed", None),
            "{d:?}"
        );
    }
    assert!(!store.deliveries_due(retry_at).await.expect("due"));
    let f = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("three@acme.io")).await;
    let claimed = claim_all(&store, Timestamp::now()).await;
    let [z] = claimed.as_slice() else {
        panic!("one claim expected: {claimed:?}")
    };
    let off = |r: &mut EndpointRecord| {
        r.enabled = false;
        r.disabled_reason = Some("manual".to_owned());
    };
    let changed = store.update_endpoint(&a, Live, &f.id, &off).await;
    assert!(!changed.expect("update").expect("exists").enabled);
    let o = outcome(&f, &z.event_id, Timestamp::now(), Next::RetryAt(retry_at));
    assert!(
        store
            .finish_attempts(&[o])
            .await
            .expect("finish")
            .is_empty()
    );
    let d = delivery(&store, &f, &z.event_id).await;
    assert_eq!((d.status.as_str(), d.next_attempt_at), ("failed", None));
    assert!(!store.deliveries_due(retry_at).await.expect("due"));
}
