//! The Leads API through the real router.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn create_get_patch_delete() {
    let t = TestApp::new().await;
    let k = &t.keys.a_live_write;
    let r = t
        .call(
            Method::POST,
            "/api/v1/leads",
            Some(k),
            Some(
                json!({"email": "Jane@Acme.io", "name": "Jane Doe", "company": "Acme", "score": 42,
                        "tags": ["inbound"], "customFields": {"crmId": "7"}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("lead_") && id.len() == 31);
    assert_eq!(r.header("location"), format!("/api/v1/leads/{id}"));
    assert_eq!(r.body["status"], "new");
    assert_eq!(r.body["source"], "api");
    assert_eq!(r.body["customFields"]["crmId"], "7");
    let created = r.body["createdAt"].as_str().expect("createdAt");
    assert_eq!(created.len(), 24, "ISO 8601 with milliseconds: {created}");
    assert!(created.ends_with('Z'));

    let got = t
        .call(
            Method::GET,
            &format!("/api/v1/leads/{id}"),
            Some(&t.keys.a_live_read),
            None,
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, r.body);

    let p = t
        .call(
            Method::PATCH,
            &format!("/api/v1/leads/{id}"),
            Some(k),
            Some(json!({"status": "qualified", "name": null})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["status"], "qualified");
    assert!(p.body["name"].is_null());
    assert_eq!(p.body["company"], "Acme");

    // Write keys cannot delete; admin keys can, once.
    let d = t
        .call(
            Method::DELETE,
            &format!("/api/v1/leads/{id}"),
            Some(k),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::FORBIDDEN);
    let d = t
        .call(
            Method::DELETE,
            &format!("/api/v1/leads/{id}"),
            Some(&t.keys.a_live_admin),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    let d = t
        .call(
            Method::DELETE,
            &format!("/api/v1/leads/{id}"),
            Some(&t.keys.a_live_admin),
            None,
        )
        .await;
    assert_eq!(d.status, StatusCode::NOT_FOUND);
    assert_eq!(d.code(), "not_found");
}

#[tokio::test]
async fn duplicate_email_is_a_conflict_within_org_and_environment_only() {
    let t = TestApp::new().await;
    let id = t.lead(&t.keys.a_live_admin, "dup@example.com").await;
    let r = t
        .call(
            Method::POST,
            "/api/v1/leads",
            Some(&t.keys.a_live_admin),
            Some(json!({"email": "DUP@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "conflict");
    assert_eq!(r.body["error"]["param"], "email");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains(&id)
    );
    // Same email in the sandbox and in another organization is fine.
    t.lead(&t.keys.a_test_admin, "dup@example.com").await;
    t.lead(&t.keys.b_live_admin, "dup@example.com").await;
    // PATCH onto a taken email conflicts too.
    let other = t.lead(&t.keys.a_live_admin, "other@example.com").await;
    let r = t
        .call(
            Method::PATCH,
            &format!("/api/v1/leads/{other}"),
            Some(&t.keys.a_live_admin),
            Some(json!({"email": "dup@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["param"], "email");
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let t = TestApp::new().await;
    let k = Some(t.keys.a_live_write.as_str());
    let cases = [
        (json!({}), "email"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "a@b.co", "score": 101}), "score"),
        (json!({"email": "a@b.co", "score": -1}), "score"),
        (json!({"email": "a@b.co", "status": "won"}), "status"),
        (json!({"email": "a@b.co", "nickname": "x"}), "nickname"),
        (json!({"email": "a@b.co", "tags": "x"}), "tags"),
        (json!({"email": "a@b.co", "name": "x".repeat(201)}), "name"),
        (json!({"email": "a@b.co", "source": "chat"}), "source"),
        (json!([1, 2]), "body"),
    ];
    for (body, param) in cases {
        let r = t
            .call(Method::POST, "/api/v1/leads", k, Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.code(), "invalid_request");
        assert_eq!(r.body["error"]["param"], param, "{body}: {:?}", r.body);
    }
    let bad_json = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/leads")
        .header("authorization", format!("Bearer {}", t.keys.a_live_write))
        .header("content-type", "application/json")
        .body(Body::from("{\"email\": "))
        .expect("request");
    let r = t.send(bad_json).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "body");
    let text = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/leads")
        .header("authorization", format!("Bearer {}", t.keys.a_live_write))
        .header("content-type", "text/plain")
        .body(Body::from("email=a@b.co"))
        .expect("request");
    let r = t.send(text).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.code(), "unsupported_media_type");
    let big = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/leads")
        .header("authorization", format!("Bearer {}", t.keys.a_live_write))
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 2 * 1024 * 1024]))
        .expect("request");
    let r = t.send(big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "payload_too_large");
}

/// U+0000 is refused in every text a lead or key stores, on every backend: PostgreSQL cannot
/// take it in a text parameter, so it must be a 400 naming the field, never a store error.
#[tokio::test]
async fn text_holding_nul_is_refused_on_every_backend() {
    let t = TestApp::new().await;
    let k = Some(t.keys.a_live_write.as_str());
    let nul = "Acme\u{0}Corp";
    let cases = [
        (json!({"email": "a@b.co", "name": nul}), "name"),
        (json!({"email": "a@b.co", "company": nul}), "company"),
        (json!({"email": "a@b.co", "title": nul}), "title"),
        (json!({"email": "a@b.co", "phone": nul}), "phone"),
        (json!({"email": "a@b.co", "tags": ["ok", nul]}), "tags"),
        (
            json!({"email": "a@b.co", "customFields": {nul: "x"}}),
            "customFields",
        ),
        (
            json!({"email": "a@b.co", "customFields": {"crmId": nul}}),
            "customFields",
        ),
        (json!({"email": "a\u{0}@b.co"}), "email"),
    ];
    let r = t
        .call(
            Method::POST,
            "/api/v1/leads",
            k,
            Some(json!({"email": "n@b.co"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let lead = format!("/api/v1/leads/{}", r.body["id"].as_str().expect("id"));
    for (body, param) in cases {
        t.call(Method::POST, "/api/v1/leads", k, Some(body.clone()))
            .await
            .assert_invalid(param, &format!("POST {body}"));
        t.call(Method::PATCH, &lead, k, Some(body.clone()))
            .await
            .assert_invalid(param, &format!("PATCH {body}"));
    }
    let admin = Some(t.keys.a_live_admin.as_str());
    let r = t.call(Method::GET, "/api/v1/keys", admin, None).await;
    let key = format!(
        "/api/v1/keys/{}",
        r.body["data"][0]["id"].as_str().expect("id")
    );
    t.call(Method::PATCH, &key, admin, Some(json!({"name": nul})))
        .await
        .assert_invalid("name", "PATCH key name");
    t.call(
        Method::GET,
        "/api/v1/audit-events?type=key.created%00",
        admin,
        None,
    )
    .await
    .assert_invalid("type", "audit type filter");
    // Nothing reached the store: the lead is as created.
    let r = t.call(Method::GET, &lead, k, None).await;
    assert!(
        r.body["name"].is_null() && r.body["tags"] == json!([]),
        "{:?}",
        r.body
    );
}

mod listing;
