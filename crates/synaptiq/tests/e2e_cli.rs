//! End-to-end tests of the operator CLI against a running server (SPEC §9), of environment
//! and organization isolation (§3.2), and that no key secret reaches disk or logs (§3).

use crate::common;

use std::time::{Duration, Instant};

use common::{
    Options, Server, call, cli_in, contains_bytes, files_under, get, post_json, read_until_closed,
};
use reqwest::Method;
use serde_json::json;

/// Polls `f` every 50 ms until it returns true; returns the elapsed time, or `None` after
/// `give_up`.
async fn poll_until<F, Fut>(give_up: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Flips one character of the random part of a key to another base62 character.
fn one_char_changed(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let i = 12;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// 5. Keys and plans changed by the CLI take effect in the running server within 2 s.
#[tokio::test(flavor = "multi_thread")]
async fn cli_changes_reach_the_running_server_within_two_seconds() {
    // The seed's limits: read is 120/min on starter, 600 on pro.
    let s = Server::start_with(Options::default_limits());
    let c = s.client();
    let org = s.create_org("Acme CLI", "starter");
    assert!(org.starts_with("org_"), "{org}");

    let created = s.cli_json(&[
        "key", "create", "--org", &org, "--scope", "read", "--env", "live", "--name", "CRM sync",
        "--json",
    ]);
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(id.starts_with("key_"), "{created:#}");
    assert!(
        secret.starts_with("sk_live_") && secret.len() == 44,
        "{created:#}"
    );
    assert_eq!(created["scope"], "read");
    assert_eq!(created["environment"], "live");
    assert_eq!(created["status"], "active");
    assert_eq!(created["name"], "CRM sync");
    let hint = created["hint"].as_str().expect("hint");
    assert!(
        hint.starts_with(&secret[..12]) && hint.ends_with(&secret[secret.len() - 4..]),
        "hint {hint:?} for {created:#}"
    );

    let me = get(&c, &s.url("/api/v1/me"), &secret).await;
    assert_eq!(me.status, 200, "{me:#?}");
    me.assert_common_headers();
    assert_eq!(me.json["key"]["id"], id.as_str(), "{me:#?}");
    assert_eq!(me.json["key"]["environment"], "live", "{me:#?}");
    assert_eq!(me.json["key"]["scope"], "read", "{me:#?}");
    assert_eq!(me.json["key"]["status"], "active", "{me:#?}");
    assert_eq!(me.json["organization"]["id"], org.as_str(), "{me:#?}");
    assert_eq!(me.json["organization"]["plan"], "starter", "{me:#?}");
    assert_eq!(me.header("x-ratelimit-limit"), "120", "{me:#?}");
    assert_eq!(me.json["rateLimit"]["limit"], 120, "{me:#?}");

    // The read key may not write: 403 insufficient_scope.
    let w = post_json(
        &c,
        &s.url("/api/v1/leads"),
        &secret,
        &json!({"email": "nope@example.com"}),
    )
    .await;
    w.assert_error(403, "forbidden");
    assert_eq!(
        w.header("www-authenticate"),
        r#"Bearer realm="synaptiq", error="insufficient_scope", scope="write""#
    );

    // Plan change.
    let out = s.cli(&["org", "set-plan", &org, "pro"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let took = poll_until(Duration::from_secs(10), || {
        let (c, url, secret) = (c.clone(), s.url("/api/v1/me"), secret.clone());
        async move {
            let r = get(&c, &url, &secret).await;
            assert_eq!(r.status, 200, "{r:#?}");
            r.header("x-ratelimit-limit") == "600"
        }
    })
    .await
    .expect("X-RateLimit-Limit never became 600 after `org set-plan … pro`");
    eprintln!("plan change observed after {} ms", took.as_millis());
    assert!(
        took <= Duration::from_secs(2),
        "plan change took {took:?}, over the 2 s bound"
    );
    let me = get(&c, &s.url("/api/v1/me"), &secret).await;
    assert_eq!(me.json["organization"]["plan"], "pro", "{me:#?}");
    assert_eq!(me.json["rateLimit"]["limit"], 600, "{me:#?}");

    // Revocation.
    let out = s.cli(&["key", "revoke", &id]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let took = poll_until(Duration::from_secs(10), || {
        let (c, url, secret) = (c.clone(), s.url("/api/v1/me"), secret.clone());
        async move { get(&c, &url, &secret).await.status == 401 }
    })
    .await
    .expect("the revoked key was still accepted 10 s after `key revoke`");
    eprintln!("revocation observed after {} ms", took.as_millis());
    assert!(
        took <= Duration::from_secs(2),
        "revocation took {took:?}, over the 2 s bound"
    );
    let r = get(&c, &s.url("/api/v1/me"), &secret).await;
    r.assert_error(401, "unauthorized");
    let msg = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("revoked"), "{msg}");
    assert_eq!(
        r.header("www-authenticate"),
        r#"Bearer realm="synaptiq", error="invalid_token""#
    );
    assert!(!r.text.contains(&secret), "the key is not echoed: {r:#?}");

    let list = s.cli_json(&["key", "list", "--org", &org, "--json"]);
    let k = list
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("the key is listed");
    assert_eq!(k["status"], "revoked", "{k:#}");
    assert!(k["revokedAt"].is_string(), "{k:#}");
    assert!(k.get("secret").is_none(), "list never shows secrets: {k:#}");

    // Unknown organization and bad arguments fail with a message, not a panic.
    let out = s.cli(&["org", "set-plan", "org_01HQ3VXK9BWMN4F6T2P8R5GYSC", "pro"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("no organization"), "{out:#?}");
    let out = s.cli(&["org", "set-plan", &org, "platinum"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let out = s.cli(&[
        "key", "create", "--org", &org, "--scope", "root", "--env", "live",
    ]);
    assert_eq!(out.code, Some(1), "{out:#?}");
}

/// 5b. `key check` and `scan`, offline: valid keys exit 0 / are found (exit 1) and never
/// printed in full.
#[test]
fn key_check_and_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let org = cli_in(&data, &["org", "create", "--name", "Scan", "--json"]).json()["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    let out = cli_in(
        &data,
        &[
            "key", "create", "--org", &org, "--scope", "read", "--env", "live", "--json",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:#?}");
    let created = out.json();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let hint = created["hint"].as_str().expect("hint").to_owned();

    let ok = cli_in(&data, &["key", "check", &secret]);
    assert_eq!(ok.code, Some(0), "{ok:#?}");
    assert!(ok.stdout.contains("valid live key"), "{ok:#?}");
    assert!(!ok.stdout.contains(&secret) && !ok.stderr.contains(&secret));

    let bad = one_char_changed(&secret);
    assert_ne!(bad, secret);
    let out = cli_in(&data, &["key", "check", &bad]);
    assert_eq!(
        out.code,
        Some(1),
        "one changed character must fail: {out:#?}"
    );
    for garbage in [
        "sk_live_short",
        "pk_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "",
    ] {
        let out = cli_in(&data, &["key", "check", garbage]);
        assert_eq!(out.code, Some(1), "{garbage:?}: {out:#?}");
    }

    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    let leaky = src.join("config.env");
    std::fs::write(
        &leaky,
        format!("# settings\nSYNAPTIQ_API_KEY=\"{secret}\"\nOTHER=1\n"),
    )
    .expect("write");
    std::fs::write(src.join("clean.txt"), "nothing to see\n").expect("write");
    std::fs::write(
        src.join("typo.txt"),
        format!("almost a key: {bad}\nsk_test_short\n"),
    )
    .expect("write");

    let out = cli_in(&data, &["scan", src.to_str().expect("utf-8 path")]);
    assert_eq!(out.code, Some(1), "a valid key was found: {out:#?}");
    assert!(
        out.stdout.contains("config.env:2:") && out.stdout.contains(&hint),
        "{out:#?}"
    );
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "only the valid key is reported: {out:#?}"
    );
    assert!(
        !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
        "scan output must mask the key: {out:#?}"
    );

    let out = cli_in(
        &data,
        &[
            "scan",
            src.join("clean.txt").to_str().expect("path"),
            src.join("typo.txt").to_str().expect("path"),
        ],
    );
    assert_eq!(out.code, Some(0), "no valid key: {out:#?}");
    let out = cli_in(
        &data,
        &["scan", dir.path().join("missing").to_str().expect("p")],
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
}

/// 6. Live and test data are separate worlds, and so are organizations: a foreign id is a
/// 404 exactly like an unknown one.
#[tokio::test(flavor = "multi_thread")]
async fn environments_and_organizations_are_isolated() {
    let s = Server::start();
    let c = s.client();
    let org_a = s.create_org("Org A", "starter");
    let org_b = s.create_org("Org B", "starter");
    let (_, a_test_write) = s.create_key(&org_a, "write", "test");
    let (_, a_live_admin) = s.create_key(&org_a, "admin", "live");
    let (_, b_live_admin) = s.create_key(&org_b, "admin", "live");
    let (_, b_test_admin) = s.create_key(&org_b, "admin", "test");

    let lead = json!({"email": "isolated@example.com", "name": "Test Lead", "company": "Acme"});
    let r = post_json(&c, &s.url("/api/v1/leads"), &a_test_write, &lead).await;
    assert_eq!(r.status, 201, "{r:#?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let lead_url = s.url(&format!("/api/v1/leads/{id}"));

    let unknown = get(
        &c,
        &s.url("/api/v1/leads/lead_01HQ3VXK9BWMN4F6T2P8R5GYSC"),
        &a_live_admin,
    )
    .await;
    unknown.assert_error(404, "not_found");

    for (who, key) in [
        ("A live", &a_live_admin),
        ("B live", &b_live_admin),
        ("B test", &b_test_admin),
        ("Default test", &s.bootstrap_key),
    ] {
        let r = get(&c, &lead_url, key).await;
        r.assert_error(404, "not_found");
        assert_eq!(
            r.json["error"]["message"], unknown.json["error"]["message"],
            "{who}: a foreign id looks exactly like an unknown one"
        );
        let list = get(&c, &s.url("/api/v1/leads"), key).await;
        assert_eq!(list.status, 200, "{who}: {list:#?}");
        assert_eq!(list.json["data"], json!([]), "{who}: {list:#?}");
        assert_eq!(list.json["pagination"]["total"], 0, "{who}: {list:#?}");
        let found = get(&c, &s.url("/api/v1/leads/search?q=isolated"), key).await;
        assert_eq!(found.status, 200, "{who}: {found:#?}");
        assert_eq!(found.json["data"], json!([]), "{who}: {found:#?}");
        let patch = call(
            &c,
            Method::PATCH,
            &lead_url,
            Some(key),
            Some(("application/json", br#"{"name":"Hijacked"}"#.to_vec())),
        )
        .await;
        patch.assert_error(404, "not_found");
        let del = call(&c, Method::DELETE, &lead_url, Some(key), None).await;
        assert!(
            del.status == 404 || (del.status == 403 && key == &s.bootstrap_key),
            "{who}: {del:#?}"
        );
    }

    // The owner's test key still sees it, untouched.
    let r = get(&c, &lead_url, &a_test_write).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.json["name"], "Test Lead");
    let list = get(&c, &s.url("/api/v1/leads"), &a_test_write).await;
    assert_eq!(list.json["pagination"]["total"], 1, "{list:#?}");

    // Uniqueness is per organization and environment: the same email is free in live.
    let r = post_json(&c, &s.url("/api/v1/leads"), &a_live_admin, &lead).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_ne!(r.json["id"], id.as_str());
    let r = post_json(&c, &s.url("/api/v1/leads"), &b_test_admin, &lead).await;
    assert_eq!(r.status, 201, "{r:#?}");
}

mod secrets;
