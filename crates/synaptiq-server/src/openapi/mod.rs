//! The OpenAPI 3.1 document, `GET /api/v1/openapi.json`.
//!
//! utoipa derives operations and schemas from the handlers and types. Then: flattened
//! `allOf`s become one object; the validation rules of `synaptiq-types` the derive cannot state
//! (lengths, patterns, enumerations) are merged in; create operations link to what takes the
//! created id; the error responses every operation shares are added from the route table (so
//! the document cannot forget a 401 on a guarded route); every object schema gets
//! `additionalProperties: false`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;

use synaptiq_types::ErrorCode;

use crate::app::AppState;
use crate::routes::{self, Access};

mod rewrite;
pub use rewrite::DocRules;
use rewrite::{
    add_links, apply_constraints, close_objects, flatten_all_of,
    optional_bodies_are_absent_not_null,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Synaptiq API",
        description = "Leads, conversations and analytics of the Synaptiq AI sales agent. Every call under /api/v1 (except this document) needs `Authorization: Bearer sk_live_…` or `sk_test_…`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(synaptiq_types::ErrorBody)),
    security(("bearerAuth" = [])),
)]
struct ApiDoc;

/// This document, served to all.
pub const RESOURCE: routes::Resource = routes::Resource {
    routes: || {
        vec![routes::route(
            axum::http::Method::GET,
            "/api/v1/openapi.json",
            Access::Public,
            serve,
        )]
    },
    openapi: ServeApi::openapi,
    doc_rules: crate::openapi::DocRules::default,
};

#[derive(OpenApi)]
#[openapi(paths(serve))]
struct ServeApi;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", operation_id = "getOpenApi", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json")))]
pub async fn serve(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}

fn error_response(description: &str, code: ErrorCode) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"},
            "example": {"error": {"code": code.as_str(), "message": description,
                "doc_url": format!("https://127.0.0.1:8443{}", code.doc_path()),
                "request_id": "req_01HQ3VXK9BWMN4F6T2P8R5GYSC"}}
        }}
    })
}

fn rate_headers() -> Value {
    let int = |d: &str| json!({"description": d, "schema": {"type": "integer"}});
    json!({
        "X-RateLimit-Limit": int("Requests per minute for this key."),
        "X-RateLimit-Remaining": int("Requests left now."),
        "X-RateLimit-Reset": int("Unix seconds at which the bucket is full again."),
    })
}

/// The complete document, as JSON.
pub fn document() -> Value {
    let mut api = ApiDoc::openapi();
    for part in routes::operations() {
        api.merge(part);
    }
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({}));
    doc["components"]["securitySchemes"]["bearerAuth"] = json!({
        "type": "http", "scheme": "bearer",
        "description": "An API key: `sk_live_` or `sk_test_` followed by 36 base62 characters."
    });
    flatten_all_of(&mut doc);
    optional_bodies_are_absent_not_null(&mut doc);
    let rules = routes::doc_rules();
    apply_constraints(&mut doc, &rules);
    add_links(&mut doc, &rules);
    for def in routes::table().into_iter().map(|r| r.def) {
        if !def.in_openapi {
            continue;
        }
        let method = def.method.as_str().to_lowercase();
        let Some(op) = doc["paths"][def.path][&method].as_object_mut() else {
            continue;
        };
        let has_params = op
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
        let has_body = op.contains_key("requestBody");
        let has_id = def.path.contains('{');
        let guarded = def.access != Access::Public;
        let responses = op.entry("responses").or_insert_with(|| json!({}));
        let mut add = |status: &str, v: Value| {
            if responses.get(status).is_none() {
                responses[status] = v;
            }
        };
        add(
            "405",
            with_header(
                error_response(
                    "Method not allowed on this route (see `Allow`).",
                    ErrorCode::MethodNotAllowed,
                ),
                "Allow",
                "The methods this route supports.",
            ),
        );
        add(
            "413",
            error_response(
                "The request body is larger than 1 MiB.",
                ErrorCode::PayloadTooLarge,
            ),
        );
        add(
            "503",
            with_header(
                error_response(
                    "Storage is temporarily unavailable, or the request took too long.",
                    ErrorCode::ServiceUnavailable,
                ),
                "Retry-After",
                "Seconds to wait before retrying.",
            ),
        );
        if guarded {
            add(
                "401",
                with_header(
                    error_response(
                        "Missing, malformed, unknown, expired or revoked API key.",
                        ErrorCode::Unauthorized,
                    ),
                    "WWW-Authenticate",
                    "The RFC 6750 challenge.",
                ),
            );
            add(
                "403",
                error_response(
                    "The key lacks the scope, or the client IP is not allowed.",
                    ErrorCode::Forbidden,
                ),
            );
            add(
                "429",
                with_header(
                    error_response(
                        "Rate limit exceeded, or too many failed authentications from this address.",
                        ErrorCode::RateLimitExceeded,
                    ),
                    "Retry-After",
                    "Seconds to wait before retrying.",
                ),
            );
        }
        if guarded || has_params || has_body {
            add(
                "400",
                error_response(
                    "Invalid request (`param` names the field).",
                    ErrorCode::InvalidRequest,
                ),
            );
        }
        if has_body {
            add(
                "415",
                error_response(
                    "The body is not `application/json`.",
                    ErrorCode::UnsupportedMediaType,
                ),
            );
        }
        if has_id {
            add(
                "404",
                error_response(
                    "No such object in this organization and environment.",
                    ErrorCode::NotFound,
                ),
            );
        }
        if guarded {
            // Everything past authentication carries the key's rate-limit state; a 401, a 405
            // (answered before the guard) and a 413 (before the body is read) do not.
            for (status, r) in responses.as_object_mut().into_iter().flatten() {
                if ["401", "405", "413"].contains(&status.as_str()) {
                    continue;
                }
                if let Some(obj) = r.as_object_mut() {
                    let headers = obj.entry("headers").or_insert_with(|| json!({}));
                    if let (Some(h), Some(extra)) =
                        (headers.as_object_mut(), rate_headers().as_object())
                    {
                        for (k, v) in extra {
                            h.entry(k.clone()).or_insert(v.clone());
                        }
                    }
                }
            }
        }
    }
    close_objects(&mut doc);
    doc
}

fn with_header(mut response: Value, name: &str, description: &str) -> Value {
    response["headers"][name] = json!({"description": description, "schema": {"type": "string"}});
    response
}

/// The operations the document lists, as (METHOD, path) pairs.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}
