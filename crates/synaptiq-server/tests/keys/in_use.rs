//! Keys in use: allow-lists and renames, expiry, deletion, usage counters, the audit log and last-use facts.

use super::*;

#[tokio::test]
async fn ip_allow_list_and_patch() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let (id, key) = create(
        &t,
        &admin,
        json!({"name": "office", "scope": "read", "allowedIps": ["10.0.0.0/8"]}),
    )
    .await;
    // The harness calls from 127.0.0.1.
    let r = t.get("/api/v1/me", &key).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "forbidden");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("127.0.0.1")
    );
    let r = t
        .call(
            Method::PATCH,
            &format!("/api/v1/keys/{id}"),
            Some(&admin),
            Some(json!({"allowedIps": ["127.0.0.1"], "name": "office 2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["allowedIps"], json!(["127.0.0.1/32"]));
    assert_eq!(r.body["name"], "office 2");
    assert_eq!(
        me(&t, &key).await,
        StatusCode::OK,
        "PATCH applies on the next request"
    );
}

#[tokio::test]
async fn expiry_is_enforced_and_recorded_by_the_sweep() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let soon = Timestamp::now().plus_seconds(2).to_iso();
    let (id, key) = create(
        &t,
        &admin,
        json!({"name": "short", "scope": "read", "expiresAt": soon}),
    )
    .await;
    let r = t.get("/api/v1/me", &key).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.header("sunset").is_empty(), "within 7 days of expiry");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let r = t.get("/api/v1/me", &key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("expired")
    );
    t.app.services.record_expiries().await;
    t.app.services.record_expiries().await;
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/audit-events?keyId={id}&type=key.expired"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.body["pagination"]["total"], 1,
        "recorded exactly once: {:?}",
        r.body
    );
    assert_eq!(r.body["data"][0]["actor"], "system");
}

#[tokio::test]
async fn delete_usage_and_audit() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let (id, key) = create(&t, &admin, json!({"name": "tmp", "scope": "read"})).await;
    assert_eq!(me(&t, &key).await, StatusCode::OK);
    t.app.usage.flush(t.store.as_ref()).await;
    let got = get_key(&t, &admin, &id).await;
    assert!(got.body["lastUsedAt"].is_string(), "{:?}", got.body);
    assert_eq!(got.body["lastUsedIp"], "127.0.0.1");
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&t, &key).await, StatusCode::UNAUTHORIZED);
    let r = get_key(&t, &admin, &id).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/audit-events?keyId={id}"),
            Some(&admin),
            None,
        )
        .await;
    let kinds: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(kinds, vec!["key.deleted", "key.created"]);
    let admin_id = t.get("/api/v1/me", &admin).await.body["key"]["id"].clone();
    assert_eq!(r.body["data"][0]["actor"], admin_id);
    assert_eq!(r.body["data"][0]["ip"], "127.0.0.1");
    // The sandbox's audit log does not show live events.
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/audit-events?keyId={id}"),
            Some(&t.keys.a_test_admin),
            None,
        )
        .await;
    assert_eq!(r.body["pagination"]["total"], 0);
    let r = t.get("/api/v1/audit-events?keyId=nope", &admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// `lastUsedAt` through the router and the store: written at the first flush, held back while
/// the same client keeps using the key within the minute, written at the next flush when the
/// user agent changes, and written whatever the interval at shutdown (`flush_all`).
#[tokio::test]
async fn last_use_is_written_once_a_minute_unless_the_client_changes() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let (id, key) = create(&t, &admin, json!({"name": "busy", "scope": "read"})).await;
    let stored = || async {
        let r = get_key(&t, &admin, &id).await;
        (
            r.body["lastUsedAt"].as_str().map(str::to_owned),
            r.body["lastUsedUserAgent"].as_str().map(str::to_owned),
        )
    };
    let use_key = |agent: &'static str| {
        let mut req = common::request(Method::GET, "/api/v1/me", Some(&key), None);
        req.headers_mut()
            .insert("user-agent", agent.parse().expect("header"));
        t.send(req)
    };
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(5));
    assert_eq!(use_key("agent/1").await.status, StatusCode::OK);
    t.app.usage.flush(t.store.as_ref()).await;
    let (first, agent) = stored().await;
    assert!(first.is_some(), "first use written at once");
    assert_eq!(agent.as_deref(), Some("agent/1"));

    pause().await;
    assert_eq!(use_key("agent/1").await.status, StatusCode::OK);
    t.app.usage.flush(t.store.as_ref()).await;
    assert_eq!(
        stored().await.0,
        first,
        "same client within the minute: held back"
    );

    pause().await;
    assert_eq!(use_key("agent/2").await.status, StatusCode::OK);
    t.app.usage.flush(t.store.as_ref()).await;
    let (second, agent) = stored().await;
    assert!(second > first, "a new agent is written at the next flush");
    assert_eq!(agent.as_deref(), Some("agent/2"));

    pause().await;
    assert_eq!(use_key("agent/2").await.status, StatusCode::OK);
    t.app.usage.flush(t.store.as_ref()).await;
    assert_eq!(stored().await.0, second, "held back again");
    t.app.usage.flush_all(t.store.as_ref()).await;
    assert!(
        stored().await.0 > second,
        "shutdown writes what was held back"
    );
}
