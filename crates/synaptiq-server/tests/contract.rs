//! The wire contract: the error envelope, request ids and security headers, 404/405, and the
//! OpenAPI document against the router.

use crate::common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use synaptiq_server::routes;

#[tokio::test]
async fn every_response_has_request_id_and_hsts() {
    let t = TestApp::new().await;
    for (method, path, key) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/api/v1/me", Some(t.keys.a_live_read.as_str())),
        (Method::GET, "/api/v1/me", None),
        (Method::GET, "/nope", None),
        (Method::PUT, "/api/v1/leads", None),
    ] {
        let r = t.call(method.clone(), path, key, None).await;
        let id = r.header("x-request-id");
        assert!(
            id.starts_with("req_") && id.len() == 30,
            "{method} {path}: {id:?}"
        );
        assert_eq!(r.header("strict-transport-security"), "max-age=31536000");
        if !r.status.is_success() {
            assert_eq!(r.body["error"]["request_id"], id, "{method} {path}");
            let doc = r.body["error"]["doc_url"].as_str().expect("doc_url");
            assert!(
                doc.starts_with("https://127.0.0.1:8443/docs/api-reference/"),
                "{doc}"
            );
            // The page the doc_url names is served.
            let page = doc.trim_start_matches("https://127.0.0.1:8443");
            assert_eq!(
                t.call(Method::GET, page, None, None).await.status,
                StatusCode::OK,
                "{page}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let t = TestApp::new().await;
    let r = t.get("/api/v1/nothing", &t.keys.a_live_read).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "not_found");
    for m in [Method::PUT, Method::TRACE, Method::OPTIONS, Method::DELETE] {
        let r = t
            .call(m.clone(), "/api/v1/leads", Some(&t.keys.a_live_admin), None)
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m}");
        assert_eq!(r.code(), "method_not_allowed");
        let allow = r.header("allow");
        assert!(
            allow.contains("GET") && allow.contains("POST"),
            "{m}: Allow = {allow:?}"
        );
    }
    // HEAD is served by GET routes, without a body.
    let r = t
        .call(
            Method::HEAD,
            "/api/v1/leads",
            Some(&t.keys.a_live_read),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_null());
}

#[tokio::test]
async fn every_error_code_has_a_status_and_doc_page() {
    use synaptiq_types::ErrorCode;
    let t = TestApp::new().await;
    for code in ErrorCode::ALL {
        let (status, name, _) = code.spec();
        assert!((400..600).contains(&status), "{name}");
        assert_eq!(ErrorCode::parse(name), Some(code));
        let r = t.call(Method::GET, &code.doc_path(), None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", code.doc_path());
    }
}

#[tokio::test]
async fn openapi_lists_exactly_the_routers_operations() {
    let t = TestApp::new().await;
    let r = t
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let documented = synaptiq_server::openapi::operations(&doc);
    let mut routed: Vec<(String, String)> = routes::table()
        .into_iter()
        .map(|r| r.def)
        .filter(|d| d.in_openapi)
        .map(|d| (d.method.to_string(), d.path.to_owned()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);
    // Guarded operations document their auth failures; request bodies forbid extra fields.
    for (method, path) in &routed {
        let op = &doc["paths"][path][method.to_lowercase()];
        let responses = op["responses"].as_object().expect("responses");
        if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
            for s in ["401", "403", "429"] {
                assert!(responses.contains_key(s), "{method} {path} lacks {s}");
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{method} {path} lacks 404");
        }
    }
    let create = &doc["components"]["schemas"]["CreateLead"];
    assert_eq!(create["additionalProperties"], false, "{create}");
    assert_eq!(
        doc["components"]["schemas"]["Lead"]["additionalProperties"],
        false
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}

/// The OpenAPI document as reviewed: any change to an operation, a schema or a shared
/// response shows up here as a diff (`INSTA_UPDATE=always` rewrites it after a deliberate
/// change).
#[test]
fn openapi_document_snapshot() {
    let doc = serde_json::to_string_pretty(&synaptiq_server::openapi::document()).expect("json");
    insta::with_settings!({snapshot_path => "snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("openapi", doc);
    });
}
