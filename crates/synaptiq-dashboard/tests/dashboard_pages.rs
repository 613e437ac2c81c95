//! Snapshots of every dashboard page, rendered through the real router (reviewed with
//! `cargo insta review`, or `INSTA_UPDATE=always cargo test` then `git diff`). Ids,
//! timestamps, hints, tokens and secrets are redacted: no secret ever lands in a snapshot.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use common::dashboard::{Browser, PASSWORD, csrf_of, html};
use common::issue;
use synaptiq_app::Actor;
use synaptiq_app::keys::KeySpec;
use synaptiq_core::ids::OrgId;
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_store::{Role, UsageCount};
use synaptiq_types::time::Timestamp;

/// Redactions, most specific first.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sk_(live|test)_[0-9A-Za-z]{36}", "[SECRET]"),
        (
            r"sk_(live|test)_[0-9A-Za-z]{4}…[0-9A-Za-z]{4}",
            "sk_${1}_[HINT]",
        ),
        (r"whsec_[0-9A-Za-z+/]{40,}={0,2}", "[WHSEC]"),
        (r"\b(key|org|user|req|whep|evt)_[0-9A-Z]{26}\b", "[${1}_ID]"),
        (r"\b[0-9a-f]{64}\b", "[TOKEN]"),
        (r#"datetime="[^"]*""#, r#"datetime="[ISO]""#),
        (r"<time([^>]*)>[^<]*</time>", "<time${1}>[WHEN]</time>"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[DATE]"),
        (r">\d{2}:\d{2}<", ">[HH:MM]<"),
    ]
}

fn snapshot(name: &str, page: &str) {
    let filters = filters();
    insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, page);
    });
}

/// An organization of its own (so its keys and events are exactly these), an owner and a
/// viewer, and four keys created a few milliseconds apart (a stable order).
struct Fixture {
    t: TestApp,
    org: OrgId,
    owner: Browser,
    viewer: Browser,
    ids: Vec<String>,
}

async fn fixture() -> Fixture {
    let t = TestApp::new().await;
    let org = t
        .store
        .create_org("Acme Robotics", Plan::Pro)
        .await
        .expect("org")
        .id;
    let hash = synaptiq_core::password::hash(PASSWORD).expect("hash");
    for (email, role) in [
        ("owner@acme.example", Role::Owner),
        ("viewer@acme.example", Role::Viewer),
    ] {
        t.store
            .create_user(&org, email, role, hash.as_str())
            .await
            .expect("user");
    }
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for (name, scope) in [
        ("Website widget", Scope::Read),
        ("CRM sync", Scope::Write),
        ("Ops admin", Scope::Admin),
        ("Old integration", Scope::Read),
    ] {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let spec = KeySpec {
            org_id: org.clone(),
            environment: Environment::Live,
            scope,
            name: name.into(),
            expires_at: None,
            allowed_ips: if scope == Scope::Admin {
                vec!["10.0.0.0/8".into()]
            } else {
                vec![]
            },
            rotated_from: None,
        };
        let (rec, secret) = issue(&t.store, &t.app.pepper, spec, &Actor::local("cli"))
            .await
            .expect("key");
        ids.push(rec.id.to_string());
        secrets.push(secret);
    }
    let now = Timestamp::now();
    let id = |i: usize| synaptiq_core::ids::KeyId::parse(&ids[i]).expect("id");
    // "Old integration" is revoked; "CRM sync" was seen over plain HTTP.
    t.store
        .revoke_key(
            &org,
            Environment::Live,
            &id(3),
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke");
    t.store
        .mark_exposed(
            &t.app.pepper.hash(secrets[1].expose()),
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("exposed");
    let owner = t.sign_in("owner@acme.example").await;
    let viewer = t.sign_in("viewer@acme.example").await;
    Fixture {
        t,
        org,
        owner,
        viewer,
        ids,
    }
}

async fn page(f: &Fixture, who: &Browser, path: &str) -> String {
    let r = f.t.browse(path, &who.cookies()).await;
    assert_eq!(r.status, StatusCode::OK, "{path}");
    html(&r).to_owned()
}

#[tokio::test]
async fn sign_in_pages() {
    let t = TestApp::new().await;
    let r = t.browse("/dashboard/login", "").await;
    snapshot("login", html(&r));
    let email = t.dash_user(Role::Owner).await;
    let r = t.sign_in_as(&email, "wrong password", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    snapshot("login_failed", &html(&r).replace(&email, "[EMAIL]"));
    let r = t.browse("/dashboard/login?signed_out=1", "").await;
    assert!(html(&r).contains("You have signed out."));
}

#[tokio::test]
async fn keys_pages() {
    let f = fixture().await;
    snapshot("keys", &page(&f, &f.owner, "/dashboard/keys").await);
    snapshot("keys_viewer", &page(&f, &f.viewer, "/dashboard/keys").await);
    snapshot(
        "keys_test_empty",
        &page(&f, &f.owner, "/dashboard/keys?env=test").await,
    );
    let csrf = csrf_of(&page(&f, &f.owner, "/dashboard/keys").await);
    // Invalid form: the problems are listed and linked to their fields.
    let r =
        f.t.submit(
            "/dashboard/keys",
            &f.owner.cookies(),
            &[
                ("csrf", &csrf),
                ("name", ""),
                ("scope", "root"),
                ("environment", "live"),
                ("expires_on", "2001-01-01"),
                ("allowed_ips", "10.0.0.300"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    snapshot("keys_form_problems", html(&r));
    // Created: the secret panel (the secret itself is redacted).
    let r =
        f.t.submit(
            "/dashboard/keys",
            &f.owner.cookies(),
            &[
                ("csrf", &csrf),
                ("name", "Mobile app"),
                ("scope", "write"),
                ("environment", "test"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    snapshot("keys_created", html(&r));
    // Rotated with a 24-hour grace period: new secret, countdown, Revoke Old Key.
    let r =
        f.t.submit(
            &format!("/dashboard/keys/{}/rotate", f.ids[0]),
            &f.owner.cookies(),
            &[("csrf", &csrf), ("env", "live"), ("grace", "86400")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    snapshot("keys_rotated", html(&r));
}

#[tokio::test]
async fn confirmation_and_error_pages() {
    let f = fixture().await;
    let id = &f.ids[1];
    snapshot(
        "rotate_confirm",
        &page(
            &f,
            &f.owner,
            &format!("/dashboard/keys/{id}/rotate?env=live"),
        )
        .await,
    );
    snapshot(
        "revoke_confirm",
        &page(
            &f,
            &f.owner,
            &format!("/dashboard/keys/{id}/revoke?env=live"),
        )
        .await,
    );
    let r =
        f.t.browse(
            &format!("/dashboard/keys/{id}/rotate?env=live"),
            &f.viewer.cookies(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    snapshot("error_forbidden", html(&r));
    let r =
        f.t.browse(
            &format!("/dashboard/keys/{id}/rotate?env=test"),
            &f.owner.cookies(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    snapshot("error_not_found", html(&r));
}

#[tokio::test]
async fn usage_audit_and_organization_pages() {
    let f = fixture().await;
    let hour = Timestamp::now().millis().div_euclid(3_600_000) * 3_600_000;
    let count = |i: usize, back: i64, ok, client_error, rate_limited| UsageCount {
        key_id: synaptiq_core::ids::KeyId::parse(&f.ids[i]).expect("id"),
        org_id: f.org.clone(),
        environment: Environment::Live,
        hour: Timestamp(hour - back * 3_600_000),
        ok,
        client_error,
        rate_limited,
        server_error: 0,
    };
    f.t.store
        .record_usage_counts(&[
            count(0, 0, 120, 4, 0),
            count(0, 3, 80, 0, 0),
            count(1, 1, 40, 12, 9),
            count(3, 30, 5, 0, 0),
        ])
        .await
        .expect("counts");
    snapshot("usage", &page(&f, &f.owner, "/dashboard/usage").await);
    snapshot("audit", &page(&f, &f.owner, "/dashboard/audit").await);
    let filtered = page(
        &f,
        &f.owner,
        &format!(
            "/dashboard/audit?env=live&key={}&type=key.revoked",
            f.ids[3]
        ),
    )
    .await;
    assert!(filtered.contains("Old integration"));
    assert!(!filtered.contains("key.created</span>"));
    snapshot(
        "organization",
        &page(&f, &f.owner, "/dashboard/organization").await,
    );
}

#[tokio::test]
async fn webhooks_pages() {
    use synaptiq_types::webhooks::{CreateWebhookEndpoint, UpdateWebhookEndpoint};
    let f = fixture().await;
    let svc = &f.t.app.services;
    let mut ids = Vec::new();
    for (path, events, description) in [
        (
            "crm",
            vec!["lead.created", "lead.qualified"],
            Some("CRM sync"),
        ),
        ("ops", vec!["*"], None),
    ] {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let body = CreateWebhookEndpoint {
            url: format!("https://93.184.216.34/{path}"),
            events: events.into_iter().map(str::to_owned).collect(),
            description: description.map(str::to_owned),
            secret: None,
        };
        let (e, _) = svc
            .create_endpoint(&f.org, Environment::Live, &body)
            .await
            .expect("endpoint");
        ids.push(e.id);
    }
    let off = UpdateWebhookEndpoint {
        enabled: Some(false),
        ..UpdateWebhookEndpoint::default()
    };
    svc.update_endpoint(&f.org, Environment::Live, &ids[1], &off)
        .await
        .expect("disable");
    svc.send_test_delivery(&f.org, Environment::Live, &ids[0], &Actor::local("test"))
        .await
        .expect("test delivery");
    snapshot("webhooks", &page(&f, &f.owner, "/dashboard/webhooks").await);
    snapshot(
        "webhooks_viewer",
        &page(&f, &f.viewer, "/dashboard/webhooks").await,
    );
    let id = &ids[0];
    for (name, path) in [
        (
            "webhook_deliveries",
            format!("/dashboard/webhooks/{id}/deliveries?env=live"),
        ),
        (
            "webhook_rotate_confirm",
            format!("/dashboard/webhooks/{id}/rotate?env=live"),
        ),
        (
            "webhook_delete_confirm",
            format!("/dashboard/webhooks/{id}/delete?env=live"),
        ),
    ] {
        snapshot(name, &page(&f, &f.owner, &path).await);
    }
    // Added: the secret panel (the secret itself is redacted).
    let csrf = csrf_of(&page(&f, &f.owner, "/dashboard/webhooks").await);
    let r =
        f.t.submit(
            "/dashboard/webhooks",
            &f.owner.cookies(),
            &[
                ("csrf", &csrf),
                ("env", "live"),
                ("url", "https://93.184.216.34/new"),
                ("events", "key.exposed"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    snapshot("webhooks_created", html(&r));
}
