//! End-to-end error contract over real TLS (SPEC §4): 413, 400 with `param`, 415, 404, 409,
//! 405 with `Allow`, and the headers every response carries.

use crate::common;

use common::{Reply, Server, call, curl, get, post_json};
use reqwest::Method;
use serde_json::{Value, json};

const LIMIT: usize = 1024 * 1024;

/// A JSON lead body padded with trailing whitespace to exactly `len` bytes.
fn padded_lead(email: &str, len: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(&json!({ "email": email })).expect("json");
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

async fn post_raw(s: &Server, c: &reqwest::Client, content_type: &str, body: Vec<u8>) -> Reply {
    call(
        c,
        Method::POST,
        &s.url("/api/v1/leads"),
        Some(&s.bootstrap_key),
        Some((content_type, body)),
    )
    .await
}

/// 413 over the 1 MiB limit (h2 and HTTP/1.1, declared length and chunked), and the exact
/// limit still accepted.
#[tokio::test(flavor = "multi_thread")]
async fn body_over_one_mib_is_413_payload_too_large() {
    let s = Server::start();
    for c in [s.client(), s.client_h1()] {
        let two_mib = padded_lead("big@example.com", 2 * LIMIT);
        let r = post_raw(&s, &c, "application/json", two_mib).await;
        r.assert_error(413, "payload_too_large");

        let one_over = padded_lead("over@example.com", LIMIT + 1);
        let r = post_raw(&s, &c, "application/json", one_over).await;
        r.assert_error(413, "payload_too_large");
    }
    // Exactly the limit is fine.
    let exact = padded_lead("exact@example.com", LIMIT);
    let r = post_raw(&s, &s.client(), "application/json", exact).await;
    assert_eq!(r.status, 201, "a body of exactly 1 MiB is accepted: {r:#?}");
    assert_eq!(r.json["email"], "exact@example.com");

    // No Content-Length (chunked upload): the limit applies while reading.
    let file = s.temp_dir().join("big.json");
    std::fs::write(&file, padded_lead("chunked@example.com", 2 * LIMIT)).expect("write");
    let cacert = s.cert_path.display().to_string();
    let auth = format!("Authorization: Bearer {}", s.bootstrap_key);
    let data = format!("@{}", file.display());
    let url = s.url("/api/v1/leads");
    let args: Vec<String> = [
        "--silent",
        "--show-error",
        "--max-time",
        "60",
        "--http1.1",
        "--cacert",
        cacert.as_str(),
        "-H",
        auth.as_str(),
        "-H",
        "Content-Type: application/json",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        data.as_str(),
        url.as_str(),
        "-w",
        "\n%{http_code}",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let (code, out, err) = curl(&args);
    // curl may report the server closing while it still uploads; the answer must be 413.
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
    assert_eq!(
        status, "413",
        "curl exit {code:?}, stderr {err}, stdout {out}"
    );
    let v: Value = serde_json::from_str(body).expect("JSON error body");
    assert_eq!(v["error"]["code"], "payload_too_large", "{v:#}");
}

/// 400 `invalid_request` naming the field; 415 for a non-JSON media type.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_400_with_param_and_415() {
    let s = Server::start();
    let c = s.client();

    let r = post_raw(&s, &c, "application/json", b"{\"email\": ".to_vec()).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "body", "{r:#?}");

    let r = post_raw(&s, &c, "application/json", b"{not json}".to_vec()).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "body", "{r:#?}");

    let r = post_json(
        &c,
        &s.url("/api/v1/leads"),
        &s.bootstrap_key,
        &json!({"email": "a@example.com", "favouriteColour": "blue"}),
    )
    .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "favouriteColour", "{r:#?}");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("favouriteColour"),
        "{r:#?}"
    );

    let r = post_json(
        &c,
        &s.url("/api/v1/leads"),
        &s.bootstrap_key,
        &json!({"name": "No Email"}),
    )
    .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "email", "{r:#?}");

    let r = post_json(
        &c,
        &s.url("/api/v1/leads"),
        &s.bootstrap_key,
        &json!({"email": "a@example.com", "score": "high"}),
    )
    .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "score", "{r:#?}");

    let r = post_raw(
        &s,
        &c,
        "text/plain",
        br#"{"email":"plain@example.com"}"#.to_vec(),
    )
    .await;
    r.assert_error(415, "unsupported_media_type");

    // Bad query parameter: 400 naming it.
    let r = get(&c, &s.url("/api/v1/leads?limit=1000"), &s.bootstrap_key).await;
    r.assert_error(400, "invalid_request");
    assert_eq!(r.json["error"]["param"], "limit", "{r:#?}");

    // Nothing was created by any of the above.
    let r = get(&c, &s.url("/api/v1/leads"), &s.bootstrap_key).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.json["pagination"]["total"], 0, "{r:#?}");
}

/// 404 for unknown routes and ids; 409 for a duplicate email naming the field and the
/// existing lead.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_ids_are_404_duplicates_are_409() {
    let s = Server::start();
    let c = s.client();

    for path in ["/api/v1/nope", "/api/v2/leads", "/nope"] {
        let r = get(&c, &s.url(path), &s.bootstrap_key).await;
        r.assert_error(404, "not_found");
    }
    for id in ["lead_01HQ3VXK9BWMN4F6T2P8R5GYSC", "not-an-id"] {
        let r = get(&c, &s.url(&format!("/api/v1/leads/{id}")), &s.bootstrap_key).await;
        r.assert_error(404, "not_found");
    }

    let lead = json!({"email": "dup@example.com", "name": "First"});
    let first = post_json(&c, &s.url("/api/v1/leads"), &s.bootstrap_key, &lead).await;
    assert_eq!(first.status, 201, "{first:#?}");
    first.assert_common_headers();
    let id = first.json["id"].as_str().expect("lead id").to_owned();
    assert!(id.starts_with("lead_"), "{id}");
    assert_eq!(first.header("location"), format!("/api/v1/leads/{id}"));

    let again = json!({"email": "dup@example.com", "name": "Second"});
    let r = post_json(&c, &s.url("/api/v1/leads"), &s.bootstrap_key, &again).await;
    r.assert_error(409, "conflict");
    assert_eq!(r.json["error"]["param"], "email", "{r:#?}");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&id),
        "409 names the existing lead: {r:#?}"
    );

    let r = get(&c, &s.url(&format!("/api/v1/leads/{id}")), &s.bootstrap_key).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.json["name"], "First", "{r:#?}");
}

fn allow_set(r: &Reply) -> Vec<String> {
    let mut v: Vec<String> = r
        .header("allow")
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    v.sort();
    v
}

/// 405 with `Allow` and the JSON envelope, over h2 and HTTP/1.1.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_405_with_allow() {
    let s = Server::start();
    for c in [s.client(), s.client_h1()] {
        for method in [Method::PUT, Method::TRACE, Method::DELETE] {
            let r = call(
                &c,
                method.clone(),
                &s.url("/api/v1/leads"),
                Some(&s.bootstrap_key),
                None,
            )
            .await;
            r.assert_error(405, "method_not_allowed");
            let allow = allow_set(&r);
            assert!(
                allow.contains(&"GET".to_owned()) && allow.contains(&"POST".to_owned()),
                "{method} /api/v1/leads: Allow = {allow:?}"
            );
            assert!(
                !allow.contains(&method.as_str().to_owned()),
                "{method} is not allowed yet listed in Allow: {allow:?}"
            );
        }
        let r = call(
            &c,
            Method::POST,
            &s.url("/api/v1/me"),
            Some(&s.bootstrap_key),
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
        r.assert_error(405, "method_not_allowed");
        assert!(allow_set(&r).contains(&"GET".to_owned()), "{r:#?}");
    }
}

/// Every HTTPS response, success or error, public or authenticated, carries `X-Request-Id`
/// and HSTS; ids are unique.
#[tokio::test(flavor = "multi_thread")]
async fn every_response_has_request_id_and_hsts() {
    let s = Server::start();
    let c = s.client();
    let mut ids = Vec::new();
    let key = Some(s.bootstrap_key.as_str());
    let cases: Vec<(Method, &str, Option<&str>, u16)> = vec![
        (Method::GET, "/healthz", None, 200),
        (Method::GET, "/api/v1/openapi.json", None, 200),
        (Method::GET, "/api/v1/me", key, 200),
        (Method::GET, "/api/v1/leads", key, 200),
        (Method::HEAD, "/api/v1/leads", key, 200),
        (Method::GET, "/api/v1/leads", None, 401),
        (
            Method::GET,
            "/api/v1/leads",
            Some("sk_test_notarealkeynotarealkeynotarealkey1"),
            401,
        ),
        (Method::GET, "/api/v1/nope", None, 404),
        (Method::PUT, "/api/v1/leads", key, 405),
    ];
    for (method, path, key, status) in cases {
        let r = call(&c, method.clone(), &s.url(path), key, None).await;
        assert_eq!(r.status, status, "{method} {path}: {r:#?}");
        r.assert_common_headers();
        if status >= 400 && method != Method::HEAD {
            assert_eq!(
                r.json["error"]["request_id"].as_str(),
                Some(r.header("x-request-id")),
                "{r:#?}"
            );
        }
        if status == 401 {
            assert_eq!(
                r.json["error"]["message"],
                "Invalid or missing API key. Provide a valid Bearer token in the Authorization header.",
                "{r:#?}"
            );
            let challenge = r.header("www-authenticate");
            if key.is_some() {
                assert_eq!(
                    challenge,
                    r#"Bearer realm="synaptiq", error="invalid_token""#
                );
            } else {
                assert_eq!(challenge, r#"Bearer realm="synaptiq""#);
            }
        }
        ids.push(r.header("x-request-id").to_owned());
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "request ids repeat: {ids:?}");
}

mod limits;
