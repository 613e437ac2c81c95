//! The webhook outbox: what a change writes in its own transaction, claims, message versions.

use super::*;

pub async fn the_outbox_is_written_with_the_change(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let (a, b) = (org(&store, "Acme").await, org(&store, "Globex").await);
    let created = endpoint(&store, &a, Live, only(&["lead.created"])).await;
    let every = endpoint(&store, &a, Live, EventFilter::All).await;
    let testing = endpoint(&store, &a, Test, EventFilter::All).await;
    let other = endpoint(&store, &b, Live, EventFilter::All).await;
    let updated = endpoint(&store, &a, Live, only(&["lead.updated"])).await;
    let mut off = record(&a, Live, EventFilter::All);
    off.enabled = false;
    off.disabled_reason = Some("manual".to_owned());
    let off = stored(&store, off).await;
    let before = Timestamp::now();
    let lead = create(&store, &a, Live, minimal("jane@acme.io")).await;
    let after = Timestamp::now();
    let (c, e) = (
        deliveries(&store, &created).await,
        deliveries(&store, &every).await,
    );
    assert_eq!((c.len(), e.len()), (1, 1), "one delivery per endpoint");
    for d in [&c[0], &e[0]] {
        assert_eq!(
            (d.kind.as_str(), d.status.as_str()),
            ("lead.created", "pending")
        );
        assert!(d.event_id.starts_with("evt_"), "{}", d.event_id);
        assert_eq!(d.attempts, 0);
        let next = d.next_attempt_at.expect("due");
        assert!(before <= next && next <= after, "due at once");
        assert!(d.last_attempt_at.is_none() && d.last_status.is_none());
    }
    assert_eq!(c[0].event_id, e[0].event_id, "one event, one message");
    for (name, ep) in [("test", &testing), ("org", &other), ("off", &off)] {
        assert!(deliveries(&store, ep).await.is_empty(), "{name}");
    }
    assert!(
        deliveries(&store, &updated).await.is_empty(),
        "not subscribed"
    );
    let messages = "SELECT COUNT(*) FROM webhook_messages";
    let rows = "SELECT COUNT(*) FROM webhook_deliveries";
    assert_eq!(raw.count(messages, &[]).await, 1);
    assert_eq!(raw.count(rows, &[]).await, 2);

    // A refused duplicate writes nothing.
    let dup = via_app(&store)
        .create_lead(&a, Live, &minimal("JANE@acme.io"), &Actor::local("test"))
        .await;
    assert!(dup.is_err(), "duplicate email");
    assert_eq!(raw.count(messages, &[]).await, 1, "no message");
    assert_eq!(raw.count(rows, &[]).await, 2, "no delivery");

    // Each environment and organization to its own endpoints.
    create(&store, &a, Test, minimal("t@acme.io")).await;
    create(&store, &b, Live, minimal("x@globex.io")).await;
    assert_eq!(deliveries(&store, &testing).await.len(), 1);
    assert_eq!(deliveries(&store, &other).await.len(), 1);
    assert_eq!(deliveries(&store, &created).await.len(), 1);
    assert_eq!(deliveries(&store, &every).await.len(), 1);
    assert!(deliveries(&store, &off).await.is_empty());

    let patch = UpdateLead {
        score: Some(7),
        ..UpdateLead::default()
    };
    via_app(&store)
        .update_lead(&a, Live, &lead_id(&lead), &patch, &Actor::local("test"))
        .await
        .expect("update")
        .expect("exists");
    let u = deliveries(&store, &updated).await;
    assert_eq!(u.len(), 1);
    assert_eq!((u[0].kind.as_str(), u[0].attempts), ("lead.updated", 0));
    assert!(u[0].next_attempt_at.is_some());
    let kinds: Vec<String> = deliveries(&store, &every)
        .await
        .into_iter()
        .map(|d| d.kind)
        .collect();
    assert_eq!(kinds, ["lead.updated", "lead.created"]);
    assert_eq!(deliveries(&store, &created).await.len(), 1);
    assert!(deliveries(&store, &off).await.is_empty());
    let of_b = raw
        .count(
            "SELECT COUNT(*) FROM webhook_messages WHERE org_id = $1",
            &[RawArg::T(b.as_str())],
        )
        .await;
    assert_eq!(of_b, 1);
}

pub async fn claims_carry_what_an_attempt_needs(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let start = Timestamp::now();
    let one = endpoint(&store, &a, Live, EventFilter::All).await;
    let mut rotated = record(&a, Live, only(&["lead.created"]));
    let old = WebhookSecret::generate().expect("secret");
    rotated.previous_secret = Some((old.clone(), plus(start, 3_600_000)));
    let two = stored(&store, rotated).await;
    assert!(!store.deliveries_due(Timestamp::now()).await.expect("due"));
    let first = create(&store, &a, Live, minimal("first@acme.io")).await;
    tick().await;
    let second = create(&store, &a, Live, minimal("second@acme.io")).await;
    tick().await;
    let now = Timestamp::now();
    assert!(
        !store.deliveries_due(start).await.expect("due"),
        "nothing due yet"
    );
    assert!(store.deliveries_due(now).await.expect("due"));
    let lease = plus(now, 30_000);
    // `limit` and `skip`; oldest first.
    let c1 = store
        .claim_deliveries(now, lease, 1, std::slice::from_ref(&two.id))
        .await
        .expect("claim");
    assert_eq!(c1.len(), 1, "limit");
    assert_eq!(c1[0].endpoint_id, one.id, "skip");
    assert_eq!(json(&c1[0].data)["email"], "first@acme.io", "oldest first");
    let c2 = store
        .claim_deliveries(now, lease, 10, std::slice::from_ref(&one.id))
        .await
        .expect("claim");
    assert_eq!(c2.len(), 2);
    assert!(c2.iter().all(|c| c.endpoint_id == two.id), "skip");
    let c3 = claim_all(&store, now).await;
    assert_eq!(c3.len(), 1, "the rest");
    assert_eq!(json(&c3[0].data)["email"], "second@acme.io");
    assert!(claim_all(&store, now).await.is_empty(), "all claimed");
    assert!(
        !store.deliveries_due(now).await.expect("due"),
        "all claimed"
    );
    assert!(
        !store.deliveries_due(lease).await.expect("due"),
        "until the lease"
    );
    assert!(
        claim_all(&store, plus(now, 29_000)).await.is_empty(),
        "leased"
    );
    let claimed: Vec<&ClaimedDelivery> = c1.iter().chain(&c2).chain(&c3).collect();
    for c in &claimed {
        let e = if c.endpoint_id == one.id { &one } else { &two };
        assert_eq!(c.url, e.url);
        assert_eq!(c.secrets[0].encoded(), e.secret.encoded(), "current first");
        assert_eq!((c.kind.as_str(), c.attempts), ("lead.created", 0));
        assert!(c.version >= 1);
        let data = json(&c.data);
        let lead = if data["id"] == first.id {
            &first
        } else {
            &second
        };
        assert_eq!(data["id"], lead.id);
        assert_eq!(data["email"], lead.email);
        let body = json(&c.body());
        assert_eq!(body["apiVersion"], "v1");
        assert_eq!(body["id"], c.event_id);
        assert!(c.event_id.starts_with("evt_"));
        assert_eq!(body["type"], "lead.created");
        assert_eq!(body["version"], c.version);
        assert_eq!(body["data"], data);
    }
    let secrets = |c: &ClaimedDelivery| -> Vec<String> {
        c.secrets.iter().map(WebhookSecret::encoded).collect()
    };
    assert_eq!(secrets(&c1[0]), vec![one.secret.encoded()]);
    assert_eq!(
        secrets(&c2[0]),
        vec![two.secret.encoded(), old.encoded()],
        "the previous secret signs during its grace"
    );
    // The lease lapses: everything can be claimed again, by another node.
    let later = plus(lease, 1);
    assert!(store.deliveries_due(later).await.expect("due"));
    let again = claim_all(&store, later).await;
    assert_eq!(again.len(), 4, "claims lapse");
    // Past the previous secret's grace only the current one signs.
    let late = plus(start, 3_600_001);
    let after = store
        .claim_deliveries(late, plus(late, 1), 10, std::slice::from_ref(&one.id))
        .await
        .expect("claim");
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|c| c.secrets.len() == 1));
}

pub async fn versions_increase_per_subject(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, EventFilter::All).await;
    let lead = create(&store, &a, Live, minimal("v@acme.io")).await;
    let actor = Actor::local("test");
    for patch in [
        UpdateLead {
            score: Some(1),
            ..UpdateLead::default()
        },
        UpdateLead {
            score: Some(2),
            ..UpdateLead::default()
        },
        UpdateLead {
            status: Some(LeadStatus::Qualified),
            ..UpdateLead::default()
        },
    ] {
        tick().await;
        via_app(&store)
            .update_lead(&a, Live, &lead_id(&lead), &patch, &actor)
            .await
            .expect("update")
            .expect("exists");
    }
    tick().await;
    let other = create(&store, &a, Live, minimal("w@acme.io")).await;
    let mut claimed = claim_all(&store, Timestamp::now()).await;
    assert_eq!(claimed.len(), 6);
    assert!(claimed.iter().all(|c| c.endpoint_id == e.id));
    claimed.sort_by(|x, y| (x.created_at, &x.event_id).cmp(&(y.created_at, &y.event_id)));
    let of = |id: &str| -> Vec<(String, i64)> {
        claimed
            .iter()
            .filter(|c| json(&c.data)["id"] == id)
            .map(|c| (c.kind.clone(), c.version))
            .collect()
    };
    let mine = of(&lead.id);
    let kinds: Vec<&str> = mine.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "lead.created",
            "lead.updated",
            "lead.updated",
            "lead.updated",
            "lead.qualified"
        ]
    );
    assert!(mine[0].1 >= 1);
    for w in mine.windows(2) {
        assert!(w[1].1 > w[0].1, "versions increase: {mine:?}");
    }
    assert_eq!(
        of(&other.id),
        [("lead.created".to_owned(), 1)],
        "per subject"
    );
}

pub async fn key_events_carry_the_key_without_secret(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e = endpoint(&store, &a, Live, only(&["key.created"])).await;
    let leads = endpoint(&store, &a, Live, only(&["lead.created"])).await;
    key(&store, &a, Test, "elsewhere", None).await;
    let k = key(&store, &a, Live, "deploy", None).await;
    let d = deliveries(&store, &e).await;
    assert_eq!(d.len(), 1, "the live key only");
    assert_eq!(
        (d[0].kind.as_str(), d[0].status.as_str()),
        ("key.created", "pending")
    );
    assert!(deliveries(&store, &leads).await.is_empty());
    let claimed = claim_all(&store, Timestamp::now()).await;
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(c.event_id, d[0].event_id);
    let data = json(&c.data);
    assert_eq!(data["object"], "api_key");
    assert_eq!(data["id"], k.id.as_str());
    assert_eq!(data["name"], "deploy");
    assert_eq!(data["hint"], k.hint);
    let fields = data.as_object().expect("an object");
    for f in ["secret", "hash", "keyHash", "key"] {
        assert!(!fields.contains_key(f), "{f} in {data}");
    }
    assert!(!c.data.contains("sk_live_") && !c.data.contains("sk_test_"));
}
