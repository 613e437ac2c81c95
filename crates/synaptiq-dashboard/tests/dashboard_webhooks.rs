//! The webhooks page through the real router: adding an endpoint (its secret shown once),
//! the application's refusals shown on the form, viewers reading without buttons, and POSTs
//! refused without the right role or CSRF token. The server's policy is the strict default
//! (https, public addresses); no worker runs, so nothing is sent.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use common::dashboard::{Browser, html, secret_of};
use synaptiq_core::scope::Environment;
use synaptiq_store::{EndpointRecord, Role};
use synaptiq_types::pagination::PageRequest;

/// A public address literal: passes the URL check without DNS, and nothing is sent to it.
pub const URL: &str = "https://93.184.216.34/hook";

/// Organization A's live endpoints, as the store holds them.
pub async fn endpoints(t: &TestApp) -> Vec<EndpointRecord> {
    let page = PageRequest::new(Some(1), Some(100)).expect("page");
    t.store
        .list_endpoints(&t.org_a, Environment::Live, page)
        .await
        .expect("list")
        .0
}

/// Submits the add form as `b` with `fields` after the token and `env=live`.
pub async fn add(t: &TestApp, b: &Browser, csrf: &str, fields: &[(&str, &str)]) -> common::Reply {
    let mut all = vec![("csrf", csrf), ("env", "live")];
    all.extend_from_slice(fields);
    t.submit("/dashboard/webhooks", &b.cookies(), &all, &[])
        .await
}

/// An admin of organization A, signed in, with the session's CSRF token.
pub async fn admin(t: &TestApp) -> (Browser, String) {
    let b = t.sign_in(&t.dash_user(Role::Admin).await).await;
    let csrf = t.csrf(&b).await;
    (b, csrf)
}

#[tokio::test]
async fn an_admin_adds_an_endpoint_and_sees_its_secret_once() {
    let t = TestApp::new().await;
    let (b, csrf) = admin(&t).await;
    let r = add(
        &t,
        &b,
        &csrf,
        &[
            ("url", URL),
            ("description", "CRM sync"),
            ("events", "lead.created"),
            ("events", "lead.qualified"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let page = html(&r);
    assert!(page.contains("you won't see this secret again"), "{page}");
    let secret = secret_of(page);
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        page.matches(&secret).count(),
        1,
        "the secret is on the page once"
    );
    // The store signs with exactly that secret, and the API sees the endpoint.
    let stored = endpoints(&t).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].secret.encoded(), secret);
    let api = t.get("/api/v1/webhooks", &t.keys.a_live_admin).await;
    assert_eq!(api.body["data"][0]["url"], URL);
    assert_eq!(api.body["data"][0]["description"], "CRM sync");
    assert_eq!(
        api.body["data"][0]["events"],
        serde_json::json!(["lead.created", "lead.qualified"])
    );
    // Reloading lists it, without the secret.
    let list = t.browse("/dashboard/webhooks?env=live", &b.cookies()).await;
    assert_eq!(list.status, StatusCode::OK);
    let list = html(&list);
    assert!(list.contains(URL) && list.contains("CRM sync"));
    assert!(list.contains("<code class=\"event-tag\">lead.qualified</code>"));
    assert!(!list.contains(&secret), "the secret is never shown again");
    assert!(!list.contains("whsec_"));
    // The test environment has its own (empty) list.
    let test = t.browse("/dashboard/webhooks?env=test", &b.cookies()).await;
    assert!(html(&test).contains("No endpoints in this environment yet."));
    // "All events" subscribes to every type, whatever else is ticked.
    let r = add(
        &t,
        &b,
        &csrf,
        &[("url", URL), ("events", "*"), ("events", "lead.created")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let api = t.get("/api/v1/webhooks", &t.keys.a_live_admin).await;
    assert_eq!(api.body["data"][0]["events"], serde_json::json!(["*"]));
}

/// (what, form fields, the field refused, part of its message).
type Refusal<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn refusals_are_shown_on_the_form_not_as_errors() {
    let t = TestApp::new().await;
    let (b, csrf) = admin(&t).await;
    let long = "x".repeat(501);
    let cases: [Refusal; 5] = [
        (
            "plain http",
            vec![("url", "http://93.184.216.34/hook"), ("events", "*")],
            "url",
            "The URL must use https",
        ),
        (
            "loopback",
            vec![("url", "https://127.0.0.1/hook"), ("events", "*")],
            "url",
            "The URL was refused: 127.0.0.1 is a private",
        ),
        (
            "no events",
            vec![("url", URL)],
            "events",
            "Choose the event types to receive, or All events.",
        ),
        (
            "unknown type",
            vec![("url", URL), ("events", "lead.exploded")],
            "events",
            "Unknown event type",
        ),
        (
            "long description",
            vec![("url", URL), ("events", "*"), ("description", &long)],
            "description",
            "The description must be at most 500 characters",
        ),
    ];
    for (what, fields, field, message) in cases {
        let r = add(&t, &b, &csrf, &fields).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", html(&r));
        let page = html(&r);
        assert!(page.contains("The endpoint was not added"), "{what}");
        assert!(page.contains(&format!("<a href=\"#f-{field}\">")), "{what}");
        assert!(page.contains(message), "{what}: {page}");
        assert!(page.contains(&format!("id=\"f-{field}-error\"")), "{what}");
        assert!(!page.contains("whsec_"), "{what}");
    }
    // What was typed and ticked is kept.
    let r = add(
        &t,
        &b,
        &csrf,
        &[("url", "http://x.example/h"), ("events", "key.revoked")],
    )
    .await;
    let page = html(&r);
    assert!(page.contains("value=\"http://x.example/h\""));
    assert!(page.contains("value=\"key.revoked\" checked"));
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(endpoints(&t).await.is_empty(), "nothing was added");
}

/// Organization A's live endpoint made through the API, and a test delivery to it.
pub async fn endpoint_with_delivery(t: &TestApp) -> (String, String) {
    let r = t
        .post_json(
            "/api/v1/webhooks",
            &t.keys.a_live_admin,
            serde_json::json!({"url": URL, "events": ["*"], "description": "Ops"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let d = t
        .post_json(
            &format!("/api/v1/webhooks/{id}/test"),
            &t.keys.a_live_admin,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(d.status, StatusCode::ACCEPTED, "{:?}", d.body);
    (id, d.body["id"].as_str().expect("event").to_owned())
}

/// Every POST of the webhook pages, for endpoint `id` and delivery `evt`.
fn posts(id: &str, evt: &str) -> Vec<(String, Vec<(&'static str, String)>)> {
    let f = |pairs: &[(&'static str, &str)]| {
        let mut v: Vec<(&'static str, String)> =
            pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        v.push(("env", "live".to_owned()));
        v
    };
    vec![
        (
            "/dashboard/webhooks".to_owned(),
            f(&[("url", URL), ("events", "*")]),
        ),
        (format!("/dashboard/webhooks/{id}/test"), f(&[])),
        (
            format!("/dashboard/webhooks/{id}/rotate"),
            f(&[("grace", "0")]),
        ),
        (
            format!("/dashboard/webhooks/{id}/enabled"),
            f(&[("enabled", "false")]),
        ),
        (
            format!("/dashboard/webhooks/{id}/delete"),
            f(&[("confirm", "yes")]),
        ),
        (
            format!("/dashboard/webhooks/{id}/deliveries/{evt}/redeliver"),
            f(&[]),
        ),
    ]
}

/// The endpoint's secret, whether it is enabled, and how many deliveries it has.
async fn state(t: &TestApp) -> (usize, String, bool, u64) {
    let all = endpoints(t).await;
    let e = &all[0];
    let page = PageRequest::new(Some(1), Some(100)).expect("page");
    let (_, deliveries) = t
        .store
        .list_deliveries(&t.org_a, Environment::Live, &e.id, None, page)
        .await
        .expect("deliveries")
        .expect("endpoint");
    (all.len(), e.secret.encoded(), e.enabled, deliveries)
}

#[tokio::test]
async fn viewers_read_without_buttons_and_cannot_post() {
    let t = TestApp::new().await;
    let (id, evt) = endpoint_with_delivery(&t).await;
    let b = t.sign_in(&t.dash_user(Role::Viewer).await).await;
    let list = t.browse("/dashboard/webhooks", &b.cookies()).await;
    assert_eq!(list.status, StatusCode::OK);
    let deliveries = t
        .browse(
            &format!("/dashboard/webhooks/{id}/deliveries?env=live"),
            &b.cookies(),
        )
        .await;
    assert_eq!(deliveries.status, StatusCode::OK);
    assert!(html(&list).contains(URL) && html(&list).contains("All events"));
    assert!(html(&list).contains("read-only access"));
    assert!(html(&deliveries).contains(&evt) && html(&deliveries).contains("webhook.test"));
    for page in [html(&list), html(&deliveries)] {
        for button in [
            "Add endpoint",
            "Send test",
            "Rotate secret",
            ">Disable<",
            ">Delete<",
            ">Redeliver<",
            "action=\"/dashboard/webhooks",
        ] {
            assert!(!page.contains(button), "a viewer sees {button}");
        }
    }
    for path in ["rotate", "delete"] {
        let r = t
            .browse(
                &format!("/dashboard/webhooks/{id}/{path}?env=live"),
                &b.cookies(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = t.csrf(&b).await;
    let before = state(&t).await;
    for (path, mut fields) in posts(&id, &evt) {
        fields.push(("csrf", csrf.clone()));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = t.submit(&path, &b.cookies(), &fields, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(html(&r).contains("viewer"), "{path}: {}", html(&r));
    }
    assert_eq!(state(&t).await, before, "a refused POST changed something");
}

#[tokio::test]
async fn posts_without_the_csrf_token_or_from_another_site_are_refused() {
    let t = TestApp::new().await;
    let (id, evt) = endpoint_with_delivery(&t).await;
    let (b, csrf) = admin(&t).await;
    let before = state(&t).await;
    for (path, fields) in posts(&id, &evt) {
        let plain: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = t.submit(&path, &b.cookies(), &plain, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no token: {path}");
        assert!(html(&r).contains("Request refused"), "{path}");
        let mut with = plain.clone();
        with.push(("csrf", &csrf));
        let r = t
            .submit(
                &path,
                &b.cookies(),
                &with,
                &[("origin", "https://evil.example")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "foreign origin: {path}");
    }
    assert_eq!(state(&t).await, before, "a refused POST changed something");
}
