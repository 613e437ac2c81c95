//! Dashboard sessions and their security, through the real router: cookie flags, CSRF,
//! session rotation at sign-in, sign-out, roles and the sign-in throttle.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use common::dashboard::{PASSWORD, cookie_value, csrf_of, html, set_cookies};
use synaptiq_store::Role;

/// Keys of organization A in `env`, as the store sees them.
async fn key_count(t: &TestApp, env: synaptiq_core::scope::Environment) -> u64 {
    let page = synaptiq_types::pagination::PageRequest::new(Some(1), Some(100)).expect("page");
    t.store
        .list_keys(
            &t.org_a,
            Some(env),
            None,
            synaptiq_types::time::Timestamp::now(),
            page,
        )
        .await
        .expect("list")
        .1
}

#[tokio::test]
async fn session_cookie_is_host_only_strict_and_stored_hashed() {
    let t = TestApp::new().await;
    let email = t.dash_user(Role::Owner).await;
    let r = t.sign_in_as(&email, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/dashboard/keys");
    let cookie = set_cookies(&r.headers)
        .into_iter()
        .find(|c| c.starts_with("__Host-synaptiq_session="))
        .expect("session cookie");
    for flag in [
        "; Path=/",
        "; Secure",
        "; HttpOnly",
        "; SameSite=Strict",
        "; Max-Age=604800",
    ] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    let token = cookie_value(&r.headers, "__Host-synaptiq_session").expect("value");
    assert_eq!(token.len(), 64);
    // The login form's double-submit cookie is cleared.
    assert!(
        set_cookies(&r.headers)
            .iter()
            .any(|c| c.starts_with("__Host-synaptiq_login=;") && c.contains("Max-Age=0"))
    );
    // The session works, and the page says who is signed in.
    let page = t
        .browse(
            "/dashboard/keys",
            &format!("__Host-synaptiq_session={token}"),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(html(&page).contains(&email));
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    // Only a hash of the token is stored: the token appears nowhere in the database files.
    let dir = &t.app.config.data_dir;
    for file in ["t.db", "t.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            let hay = String::from_utf8_lossy(&bytes);
            assert!(
                !hay.contains(&token),
                "session token stored in clear in {file}"
            );
        }
    }
}

/// (what, form fields, request headers).
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);

/// A create-key form carrying `csrf`.
fn forged(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", "forged"),
        ("scope", "admin"),
        ("environment", "live"),
        ("csrf", csrf),
    ]
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let t = TestApp::new().await;
    let b = t.sign_in(&t.dash_user(Role::Admin).await).await;
    let good = t.csrf(&b).await;
    let other = t.sign_in(&t.dash_user(Role::Admin).await).await;
    let foreign = t.csrf(&other).await;
    let zeros = "0".repeat(64);
    let before = key_count(&t, synaptiq_core::scope::Environment::Live).await;
    let cases: Vec<Case> = vec![
        (
            "foreign Origin",
            forged(&good),
            vec![("origin", "https://evil.example")],
        ),
        ("null Origin", forged(&good), vec![("origin", "null")]),
        (
            "cross-site fetch",
            forged(&good),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site fetch",
            forged(&good),
            vec![("sec-fetch-site", "same-site")],
        ),
        ("missing token", forged(&good)[..3].to_vec(), vec![]),
        ("empty token", forged(""), vec![]),
        ("another session's token", forged(&foreign), vec![]),
        ("wrong token", forged(&zeros), vec![]),
    ];
    for (name, fields, headers) in cases {
        let r = t
            .submit("/dashboard/keys", &b.cookies(), &fields, &headers)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
        assert!(html(&r).contains("Request refused"), "{name}");
    }
    assert_eq!(
        key_count(&t, synaptiq_core::scope::Environment::Live).await,
        before,
        "a refused POST created a key"
    );
    // The same form from our own page goes through.
    let r = t
        .submit("/dashboard/keys", &b.cookies(), &forged(&good), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    assert_eq!(
        key_count(&t, synaptiq_core::scope::Environment::Live).await,
        before + 1
    );
    // Sign-in itself refuses a cross-site form and one without its double-submit token.
    let email = t.dash_user(Role::Owner).await;
    let r = t
        .submit(
            "/dashboard/login",
            "",
            &[("email", email.as_str()), ("password", PASSWORD)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .submit(
            "/dashboard/login",
            "",
            &[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("csrf", &good),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&r.headers, "__Host-synaptiq_session").is_none());
}

#[tokio::test]
async fn sign_in_rotates_the_session_id() {
    let t = TestApp::new().await;
    let email = t.dash_user(Role::Owner).await;
    let first = t.sign_in(&email).await;
    let r = t.sign_in_as(&email, PASSWORD, Some(&first.session)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = cookie_value(&r.headers, "__Host-synaptiq_session").expect("new cookie");
    assert_ne!(
        second, first.session,
        "the session id must change at sign-in"
    );
    // The session the browser presented is gone; the new one works.
    let old = t.browse("/dashboard/keys", &first.cookies()).await;
    assert_eq!(old.status, StatusCode::SEE_OTHER);
    assert!(old.header("location").starts_with("/dashboard/login"));
    let new = t
        .browse(
            "/dashboard/keys",
            &format!("__Host-synaptiq_session={second}"),
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);
    // A made-up or planted id is never accepted.
    let planted = t
        .browse(
            "/dashboard/keys",
            &format!("__Host-synaptiq_session={}", "a".repeat(64)),
        )
        .await;
    assert_eq!(planted.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_out_invalidates_the_cookie() {
    let t = TestApp::new().await;
    let b = t.sign_in(&t.dash_user(Role::Viewer).await).await;
    let csrf = t.csrf(&b).await;
    // Without the token, sign-out is refused and the session survives.
    let r = t.submit("/dashboard/logout", &b.cookies(), &[], &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.browse("/dashboard/keys", &b.cookies()).await.status,
        StatusCode::OK
    );
    let r = t
        .submit("/dashboard/logout", &b.cookies(), &[("csrf", &csrf)], &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/dashboard/login?signed_out=1");
    assert!(
        set_cookies(&r.headers)
            .iter()
            .any(|c| c.starts_with("__Host-synaptiq_session=;") && c.contains("Max-Age=0"))
    );
    // A copy of the cookie kept after sign-out opens nothing.
    for path in [
        "/dashboard/keys",
        "/dashboard/usage",
        "/dashboard/organization",
    ] {
        let r = t.browse(path, &b.cookies()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
    }
    let r = t
        .submit("/dashboard/logout", &b.cookies(), &[("csrf", &csrf)], &[])
        .await;
    assert_eq!(r.header("location"), "/dashboard/login");
}

#[tokio::test]
async fn viewers_cannot_change_anything() {
    let t = TestApp::new().await;
    let b = t.sign_in(&t.dash_user(Role::Viewer).await).await;
    let page = t.browse("/dashboard/keys", &b.cookies()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !html(&page).contains("Create key"),
        "viewers see no create form"
    );
    assert!(html(&page).contains("read-only access"));
    let csrf = csrf_of(html(&page));
    let id = t
        .key_id(
            synaptiq_core::scope::Environment::Live,
            synaptiq_core::scope::Scope::Read,
        )
        .await;
    let before = key_count(&t, synaptiq_core::scope::Environment::Live).await;
    let posts = [
        (
            "/dashboard/keys".to_owned(),
            vec![("name", "x"), ("scope", "read"), ("environment", "live")],
        ),
        (
            format!("/dashboard/keys/{id}/rotate"),
            vec![("env", "live"), ("grace", "0")],
        ),
        (
            format!("/dashboard/keys/{id}/revoke"),
            vec![("env", "live"), ("confirm", "yes")],
        ),
    ];
    for (path, mut fields) in posts {
        fields.push(("csrf", &csrf));
        let r = t.submit(&path, &b.cookies(), &fields, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(html(&r).contains("viewer"), "{path}: {}", html(&r));
    }
    for path in [
        format!("/dashboard/keys/{id}/rotate?env=live"),
        format!("/dashboard/keys/{id}/revoke?env=live"),
    ] {
        assert_eq!(
            t.browse(&path, &b.cookies()).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        key_count(&t, synaptiq_core::scope::Environment::Live).await,
        before
    );
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
async fn sign_in_is_throttled_per_account_and_says_nothing_about_accounts() {
    let t = TestApp::new().await;
    let email = t.dash_user(Role::Owner).await;
    let wrong = t.sign_in_as(&email, "not the password", None).await;
    let unknown = t.sign_in_as("nobody@example.com", PASSWORD, None).await;
    // U+0000 cannot be in any stored email (PostgreSQL refuses it in a text parameter).
    let nul = t.sign_in_as("nobody\0@example.com", PASSWORD, None).await;
    for r in [&wrong, &unknown, &nul] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(html(r).contains("Email or password is incorrect."));
        assert!(cookie_value(&r.headers, "__Host-synaptiq_session").is_none());
    }
    for _ in 0..4 {
        t.sign_in_as(&email, "not the password", None).await;
    }
    // Five attempts spent: even the right password waits now.
    let r = t.sign_in_as(&email, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!r.header("retry-after").is_empty());
    assert!(cookie_value(&r.headers, "__Host-synaptiq_session").is_none());
    // Another account from the same address is not locked out by it.
    let other = t.dash_user(Role::Owner).await;
    let r = t.sign_in_as(&other, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
