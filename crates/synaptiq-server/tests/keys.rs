//! Key lifecycle through the real router: create, rotate with a grace period, Revoke Old Key,
//! expiry, IP allow-lists, usage facts and the audit log.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{Value, json};
use synaptiq_types::time::Timestamp;

async fn create(t: &TestApp, admin: &str, body: Value) -> (String, String) {
    let r = t
        .call(Method::POST, "/api/v1/keys", Some(admin), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["secret"].as_str().expect("secret").to_owned();
    (r.body["id"].as_str().expect("id").to_owned(), secret)
}

/// `GET /api/v1/keys/{id}` as `admin`.
async fn get_key(t: &TestApp, admin: &str, id: &str) -> common::Reply {
    t.call(
        Method::GET,
        &format!("/api/v1/keys/{id}"),
        Some(admin),
        None,
    )
    .await
}

async fn me(t: &TestApp, key: &str) -> StatusCode {
    t.get("/api/v1/me", key).await.status
}

#[tokio::test]
async fn secret_is_shown_once() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let r = t
        .call(
            Method::POST,
            "/api/v1/keys",
            Some(&admin),
            Some(json!({"name": "CRM", "scope": "write"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let secret = r.body["secret"].as_str().expect("secret");
    assert!(secret.starts_with("sk_live_") && secret.len() == 44);
    assert_eq!(r.body["environment"], "live");
    assert_eq!(r.body["status"], "active");
    let id = r.body["id"].as_str().expect("id");
    let got = get_key(&t, &admin, id).await;
    assert!(got.body.get("secret").is_none());
    let listed = t.get("/api/v1/keys", &admin).await;
    assert!(
        !listed.body.to_string().contains(secret),
        "a list leaked a secret"
    );
    assert_eq!(me(&t, secret).await, StatusCode::OK);
    // A test admin key creates test keys and sees no live ones.
    let r = t
        .call(
            Method::POST,
            "/api/v1/keys",
            Some(&t.keys.a_test_admin),
            Some(json!({"name": "t", "scope": "read"})),
        )
        .await;
    assert!(
        r.body["secret"]
            .as_str()
            .expect("secret")
            .starts_with("sk_test_")
    );
    let listed = t.get("/api/v1/keys", &t.keys.a_test_admin).await;
    assert!(
        listed.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|k| k["environment"] == "test")
    );
}

#[tokio::test]
async fn create_validation() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    for (body, param) in [
        (json!({"scope": "read"}), "name"),
        (json!({"name": "", "scope": "read"}), "name"),
        (json!({"name": "CRM\u{0}sync", "scope": "read"}), "name"),
        (json!({"name": "x", "scope": "owner"}), "scope"),
        (
            json!({"name": "x", "scope": "read", "expiresAt": "2001-01-01T00:00:00Z"}),
            "expiresAt",
        ),
        (
            json!({"name": "x", "scope": "read", "allowedIps": ["not-an-ip"]}),
            "allowedIps",
        ),
        (
            json!({"name": "x", "scope": "read", "secret": "mine"}),
            "secret",
        ),
    ] {
        let r = t
            .call(
                Method::POST,
                "/api/v1/keys",
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.body["error"]["param"], param, "{body}: {:?}", r.body);
    }
}

#[tokio::test]
async fn zero_downtime_rotation_and_revoke_old_key() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let (old_id, old) = create(
        &t,
        &admin,
        json!({"name": "CRM", "scope": "read", "allowedIps": ["127.0.0.0/8"]}),
    )
    .await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/keys/{old_id}/rotate"),
            Some(&admin),
            Some(json!({"gracePeriodSeconds": 3600})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let new = r.body["newKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let new_id = r.body["newKey"]["id"].as_str().expect("id").to_owned();
    assert_eq!(r.body["newKey"]["name"], "CRM");
    assert_eq!(r.body["newKey"]["scope"], "read");
    assert_eq!(r.body["newKey"]["allowedIps"], json!(["127.0.0.0/8"]));
    assert_eq!(r.body["newKey"]["rotatedFrom"], old_id.as_str());
    assert_eq!(r.body["oldKey"]["status"], "rotating");
    assert_eq!(r.body["oldKey"]["rotatedTo"], new_id.as_str());
    let deadline =
        Timestamp::parse(r.body["oldKey"]["expiresAt"].as_str().expect("deadline")).expect("ts");
    let expected = Timestamp::now().plus_seconds(3600);
    assert!((deadline.millis() - expected.millis()).abs() < 5_000);

    // Both work; the old one announces its end.
    let r = t.get("/api/v1/leads", &old).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("deprecation").starts_with('@'));
    assert_eq!(r.header("sunset"), deadline.to_http_date());
    assert!(
        r.header("link").contains("/docs/api-reference/rotation")
            && r.header("link").contains("rel=\"deprecation\"")
    );
    let r = t.get("/api/v1/leads", &new).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("deprecation").is_empty());

    // Revoke Old Key: the old key stops at once, the new one keeps working.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/keys/{old_id}/revoke"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "revoked");
    let r = t.get("/api/v1/me", &old).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("revoked")
    );
    assert_eq!(me(&t, &new).await, StatusCode::OK);
    // A revoked key cannot be rotated.
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/keys/{old_id}/rotate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn zero_grace_expires_now_and_rotating_twice_keeps_each_deadline() {
    let t = TestApp::new().await;
    let admin = t.keys.a_live_admin.clone();
    let (a_id, a) = create(&t, &admin, json!({"name": "A", "scope": "read"})).await;
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/keys/{a_id}/rotate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "no body means the default grace: {:?}",
        r.body
    );
    let a_deadline = r.body["oldKey"]["expiresAt"].clone();
    let b_id = r.body["newKey"]["id"].as_str().expect("id").to_owned();
    let b = r.body["newKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let r = t
        .call(
            Method::POST,
            &format!("/api/v1/keys/{b_id}/rotate"),
            Some(&admin),
            Some(json!({"gracePeriodSeconds": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["oldKey"]["status"], "expired");
    let c = r.body["newKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let r = t.get("/api/v1/me", &b).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("expired")
    );
    assert_eq!(me(&t, &a).await, StatusCode::OK, "A keeps its own deadline");
    assert_eq!(me(&t, &c).await, StatusCode::OK);
    let got = t
        .call(
            Method::GET,
            &format!("/api/v1/keys/{a_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(got.body["expiresAt"], a_deadline);
    for bad in [
        json!({"gracePeriodSeconds": -1}),
        json!({"gracePeriodSeconds": 604801}),
        json!({"grace": 5}),
    ] {
        let r = t
            .call(
                Method::POST,
                &format!("/api/v1/keys/{a_id}/rotate"),
                Some(&admin),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Filter by status.
    let r = t.get("/api/v1/keys?status=expired", &admin).await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|k| k["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![b_id.as_str()]);
    let r = t.get("/api/v1/keys?status=rotating", &admin).await;
    assert_eq!(r.body["pagination"]["total"], 1);
}

mod in_use;
