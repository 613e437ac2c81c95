//! The OpenAPI 3.1 document, `GET /api/v1/openapi.json`.
//!
//! utoipa derives operations and schemas from the handlers and types. The error responses
//! every operation shares are then added from the route table (so the document cannot forget
//! a 401 on a guarded route), and every object schema gets `additionalProperties: false`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::app::AppState;
use crate::routes::{self, Access};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Synaptiq API",
        description = "Leads, conversations and analytics of the Synaptiq AI sales agent. Every call under /api/v1 (except this document) needs `Authorization: Bearer sk_live_…` or `sk_test_…`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        serve,
        crate::routes::me::me,
        crate::routes::leads::list,
        crate::routes::leads::create,
        crate::routes::leads::search,
        crate::routes::leads::get,
        crate::routes::leads::update,
        crate::routes::leads::delete,
        crate::routes::keys::list,
        crate::routes::keys::create,
        crate::routes::keys::get,
        crate::routes::keys::update,
        crate::routes::keys::delete,
        crate::routes::keys::rotate,
        crate::routes::keys::revoke,
        crate::routes::audit::list,
    ),
    components(schemas(synaptiq_types::ErrorBody)),
    security(("bearerAuth" = [])),
)]
struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json")))]
pub async fn serve(State(app): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi.clone(),
    )
        .into_response()
}

fn error_response(description: &str, code: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"},
            "example": {"error": {"code": code, "message": description,
                "doc_url": "https://127.0.0.1:8443/docs/api-reference/errors",
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

/// Recursively closes object schemas (`additionalProperties: false`) unless they say otherwise.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let is_object = map.get("type").is_some_and(|t| {
                t == "object" || t.as_array().is_some_and(|a| a.contains(&json!("object")))
            });
            if is_object
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for child in map.values_mut() {
                close_objects(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The complete document, as JSON.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    doc["components"]["securitySchemes"]["bearerAuth"] = json!({
        "type": "http", "scheme": "bearer",
        "description": "An API key: `sk_live_` or `sk_test_` followed by 36 base62 characters."
    });
    for (def, _) in routes::table() {
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
        let responses = op.entry("responses").or_insert_with(|| json!({}));
        let mut add = |status: &str, v: Value| {
            if responses.get(status).is_none() {
                responses[status] = v;
            }
        };
        add(
            "405",
            error_response(
                "Method not allowed on this route (see `Allow`).",
                "method_not_allowed",
            ),
        );
        add(
            "413",
            error_response(
                "The request body is larger than 1 MiB.",
                "payload_too_large",
            ),
        );
        add(
            "503",
            error_response(
                "Storage is temporarily unavailable (see `Retry-After`).",
                "service_unavailable",
            ),
        );
        if def.access != Access::Public {
            add(
                "401",
                error_response(
                    "Missing, malformed, unknown, expired or revoked API key.",
                    "unauthorized",
                ),
            );
            add(
                "403",
                error_response(
                    "The key lacks the scope, or the client IP is not allowed.",
                    "forbidden",
                ),
            );
            add(
                "429",
                error_response(
                    "Rate limit exceeded (see `Retry-After`).",
                    "rate_limit_exceeded",
                ),
            );
            add(
                "400",
                error_response(
                    "Invalid request (`param` names the field).",
                    "invalid_request",
                ),
            );
        } else if has_params {
            add(
                "400",
                error_response(
                    "Invalid request (`param` names the field).",
                    "invalid_request",
                ),
            );
        }
        if has_body {
            add(
                "415",
                error_response(
                    "The body is not `application/json`.",
                    "unsupported_media_type",
                ),
            );
        }
        if has_id {
            add(
                "404",
                error_response(
                    "No such object in this organization and environment.",
                    "not_found",
                ),
            );
        }
        if def.access != Access::Public {
            for r in responses
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
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
