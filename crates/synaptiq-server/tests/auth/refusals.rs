//! Why a key is refused: malformed headers, scopes, revoked and expired keys, throttles, rate-limit headers, plan changes, and keys and sessions never opening each other's doors.

use super::*;

fn raw(auth: &[&[u8]]) -> Request<Body> {
    let mut b = Request::builder().method(Method::GET).uri("/api/v1/me");
    for v in auth {
        b = b.header(
            "authorization",
            axum::http::HeaderValue::from_bytes(v).expect("header value"),
        );
    }
    b.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn bad_authorization_headers_get_401_never_5xx() {
    let t = TestApp::new().await;
    let good = t.keys.a_live_read.clone();
    let mut changed = good.clone().into_bytes();
    changed[20] = if changed[20] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).expect("ascii");
    let wrong_prefix = good.replacen("sk_live_", "sk_test_", 1);
    let long = format!("Bearer {}", "a".repeat(8 * 1024));
    let cases: Vec<(&str, Vec<Vec<u8>>, bool)> = vec![
        ("missing", vec![], false),
        ("empty", vec![b"".to_vec()], true),
        ("basic", vec![format!("Basic {good}").into_bytes()], true),
        (
            "doubled",
            vec![
                format!("Bearer {good}").into_bytes(),
                format!("Bearer {good}").into_bytes(),
            ],
            true,
        ),
        (
            "wrong prefix",
            vec![format!("Bearer {wrong_prefix}").into_bytes()],
            true,
        ),
        (
            "one character changed",
            vec![format!("Bearer {changed}").into_bytes()],
            true,
        ),
        (
            "truncated",
            vec![format!("Bearer {}", &good[..good.len() - 1]).into_bytes()],
            true,
        ),
        ("8 KB", vec![long.into_bytes()], true),
        (
            "non-ASCII",
            vec!["Bearer sk_live_ü".as_bytes().to_vec()],
            true,
        ),
        (
            "seed example",
            vec![b"Bearer sk_live_abc123def456ghi789jkl012mno345".to_vec()],
            true,
        ),
        ("no token", vec![b"Bearer".to_vec()], true),
        (
            "two tokens",
            vec![format!("Bearer {good} {good}").into_bytes()],
            true,
        ),
    ];
    for (name, headers, present) in cases {
        let hs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let r = t.send(raw(&hs)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {:?}", r.body);
        assert_eq!(r.code(), "unauthorized", "{name}");
        assert_eq!(
            r.body["error"]["message"],
            "Invalid or missing API key. Provide a valid Bearer token in the Authorization header.",
            "{name}"
        );
        let challenge = r.header("www-authenticate");
        if present {
            assert_eq!(
                challenge, r#"Bearer realm="synaptiq", error="invalid_token""#,
                "{name}"
            );
        } else {
            assert_eq!(challenge, r#"Bearer realm="synaptiq""#, "{name}");
        }
        assert!(
            r.header("x-ratelimit-limit").is_empty(),
            "{name}: unauthenticated responses carry no key quota"
        );
    }
    // The scheme is case-insensitive.
    let r = t.send(raw(&[format!("bearer {good}").as_bytes()])).await;
    assert_eq!(r.status, StatusCode::OK);
    // A key in the query string is not accepted.
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/me?api_key={good}"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forbidden_names_both_scopes_and_spends_no_quota() {
    let t = TestApp::with_policy(synaptiq_core::plan::RatePolicy::default()).await;
    let before = t.get("/api/v1/leads", &t.keys.a_live_read).await;
    let remaining: u32 = before
        .header("x-ratelimit-remaining")
        .parse()
        .expect("remaining");
    for _ in 0..5 {
        let r = t
            .call(
                Method::POST,
                "/api/v1/leads",
                Some(&t.keys.a_live_read),
                Some(json!({"email": "x@example.com"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.code(), "forbidden");
        let msg = r.body["error"]["message"].as_str().expect("message");
        assert!(msg.contains("'read'") && msg.contains("'write'"), "{msg}");
        assert_eq!(
            r.header("www-authenticate"),
            r#"Bearer realm="synaptiq", error="insufficient_scope", scope="write""#
        );
    }
    let after = t.get("/api/v1/leads", &t.keys.a_live_read).await;
    let left: u32 = after
        .header("x-ratelimit-remaining")
        .parse()
        .expect("remaining");
    // Only the two GETs spent quota (refill during the test can only add).
    assert!(
        left + 1 >= remaining,
        "403s spent quota: {remaining} -> {left}"
    );
    assert_eq!(after.header("x-ratelimit-limit"), "120");
}

#[tokio::test]
async fn revoked_and_expired_keys_say_so() {
    let t = TestApp::new().await;
    let me = t.get("/api/v1/me", &t.keys.a_live_write).await;
    let id = synaptiq_core::ids::KeyId::parse(me.body["key"]["id"].as_str().expect("id"))
        .expect("key id");
    t.store
        .revoke_key(
            &t.org_a,
            synaptiq_core::scope::Environment::Live,
            &id,
            synaptiq_types::time::Timestamp::now(),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke");
    // The CLI path: the server learns through the change epoch.
    t.app
        .keys
        .observe_epoch(t.store.change_epoch().await.expect("epoch"));
    let r = t.get("/api/v1/me", &t.keys.a_live_write).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("revoked")
    );
    assert_eq!(
        r.header("www-authenticate"),
        r#"Bearer realm="synaptiq", error="invalid_token""#
    );
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_ip() {
    let mut policy = synaptiq_core::plan::RatePolicy::uniform(1_000_000);
    policy.auth_failures_per_minute = 5;
    let t = TestApp::with_policy(policy).await;
    // Warm the cache with a valid key first: it keeps working while the IP is throttled.
    assert_eq!(
        t.get("/api/v1/me", &t.keys.a_live_read).await.status,
        StatusCode::OK
    );
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(t.get("/api/v1/me", "sk_live_nope").await.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    let r = t.get("/api/v1/me", "sk_live_nope").await;
    assert_eq!(r.code(), "rate_limit_exceeded");
    assert!(!r.header("retry-after").is_empty());
    assert_eq!(
        t.get("/api/v1/me", &t.keys.a_live_read).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let t = TestApp::with_policy(synaptiq_core::plan::RatePolicy::default()).await;
    // Admin keys on the starter plan: 30 per minute.
    for i in 0..30 {
        let r = t.get("/api/v1/me", &t.keys.a_live_admin).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
        assert_eq!(r.header("x-ratelimit-limit"), "30");
    }
    let r = t.get("/api/v1/me", &t.keys.a_live_admin).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limit_exceeded");
    assert_eq!(r.header("x-ratelimit-remaining"), "0");
    assert_eq!(r.header("retry-after"), r.header("x-ratelimit-retryafter"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("30 requests per minute")
    );
    // The test key of the same organization has its own bucket.
    let r = t.get("/api/v1/me", &t.keys.a_test_admin).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn plan_change_through_the_store_applies_on_next_request() {
    let t = TestApp::with_policy(synaptiq_core::plan::RatePolicy::default()).await;
    let r = t.get("/api/v1/me", &t.keys.a_live_read).await;
    assert_eq!(r.header("x-ratelimit-limit"), "120");
    t.store
        .set_plan(&t.org_a, synaptiq_core::plan::Plan::Enterprise)
        .await
        .expect("plan");
    t.app
        .keys
        .observe_epoch(t.store.change_epoch().await.expect("epoch"));
    let r = t.get("/api/v1/me", &t.keys.a_live_read).await;
    assert_eq!(r.header("x-ratelimit-limit"), "3000");
    assert_eq!(r.body["organization"]["plan"], "enterprise");
}

#[tokio::test]
async fn the_session_cookie_never_opens_the_api() {
    let t = TestApp::new().await;
    let owner = t.dash_user(Role::Owner).await;
    let browser = t.sign_in(&owner).await;
    // The cookie is good: it opens the dashboard.
    let page = t.browse("/dashboard/keys", &browser.cookies()).await;
    assert_eq!(page.status, StatusCode::OK);
    let id = t.key_id(Environment::Live, Scope::Read).await;
    let mut n = 0;
    for def in routes::table().into_iter().map(|r| r.def) {
        if !def.path.starts_with("/api/v1/") || def.access == Access::Public {
            continue;
        }
        let path = def
            .path
            .replace("{id}", &id)
            .replace("/search", "/search?q=x");
        let mut b = Request::builder()
            .method(def.method.clone())
            .uri(&path)
            .header("cookie", browser.cookies())
            .header("origin", common::dashboard::ORIGIN)
            .header("sec-fetch-site", "same-origin");
        if def.method != Method::GET {
            b = b.header("content-type", "application/json");
        }
        let body = if def.method == Method::GET {
            Body::empty()
        } else {
            Body::from("{}")
        };
        let r = t.send(b.body(body).expect("request")).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{} {}",
            def.method,
            def.path
        );
        assert_eq!(r.code(), "unauthorized", "{} {}", def.method, def.path);
        n += 1;
    }
    assert!(n >= 14, "only {n} API routes checked");
    // Nothing changed: the key the cookie could have revoked is still active.
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/keys/{id}"),
            Some(&t.keys.a_live_admin),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "active");
}

#[tokio::test]
async fn api_keys_never_open_the_dashboard() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let r = t.get("/dashboard/keys", &admin).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        "/dashboard/login?next=%2Fdashboard%2Fkeys"
    );
    // A form POST carrying an admin key (and browser headers) creates nothing.
    let before = t.get("/api/v1/keys", &admin).await.body["pagination"]["total"].clone();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/dashboard/keys")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", common::dashboard::ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .body(Body::from("name=via-key&scope=admin&environment=live"))
        .expect("request");
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!html(&r).contains("via-key"));
    let after = t.get("/api/v1/keys", &admin).await.body["pagination"]["total"].clone();
    assert_eq!(
        before, after,
        "a key was created through the dashboard with an API key"
    );
}
