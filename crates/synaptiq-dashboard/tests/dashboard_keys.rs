//! The key lifecycle and usage counters driven through the dashboard's forms, checked
//! against the API and the store.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use common::dashboard::{html, secret_of};
use synaptiq_store::Role;

#[tokio::test]
async fn key_lifecycle_through_the_dashboard() {
    let t = TestApp::new().await;
    let b = t.sign_in(&t.dash_user(Role::Admin).await).await;
    let csrf = t.csrf(&b).await;
    let r = t
        .submit(
            "/dashboard/keys",
            &b.cookies(),
            &[
                ("csrf", &csrf),
                ("name", "Checkout"),
                ("scope", "read"),
                ("environment", "test"),
                ("allowed_ips", "127.0.0.1\n10.0.0.0/8"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(html(&r).contains("you won't see this key again"));
    let old_secret = secret_of(html(&r));
    assert!(old_secret.starts_with("sk_test_"), "{old_secret}");
    let me = t.get("/api/v1/me", &old_secret).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["key"]["name"], "Checkout");
    let old_id = me.body["key"]["id"].as_str().expect("id").to_owned();
    // The secret is never shown again.
    let list = t.browse("/dashboard/keys?env=test", &b.cookies()).await;
    assert!(!html(&list).contains(&old_secret));
    // Rotate with a one-hour grace period: both keys work.
    let r = t
        .submit(
            &format!("/dashboard/keys/{old_id}/rotate"),
            &b.cookies(),
            &[("csrf", &csrf), ("env", "test"), ("grace", "3600")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert!(html(&r).contains("Revoke Old Key"));
    assert!(html(&r).contains("data-countdown"));
    let new_secret = secret_of(html(&r));
    assert_ne!(new_secret, old_secret);
    for s in [&old_secret, &new_secret] {
        let r = t.get("/api/v1/me", s).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Revoke Old Key: the old key answers 401 at once, the new one keeps working.
    let r = t
        .submit(
            &format!("/dashboard/keys/{old_id}/revoke"),
            &b.cookies(),
            &[("csrf", &csrf), ("env", "test"), ("confirm", "yes")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = t.get("/api/v1/me", &old_secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t.get("/api/v1/me", &new_secret).await;
    assert_eq!(r.status, StatusCode::OK);
    // The audit log names the user and the client address.
    let audit = t
        .browse("/dashboard/audit?env=test&type=key.revoked", &b.cookies())
        .await;
    assert!(html(&audit).contains("admin-"), "actor is the user's email");
    assert!(html(&audit).contains("127.0.0.1"));
    let api = t
        .get(
            "/api/v1/audit-events?type=key.revoked",
            &t.keys.a_test_admin,
        )
        .await;
    let actor = api.body["data"][0]["actor"].as_str().unwrap_or_default();
    assert!(actor.starts_with("user_"), "{:?}", api.body);
}

#[tokio::test]
async fn usage_is_counted_per_key_by_outcome_and_charted() {
    let t = TestApp::with_policy(synaptiq_core::plan::RatePolicy::default()).await;
    let key = t.keys.a_live_read.clone();
    let me = t.get("/api/v1/me", &key).await;
    let id = me.body["key"]["id"].as_str().expect("id").to_owned();
    // 2 × 2xx so far (this one and the next), then a 404, a 403 (scope), a 401 without key.
    t.get("/api/v1/leads", &key).await;
    let nf = t
        .get("/api/v1/leads/lead_01HQ3VXK9BWMN4F6T2P8R5GYSC", &key)
        .await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    let forbidden = t.delete("/api/v1/leads/x", &key).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    t.get("/api/v1/me", "sk_live_nope").await;
    // Spend the rest of the 120-per-minute bucket (the 404 spent one too), then two 429s.
    let mut limited = 0;
    while limited < 2 {
        let r = t.get("/api/v1/me", &key).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    // Before the flush the dashboard already sees this node's counters; after it, the store.
    let b = t.sign_in(&t.dash_user(Role::Viewer).await).await;
    let before = html(&t.browse("/dashboard/usage", &b.cookies()).await).to_owned();
    t.app.usage.flush(t.store.as_ref()).await;
    let counts = t
        .store
        .usage_counts(
            &t.org_a,
            synaptiq_core::scope::Environment::Live,
            synaptiq_types::time::Timestamp(0),
        )
        .await
        .expect("counts");
    assert_eq!(counts.len(), 1, "{counts:?}");
    let c = &counts[0];
    assert_eq!(c.key_id.as_str(), id);
    assert_eq!(
        (c.ok, c.client_error, c.rate_limited, c.server_error),
        (119, 2, 2, 0)
    );
    let after = html(&t.browse("/dashboard/usage", &b.cookies()).await).to_owned();
    for page in [&before, &after] {
        assert!(page.contains("<dt>Requests</dt><dd>123</dd>"), "{page}");
        assert!(page.contains("<svg class=\"chart\""));
        assert!(page.contains(" of 120 per minute left"));
    }
}
