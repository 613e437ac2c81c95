//! Authentication and authorization through the real router: the matrix of every route ×
//! every identity, the table of bad `Authorization` headers, challenges and messages.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use common::dashboard::html;
use serde_json::json;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_server::routes::{self, Access};
use synaptiq_store::Role;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    NoKey,
    Read,
    Write,
    Admin,
    OtherOrg,
    OtherEnv,
}

const EVERYONE: [Who; 6] = [
    Who::NoKey,
    Who::Read,
    Who::Write,
    Who::Admin,
    Who::OtherOrg,
    Who::OtherEnv,
];

/// The expected status of `who` calling `method path`, by the spec's rules. A route missing
/// here makes the matrix fail, so every new route must be added deliberately.
fn expected(method: &Method, path: &str, who: Who) -> StatusCode {
    use StatusCode as S;
    let success = match (method.as_str(), path) {
        ("POST", "/api/v1/leads") => S::CREATED,
        ("DELETE", "/api/v1/leads/{id}") => S::NO_CONTENT,
        ("GET", "/api/v1/me" | "/api/v1/leads" | "/api/v1/leads/search" | "/api/v1/leads/{id}") => {
            S::OK
        }
        ("PATCH", "/api/v1/leads/{id}") => S::OK,
        ("GET", "/api/v1/keys" | "/api/v1/keys/{id}" | "/api/v1/audit-events") => S::OK,
        ("POST", "/api/v1/keys" | "/api/v1/keys/{id}/rotate") => S::CREATED,
        ("PATCH", "/api/v1/keys/{id}") | ("POST", "/api/v1/keys/{id}/revoke") => S::OK,
        ("DELETE", "/api/v1/keys/{id}") => S::NO_CONTENT,
        (
            "GET",
            "/api/v1/webhooks"
            | "/api/v1/webhooks/event-types"
            | "/api/v1/webhooks/{id}"
            | "/api/v1/webhooks/{id}/deliveries",
        ) => S::OK,
        ("POST", "/api/v1/webhooks") => S::CREATED,
        ("PATCH", "/api/v1/webhooks/{id}") | ("POST", "/api/v1/webhooks/{id}/rotate-secret") => {
            S::OK
        }
        ("DELETE", "/api/v1/webhooks/{id}") => S::NO_CONTENT,
        (
            "POST",
            "/api/v1/webhooks/{id}/test"
            | "/api/v1/webhooks/{id}/recover"
            | "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
        ) => S::ACCEPTED,
        _ => panic!("route {method} {path} is missing from the authorization matrix"),
    };
    let needed = routes::rule_scope(method, path);
    let is_me = path == "/api/v1/me";
    let has_id = path.contains("{id}");
    match who {
        Who::NoKey => S::UNAUTHORIZED,
        Who::Read if !is_me && needed > synaptiq_core::scope::Scope::Read => S::FORBIDDEN,
        Who::Write if !is_me && needed > synaptiq_core::scope::Scope::Write => S::FORBIDDEN,
        // Admin keys of another organization or environment see nothing of org A live.
        Who::OtherOrg | Who::OtherEnv if has_id => S::NOT_FOUND,
        _ => success,
    }
}

fn key_of(t: &TestApp, who: Who) -> Option<&str> {
    match who {
        Who::NoKey => None,
        Who::Read => Some(t.keys.a_live_read.as_str()),
        Who::Write => Some(t.keys.a_live_write.as_str()),
        Who::Admin => Some(t.keys.a_live_admin.as_str()),
        Who::OtherOrg => Some(t.keys.b_live_admin.as_str()),
        Who::OtherEnv => Some(t.keys.a_test_admin.as_str()),
    }
}

#[tokio::test]
async fn authorization_matrix_covers_every_route() {
    let t = TestApp::new().await;
    let mut checked = 0;
    let mut n = 0;
    for def in routes::table().into_iter().map(|r| r.def) {
        if def.access == Access::Public {
            let path = def
                .path
                .replace("{page}", "index")
                .replace("{file}", "dashboard.css");
            let r = t.call(def.method.clone(), &path, None, None).await;
            if def.method == Method::POST {
                // The sign-in form: public, but refused without its CSRF token.
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{} {}",
                    def.method,
                    def.path
                );
            } else {
                assert!(
                    r.status.is_success(),
                    "{} {} is public but answered {}",
                    def.method,
                    def.path,
                    r.status
                );
            }
            continue;
        }
        if let Access::Session { .. } = def.access {
            // Dashboard pages: no API key of any kind opens them (nor no key at all).
            let id = t.key_id(Environment::Live, Scope::Read).await;
            let path = def.path.replace("{id}", &id);
            for who in EVERYONE {
                let key = key_of(&t, who);
                let r = t.call(def.method.clone(), &path, key, None).await;
                assert_eq!(
                    r.status,
                    StatusCode::SEE_OTHER,
                    "{who:?} {} {}",
                    def.method,
                    def.path
                );
                assert!(
                    r.header("location").starts_with("/dashboard/login"),
                    "{who:?} {} {}: {}",
                    def.method,
                    def.path,
                    r.header("location")
                );
                checked += 1;
            }
            continue;
        }
        for who in EVERYONE {
            n += 1;
            let key = key_of(&t, who);
            // Every object referenced by id belongs to organization A, live.
            let mut delivery = String::new();
            let id = if def.path.starts_with("/api/v1/keys/") {
                t.key_id(Environment::Live, Scope::Read).await
            } else if def.path.starts_with("/api/v1/webhooks/") {
                let (endpoint, event) = webhook_with_delivery(&t).await;
                delivery = event;
                endpoint
            } else {
                t.lead(&t.keys.a_live_admin, &format!("m{n}@example.com"))
                    .await
            };
            let path = def
                .path
                .replace("{id}", &id)
                .replace("{deliveryId}", &delivery);
            let path = if def.path.ends_with("/search") {
                format!("{path}?q=example")
            } else {
                path
            };
            let body = match (def.method.as_str(), def.path) {
                ("POST", "/api/v1/leads") => Some(json!({"email": format!("new{n}@example.com")})),
                ("PATCH", "/api/v1/leads/{id}") => Some(json!({"score": 50})),
                ("POST", "/api/v1/keys") => Some(json!({"name": "matrix", "scope": "read"})),
                ("PATCH", "/api/v1/keys/{id}") => Some(json!({"name": "renamed"})),
                ("POST", "/api/v1/keys/{id}/rotate") => Some(json!({"gracePeriodSeconds": 60})),
                ("POST", "/api/v1/webhooks") => Some(json!({"url": PUBLIC_URL, "events": ["*"]})),
                ("PATCH", "/api/v1/webhooks/{id}") => Some(json!({"description": "matrix"})),
                ("POST", "/api/v1/webhooks/{id}/recover") => Some(json!({
                    "since": synaptiq_types::time::Timestamp::now().plus_seconds(-3600).to_iso()
                })),
                _ => None,
            };
            let r = t.call(def.method.clone(), &path, key, body).await;
            let want = expected(&def.method, def.path, who);
            assert_eq!(
                r.status, want,
                "{who:?} {} {} ({path}): {:?}",
                def.method, def.path, r.body
            );
            if !r.status.is_success() {
                assert!(
                    r.body["error"]["code"].is_string(),
                    "error envelope on {} {}",
                    def.method,
                    def.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6 * 15, "only {checked} cells checked");
}

/// A public address literal: accepted by the SSRF guard without DNS; nothing is delivered
/// here (no worker runs in these tests).
const PUBLIC_URL: &str = "https://93.184.216.34/hook";

/// An endpoint of organization A (live) with one test delivery: (endpoint id, event id).
async fn webhook_with_delivery(t: &TestApp) -> (String, String) {
    let admin = Some(t.keys.a_live_admin.as_str());
    let body = json!({"url": PUBLIC_URL, "events": ["lead.created"]});
    let r = t
        .call(Method::POST, "/api/v1/webhooks", admin, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/v1/webhooks/{id}/test");
    let r = t.call(Method::POST, &path, admin, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    (id, r.body["id"].as_str().unwrap_or_default().to_owned())
}

/// Every request's outermost future is created and moved whole, so its size is a cost paid on
/// every request. It was 5,432 bytes when each layer of the stack was an `async fn` keeping its
/// own copy of the request (and the request-id scope a second copy of everything inside it);
/// see `stack::outer`. The bound leaves room for growth without letting that come back.
#[tokio::test]
async fn every_request_future_stays_small() {
    let t = TestApp::new().await;
    let mut stack = t.router.clone();
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/healthz"),
        (Method::GET, "/api/v1/leads"),
        (Method::POST, "/api/v1/leads"),
        (Method::GET, "/no/such/route"),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let fut = tower::Service::call(&mut stack, req);
        let size = std::mem::size_of_val(&*fut);
        assert!(size <= 512, "{method} {path}: {size} bytes");
    }
}

/// The stack dispatches API operations on static paths itself (exact method and path); the
/// answers must be those of axum's router: same status, same headers, same body shape, for
/// every identity.
#[tokio::test]
async fn direct_dispatch_matches_the_router() {
    let t = TestApp::new().await;
    let routed = t.router.without_direct_dispatch();
    assert_eq!(routed.direct_routes(), 0);
    assert!(
        t.router.direct_routes() >= 8,
        "{}",
        t.router.direct_routes()
    );
    let mut n = 0;
    for def in routes::table().into_iter().map(|r| r.def) {
        if !def.in_openapi || def.path.contains('{') {
            continue;
        }
        let path = if def.path.ends_with("/search") {
            format!("{}?q=example", def.path)
        } else {
            format!("{}?limit=5", def.path)
        };
        for who in EVERYONE {
            let key = key_of(&t, who);
            let body = |i: u32| match (def.method.as_str(), def.path) {
                ("POST", "/api/v1/leads") => {
                    Some(json!({"email": format!("direct{n}-{i}@example.com")}))
                }
                ("POST", "/api/v1/keys") => Some(json!({"name": "direct", "scope": "read"})),
                _ => None,
            };
            let req = |i| common::request(def.method.clone(), &path, key, body(i));
            let direct = TestApp::send_through(&t.router, req(1)).await;
            let router = TestApp::send_through(&routed, req(2)).await;
            let what = format!("{who:?} {} {path}", def.method);
            assert_eq!(direct.status, router.status, "{what}");
            let names = |r: &common::Reply| {
                let mut v: Vec<String> = r.headers.keys().map(|k| k.to_string()).collect();
                v.sort();
                v
            };
            assert_eq!(names(&direct), names(&router), "{what}");
            for h in [
                "content-type",
                "cache-control",
                "www-authenticate",
                "x-ratelimit-limit",
            ] {
                assert_eq!(direct.header(h), router.header(h), "{what}: {h}");
            }
            let shape = |v: &serde_json::Value| match v.as_object() {
                Some(o) => o.keys().cloned().collect::<Vec<_>>(),
                None => vec![v.to_string()],
            };
            assert_eq!(shape(&direct.body), shape(&router.body), "{what}");
            assert_eq!(direct.code(), router.code(), "{what}");
            n += 1;
        }
    }
    assert!(n >= 6 * 8, "only {n} requests compared");
}

#[test]
fn declared_scopes_follow_the_spec_rule() {
    for def in routes::table().into_iter().map(|r| r.def) {
        if let Access::Scope(s) = def.access {
            assert_eq!(
                s,
                routes::rule_scope(&def.method, def.path),
                "{} {}",
                def.method,
                def.path
            );
        }
        // The dashboard is behind sessions (except its sign-in form and static files), and
        // sessions open nothing else.
        let dashboard_public = ["/dashboard/login", "/dashboard/static/{file}"];
        if def.path.starts_with("/dashboard") && !dashboard_public.contains(&def.path) {
            assert!(
                matches!(def.access, Access::Session { .. }),
                "{} {} must need a dashboard session",
                def.method,
                def.path
            );
            assert!(!def.in_openapi, "{} is not an API operation", def.path);
        }
        if matches!(def.access, Access::Session { .. }) {
            assert!(def.path.starts_with("/dashboard"), "{}", def.path);
        }
        if def.path.starts_with("/api/v1/") && def.path != "/api/v1/openapi.json" {
            assert_ne!(
                def.access,
                Access::Public,
                "{} {} must need a key",
                def.method,
                def.path
            );
        }
    }
}

mod refusals;
