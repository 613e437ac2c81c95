//! The expiry sweep and last-use facts.

use super::*;

pub async fn sweep_returns_each_key_once_across_callers(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let now = Timestamp::now();
    let past = Some(now.plus_seconds(-10));
    let mut due = HashSet::new();
    for i in 0..12 {
        let env = if i % 2 == 0 { Live } else { Test };
        due.insert(key(&store, &a, env, &format!("due {i}"), past).await.id);
    }
    let revoked = key(&store, &a, Live, "revoked", past).await;
    store
        .revoke_key(
            &a,
            Live,
            &revoked.id,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke");
    let _future = key(&store, &a, Live, "future", Some(now.plus_seconds(60))).await;
    let _forever = key(&store, &a, Live, "forever", None).await;

    let sweep = || {
        let store = store.clone();
        tokio::spawn(async move { store.sweep_expired(now).await.expect("sweep") })
    };
    let (one, two) = (sweep(), sweep());
    let (one, two) = (one.await.expect("task"), two.await.expect("task"));
    let mut seen = HashSet::new();
    for k in one.iter().chain(&two) {
        assert!(seen.insert(k.id.clone()), "{} returned twice", k.id);
        assert_eq!(k.status(now), KeyStatus::Expired);
    }
    assert_eq!(seen, due, "exactly the due keys, revoked ones excluded");
    assert!(store.sweep_expired(now).await.expect("sweep").is_empty());
    let later = store
        .sweep_expired(now.plus_seconds(120))
        .await
        .expect("sweep");
    assert_eq!(later.len(), 1, "the future key, once its time comes");
}

pub async fn record_usage_keeps_the_newest_fact(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let k1 = key(&store, &a, Live, "one", None).await;
    let k2 = key(&store, &a, Live, "two", None).await;
    let fact = |k: &KeyId, at: i64, ip: &str, ua: Option<&str>| UsageFact {
        key_id: k.clone(),
        at: Timestamp(at),
        ip: ip.to_owned(),
        user_agent: ua.map(str::to_owned),
    };
    store.record_usage(&[]).await.expect("empty batch");
    store
        .record_usage(&[
            fact(&k1.id, 2_000, "192.0.2.2", Some("curl/8")),
            fact(&k2.id, 1_000, "192.0.2.9", None),
            fact(&KeyId::generate(), 5_000, "192.0.2.3", None),
        ])
        .await
        .expect("batch");
    // Another node's older fact does not overwrite.
    store
        .record_usage(&[fact(&k1.id, 1_500, "192.0.2.1", Some("old"))])
        .await
        .expect("batch");
    let got = |id: KeyId| {
        let (store, a) = (store.clone(), a.clone());
        async move {
            let k = store
                .get_key(&a, Live, &id)
                .await
                .expect("get")
                .expect("exists");
            (k.last_used_at, k.last_used_ip, k.last_used_user_agent)
        }
    };
    let expect = |at: i64, ip: &str, ua: Option<&str>| {
        (
            Some(Timestamp(at)),
            Some(ip.to_owned()),
            ua.map(str::to_owned),
        )
    };
    assert_eq!(
        got(k1.id.clone()).await,
        expect(2_000, "192.0.2.2", Some("curl/8"))
    );
    assert_eq!(got(k2.id.clone()).await, expect(1_000, "192.0.2.9", None));

    // Two nodes flushing overlapping batches in opposite orders, at once.
    let mut keys = vec![k1.id.clone(), k2.id.clone()];
    for i in 0..10 {
        keys.push(key(&store, &a, Live, &format!("k{i}"), None).await.id);
    }
    for round in 0..3_i64 {
        let batch = |base: i64, rev: bool| {
            let mut b: Vec<_> = keys
                .iter()
                .map(|k| fact(k, 10_000 + round * 100 + base, "198.51.100.1", None))
                .collect();
            if rev {
                b.reverse();
            }
            b
        };
        let (x, y) = (batch(1, false), batch(2, true));
        let (s1, s2) = (store.clone(), store.clone());
        let one = tokio::spawn(async move { s1.record_usage(&x).await });
        let two = tokio::spawn(async move { s2.record_usage(&y).await });
        one.await.expect("task").expect("flush one");
        two.await.expect("task").expect("flush two");
    }
    for k in &keys {
        assert_eq!(got(k.clone()).await.0, Some(Timestamp(10_202)));
    }
}
