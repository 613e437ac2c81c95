//! Regression tests for what the external checkers (schemathesis through
//! `scripts/schemathesis.sh`, the cargo-fuzz targets in `fuzz/`) found: each test names the
//! request that exposed the bug. Plus the shape of the OpenAPI document those checkers rely on.

use crate::common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{Value, json};

/// A request with a JSON body written by hand (numbers as clients spell them).
async fn raw(t: &TestApp, method: Method, path: &str, key: &str, body: &str) -> common::Reply {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    t.send(req).await
}

async fn openapi(t: &TestApp) -> Value {
    let r = t
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.insert(r.clone());
            }
            m.values().for_each(|c| refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

/// schemathesis: "Unresolvable reference `#/components/schemas/LeadSortBy`" (also `SortOrder`,
/// `KeyStatusFilter`): query parameters referenced enums the document did not contain, so
/// those parameters were never tested.
#[tokio::test]
async fn every_reference_resolves() {
    let t = TestApp::new().await;
    let doc = openapi(&t).await;
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    assert!(found.contains("#/components/schemas/LeadSortBy"));
    for r in found {
        let pointer = r.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "unresolvable {r}");
    }
}

/// schemathesis ST108 on `POST /api/v1/keys` (201): `CreatedKey` was `allOf: [ApiKey, {secret}]`
/// with `additionalProperties: false` on both parts, so no response could ever be valid.
#[tokio::test]
async fn created_key_schema_is_one_closed_object() {
    let t = TestApp::new().await;
    let doc = openapi(&t).await;
    let created = &doc["components"]["schemas"]["CreatedKey"];
    assert!(created.get("allOf").is_none(), "{created}");
    assert_eq!(created["additionalProperties"], false);
    let props: BTreeSet<&String> = created["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    let mut expected: BTreeSet<&String> = doc["components"]["schemas"]["ApiKey"]["properties"]
        .as_object()
        .expect("ApiKey properties")
        .keys()
        .collect();
    let secret = "secret".to_owned();
    expected.insert(&secret);
    assert_eq!(props, expected);
    // And a real response has exactly those fields.
    let r = t
        .call(
            Method::POST,
            "/api/v1/keys",
            Some(&t.keys.a_live_admin),
            Some(json!({"name": "CI", "scope": "read"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let got: BTreeSet<&String> = r.body.as_object().expect("object").keys().collect();
    assert_eq!(got, expected);
}

/// schemathesis ST201 on `POST /api/v1/keys/{id}/rotate`: "Missing request body" was accepted
/// although the document marked the body required; the body is optional (and never `null`).
#[tokio::test]
async fn rotate_documents_its_body_as_optional() {
    let t = TestApp::new().await;
    let doc = openapi(&t).await;
    let body = &doc["paths"]["/api/v1/keys/{id}/rotate"]["post"]["requestBody"];
    assert_ne!(body["required"], true, "{body}");
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/RotateKey",
        "{body}"
    );
}

/// Links from create operations let the stateful phase follow created objects; their
/// `operationId`s must exist and be unique.
#[tokio::test]
async fn create_operations_link_to_what_takes_the_id() {
    let t = TestApp::new().await;
    let doc = openapi(&t).await;
    let mut ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            if let Some(id) = op["operationId"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate operationIds: {ids:?}");
    for (path, expected) in [
        (
            "/api/v1/leads",
            &["getLead", "updateLead", "deleteLead"][..],
        ),
        (
            "/api/v1/keys",
            &["getKey", "updateKey", "rotateKey", "revokeKey", "deleteKey"][..],
        ),
    ] {
        let links = doc["paths"][path]["post"]["responses"]["201"]["links"]
            .as_object()
            .expect("links");
        let targets: BTreeSet<&str> = links
            .values()
            .map(|l| l["operationId"].as_str().expect("operationId"))
            .collect();
        assert_eq!(targets, expected.iter().copied().collect(), "{path}");
        for l in links.values() {
            assert!(ids.iter().any(|i| i == &l["operationId"]));
            assert_eq!(l["parameters"]["id"], "$response.body#/id");
        }
    }
}

/// The validation rules the derive cannot state are in the document, taken from the very
/// constants the validators use (the fuzz targets check that pattern and validator agree).
#[tokio::test]
async fn validation_rules_are_documented() {
    use synaptiq_core::ids::{KeyId, LeadId};
    use synaptiq_types::validate::{EMAIL_PATTERN, NO_NUL_PATTERN, NOT_BLANK_TEXT_PATTERN};
    let t = TestApp::new().await;
    let doc = openapi(&t).await;
    let s = &doc["components"]["schemas"];
    for schema in ["CreateLead", "UpdateLead"] {
        let p = &s[schema]["properties"];
        assert_eq!(p["email"]["pattern"], EMAIL_PATTERN);
        assert_eq!(p["email"]["maxLength"], 254);
        assert_eq!(p["name"]["maxLength"], 200);
        assert_eq!(p["phone"]["maxLength"], 50);
        for text in ["name", "company", "title", "phone"] {
            assert_eq!(p[text]["pattern"], NO_NUL_PATTERN, "{schema}.{text}");
        }
        assert_eq!(p["tags"]["maxItems"], 50);
        assert_eq!(p["tags"]["items"]["minLength"], 1);
        assert_eq!(p["tags"]["items"]["maxLength"], 64);
        assert_eq!(p["tags"]["items"]["pattern"], NO_NUL_PATTERN);
        assert_eq!(p["customFields"]["maxProperties"], 50);
        assert_eq!(p["customFields"]["additionalProperties"]["maxLength"], 1000);
        assert_eq!(
            p["customFields"]["additionalProperties"]["pattern"],
            NO_NUL_PATTERN
        );
        assert_eq!(
            p["customFields"]["propertyNames"]["pattern"],
            NO_NUL_PATTERN
        );
        assert_eq!(p["score"]["maximum"], 100);
    }
    for schema in ["CreateKey", "UpdateKey"] {
        let p = &s[schema]["properties"];
        assert_eq!(p["name"]["pattern"], NOT_BLANK_TEXT_PATTERN);
        assert_eq!(p["name"]["maxLength"], 100);
        assert_eq!(p["allowedIps"]["items"]["format"], "cidr");
    }
    assert_eq!(
        s["CreateKey"]["properties"]["scope"]["enum"],
        json!(["read", "write", "admin"])
    );
    let param = |path: &str, name: &str| -> Value {
        let op = doc["paths"][path]
            .as_object()
            .and_then(|item| item.values().next())
            .expect("an operation");
        op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .expect("parameter")["schema"]
            .clone()
    };
    assert_eq!(
        param("/api/v1/leads/search", "q")["pattern"],
        NOT_BLANK_TEXT_PATTERN
    );
    assert_eq!(
        param("/api/v1/audit-events", "type")["pattern"],
        NO_NUL_PATTERN
    );
    assert_eq!(
        param("/api/v1/audit-events", "keyId")["pattern"],
        KeyId::PATTERN
    );
    assert_eq!(
        param("/api/v1/leads/{id}", "id")["pattern"],
        LeadId::PATTERN
    );
    assert_eq!(param("/api/v1/keys/{id}", "id")["pattern"], KeyId::PATTERN);
}

/// schemathesis ST202 on `POST /api/v1/leads` (stateful phase): `"score": 84.0` got 400
/// "invalid type: floating point `84.0`, expected u8" although JSON Schema's `integer`
/// includes 84.0. Same for `gracePeriodSeconds`.
#[tokio::test]
async fn integral_numbers_are_integers() {
    let t = TestApp::new().await;
    let k = &t.keys.a_live_write;
    let body = r#"{"email": "z@0.io", "score": 84.0}"#;
    let r = raw(&t, Method::POST, "/api/v1/leads", k, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["score"], 84);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = raw(
        &t,
        Method::PATCH,
        &format!("/api/v1/leads/{id}"),
        k,
        r#"{"score": 5e1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["score"], 50);
    // A fraction is still refused, naming the field.
    let r = raw(
        &t,
        Method::PATCH,
        &format!("/api/v1/leads/{id}"),
        k,
        r#"{"score": 84.5}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "score");

    let key = t
        .key_id(
            synaptiq_core::scope::Environment::Live,
            synaptiq_core::scope::Scope::Read,
        )
        .await;
    let r = raw(
        &t,
        Method::POST,
        &format!("/api/v1/keys/{key}/rotate"),
        &t.keys.a_live_admin,
        r#"{"gracePeriodSeconds": 3600.0}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// schemathesis ST202 on `POST /api/v1/keys`: `"name": ""` (and blank names) got 400 although
/// the document allowed any string; the document now says `minLength: 1`, `maxLength: 100` and
/// "not blank" (a pattern). Stating that rule exposed the next bug: lengths were measured after
/// trimming, so a 101-character name with a leading space passed although `maxLength: 100`
/// refuses it (schemathesis would report ST201); the same for the search text `q`.
#[tokio::test]
async fn lengths_count_what_was_sent() {
    let t = TestApp::new().await;
    let admin = &t.keys.a_live_admin;
    let long = format!(" {}", "k".repeat(100));
    for name in [long.as_str(), " \u{3000} ", ""] {
        t.call(
            Method::POST,
            "/api/v1/keys",
            Some(admin),
            Some(json!({"name": name, "scope": "read"})),
        )
        .await
        .assert_invalid("name", &format!("{name:?}"));
    }
    let r = t
        .call(
            Method::POST,
            "/api/v1/keys",
            Some(admin),
            Some(json!({"name": format!(" {} ", "k".repeat(98)), "scope": "read"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["name"], "k".repeat(98), "stored trimmed");

    let q = format!("%20{}", "a".repeat(200));
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/leads/search?q={q}"),
            Some(&t.keys.a_live_read),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["param"], "q");
}

/// The email rule is the documented pattern: lengths in characters (as `maxLength` counts),
/// ASCII domains (IDNs as `xn--`). Before, a 64-character non-ASCII local part was refused
/// (bytes were counted) and a Unicode domain the pattern refuses was accepted.
#[tokio::test]
async fn emails_follow_the_documented_pattern() {
    let t = TestApp::new().await;
    let k = &t.keys.a_live_write;
    let cases = [
        (format!("{}@acme.io", "é".repeat(64)), StatusCode::CREATED),
        ("ana@xn--espaa-rta.es".to_owned(), StatusCode::CREATED),
        ("ana@españa.es".to_owned(), StatusCode::BAD_REQUEST),
    ];
    for (email, status) in cases {
        let r = t
            .call(
                Method::POST,
                "/api/v1/leads",
                Some(k),
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(r.status, status, "{email}: {}", r.body);
    }
}

/// Found while writing the id patterns for the document: a ULID's first character is at most
/// `7` (128 bits), but the decoder dropped the extra bits, so `lead_8…` fetched `lead_0…`
/// (and `key_Z…` the key `key_7…`).
#[tokio::test]
async fn overflowing_ids_are_not_aliases() {
    let t = TestApp::new().await;
    let k = &t.keys.a_live_admin;
    let id = t.lead(k, "alias@acme.io").await;
    assert!(id.starts_with("lead_0"), "{id}");
    let alias = id.replacen("lead_0", "lead_8", 1);
    for method in [Method::GET, Method::DELETE] {
        let r = t
            .call(
                method.clone(),
                &format!("/api/v1/leads/{alias}"),
                Some(k),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {alias}");
    }
    let r = t
        .call(Method::GET, &format!("/api/v1/leads/{id}"), Some(k), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// cargo-fuzz (`query_params`, input `=4`): a parameter with an empty name was refused with
/// `"param": ""`, which names nothing. Same for a JSON field named `""`.
#[tokio::test]
async fn empty_names_are_refused_with_a_useful_param() {
    let t = TestApp::new().await;
    let r = t.get("/api/v1/leads?=4", &t.keys.a_live_read).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["param"], "query");
    let r = raw(
        &t,
        Method::POST,
        "/api/v1/leads",
        &t.keys.a_live_write,
        r#"{"email": "a@b.co", "": 1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["param"], "body");
}
