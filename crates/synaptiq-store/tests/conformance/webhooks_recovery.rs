//! Webhook redelivery, recovery and test deliveries; disabling by update; pruning.

use super::*;

pub async fn redeliver_recover_and_test(store: Arc<dyn Store>) {
    let (a, b) = (org(&store, "Acme").await, org(&store, "Globex").await);
    let e = endpoint(&store, &a, Live, only(&["lead.created"])).await;
    let f = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    tick().await;
    create(&store, &a, Live, minimal("two@acme.io")).await;
    let (d2, d1) = match deliveries(&store, &e).await.as_slice() {
        [n, o] => (n.clone(), o.clone()),
        other => panic!("two deliveries expected: {other:?}"),
    };
    assert!(d1.created_at < d2.created_at);
    let now = Timestamp::now();
    assert_eq!(claim_all(&store, now).await.len(), 4);
    let failed = [&d1, &d2].map(|d| outcome(&e, &d.event_id, now, Next::GiveUp));
    store.finish_attempts(&failed).await.expect("finish");
    let again = plus(now, 10);
    let nobody = [
        (&a, Live, &e.id, EventId::generate()),
        (&b, Live, &e.id, evt(&d1)),
        (&a, Test, &e.id, evt(&d1)),
        (&a, Live, &WebhookEndpointId::generate(), evt(&d1)),
    ];
    for (o, env, id, event) in &nobody {
        let r = store.redeliver(o, *env, id, event, again).await;
        assert_eq!(r.expect("redeliver"), None, "{o} {env:?} {id} {event}");
    }
    assert!(
        deliveries(&store, &e)
            .await
            .iter()
            .all(|d| d.status == "failed")
    );
    let r = store
        .redeliver(&a, Live, &e.id, &evt(&d1), again)
        .await
        .expect("redeliver")
        .expect("exists");
    assert_eq!(
        (r.event_id.as_str(), r.kind.as_str()),
        (d1.event_id.as_str(), "lead.created")
    );
    assert_eq!(
        (r.status.as_str(), r.attempts, r.next_attempt_at),
        ("pending", 0, Some(again))
    );
    assert_eq!(delivery(&store, &e, &d1.event_id).await, r);
    assert_eq!(delivery(&store, &e, &d2.event_id).await.status, "failed");
    let claimed = claim_all(&store, again).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (&claimed[0].event_id, claimed[0].attempts),
        (&d1.event_id, 0)
    );
    let o = outcome(&e, &d1.event_id, again, Next::GiveUp);
    store.finish_attempts(&[o]).await.expect("finish");

    let later = plus(now, 20);
    for (o, id) in [(&b, &e.id), (&a, &WebhookEndpointId::generate())] {
        let r = store.recover(o, Live, id, Timestamp(0), later).await;
        assert_eq!(r.expect("recover"), None);
    }
    let n = store.recover(&a, Live, &e.id, d2.created_at, later).await;
    assert_eq!(n.expect("recover"), Some(1), "from `since` on");
    let r2 = delivery(&store, &e, &d2.event_id).await;
    assert_eq!(
        (r2.status.as_str(), r2.attempts, r2.next_attempt_at),
        ("pending", 0, Some(later))
    );
    assert_eq!(delivery(&store, &e, &d1.event_id).await.status, "failed");
    let n = store.recover(&a, Live, &e.id, Timestamp(0), later).await;
    assert_eq!(n.expect("recover"), Some(1), "failed ones only");
    assert!(
        deliveries(&store, &e)
            .await
            .iter()
            .all(|d| d.status == "pending")
    );
    let n = store.recover(&a, Live, &e.id, Timestamp(0), later).await;
    assert_eq!(n.expect("recover"), Some(0));

    let at = plus(now, 30);
    let t = store
        .send_test(&e, &Actor::local("user_x"), at)
        .await
        .expect("send test");
    assert_eq!(
        (t.kind.as_str(), t.status.as_str()),
        ("webhook.test", "pending")
    );
    assert_eq!((t.attempts, t.next_attempt_at), (0, Some(at)));
    assert!(t.event_id.starts_with("evt_"));
    let listed = deliveries(&store, &e).await;
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&t));
    assert!(
        deliveries(&store, &f)
            .await
            .iter()
            .all(|d| d.kind == "lead.created")
    );
    let claimed = claim_all(&store, at).await;
    let c = claimed
        .iter()
        .find(|c| c.event_id == t.event_id)
        .expect("claimable");
    assert_eq!((&c.endpoint_id, c.kind.as_str()), (&e.id, "webhook.test"));
    assert_eq!(json(&c.data)["endpointId"], e.id.as_str());
    assert_eq!(json(&c.body())["type"], "webhook.test");
}

pub async fn disabling_by_update_fails_pending(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, EventFilter::All).await;
    let other = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    let renamed = |r: &mut EndpointRecord| r.description = Some("renamed".to_owned());
    store
        .update_endpoint(&a, Live, &e.id, &renamed)
        .await
        .expect("update");
    assert_eq!(
        deliveries(&store, &e).await[0].status,
        "pending",
        "still enabled"
    );
    let at = Timestamp::now();
    let off = |r: &mut EndpointRecord| {
        r.enabled = false;
        r.disabled_reason = Some("manual".to_owned());
        r.disabled_at = Some(at);
    };
    let got = store.update_endpoint(&a, Live, &e.id, &off).await;
    let got = got.expect("update").expect("exists");
    assert_eq!(
        (got.enabled, got.disabled_reason.as_deref()),
        (false, Some("manual"))
    );
    let d = &deliveries(&store, &e).await[0];
    assert_eq!(
        (d.status.as_str(), d.next_attempt_at, d.attempts),
        ("failed", None, 0)
    );
    assert_eq!(d.last_error.as_deref(), Some("endpoint_disabled"));
    assert_eq!(
        deliveries(&store, &other).await[0].status,
        "pending",
        "only its own"
    );
    let claimed = claim_all(&store, Timestamp::now()).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint_id, other.id);
    // Enabled again, it receives new events; the failed ones stay failed.
    let on = |r: &mut EndpointRecord| r.enabled = true;
    store
        .update_endpoint(&a, Live, &e.id, &on)
        .await
        .expect("update");
    create(&store, &a, Live, minimal("two@acme.io")).await;
    let statuses: Vec<String> = deliveries(&store, &e)
        .await
        .into_iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(statuses, ["pending", "failed"]);
}

pub async fn prune_deletes_finished_messages_only(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, EventFilter::All).await;
    let f = endpoint(&store, &a, Live, EventFilter::All).await;
    create(&store, &a, Live, minimal("one@acme.io")).await;
    tick().await;
    create(&store, &a, Live, minimal("two@acme.io")).await;
    tick().await;
    let cut = Timestamp::now();
    tick().await;
    create(&store, &a, Live, minimal("three@acme.io")).await;
    let (m3, m2, m1) = match deliveries(&store, &e).await.as_slice() {
        [m3, m2, m1] => (m3.clone(), m2.clone(), m1.clone()),
        other => panic!("three deliveries expected: {other:?}"),
    };
    assert!(m2.created_at < cut && cut < m3.created_at);
    let now = Timestamp::now();
    assert_eq!(claim_all(&store, now).await.len(), 6);
    let retry = Next::RetryAt(plus(now, 60_000));
    store
        .finish_attempts(&[
            outcome(&e, &m1.event_id, now, Next::Delivered),
            outcome(&f, &m1.event_id, now, Next::GiveUp),
            outcome(&e, &m2.event_id, now, Next::Delivered),
            outcome(&f, &m2.event_id, now, retry),
            outcome(&e, &m3.event_id, now, Next::Delivered),
            outcome(&f, &m3.event_id, now, Next::Delivered),
        ])
        .await
        .expect("finish");
    let ids = |l: Vec<DeliveryRecord>| l.into_iter().map(|d| d.event_id).collect::<Vec<_>>();
    let prune = |before| {
        let store = store.clone();
        async move { store.prune_webhook_messages(before).await.expect("prune") }
    };
    assert_eq!(prune(m1.created_at).await, 0, "nothing older");
    assert_eq!(prune(cut).await, 1, "the first message only");
    let (newer, older) = (m3.event_id.as_str(), m2.event_id.as_str());
    assert_eq!(ids(deliveries(&store, &e).await), [newer, older]);
    assert_eq!(ids(deliveries(&store, &f).await), [newer, older]);
    assert_eq!(prune(cut).await, 0, "one delivery still waits");
    let o = outcome(&f, &m2.event_id, plus(now, 60_000), Next::Delivered);
    store.finish_attempts(&[o]).await.expect("finish");
    assert_eq!(prune(cut).await, 1);
    assert_eq!(ids(deliveries(&store, &e).await), [newer]);
    assert_eq!(ids(deliveries(&store, &f).await), [newer]);
    assert_eq!(prune(plus(Timestamp::now(), 1000)).await, 1);
    assert!(deliveries(&store, &e).await.is_empty() && deliveries(&store, &f).await.is_empty());
}
