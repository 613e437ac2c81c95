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

use synaptiq_core::ids::{KeyId, LeadId};
use synaptiq_types::ErrorCode;

use crate::app::AppState;
use crate::routes::{self, Access};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Synaptiq API",
        description = "Leads, conversations and analytics of the Synaptiq AI sales agent. Every call under /api/v1 (except this document) needs `Authorization: Bearer sk_live_…` or `sk_test_…`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(
        synaptiq_types::ErrorBody,
        synaptiq_types::leads::LeadStatus,
        synaptiq_types::leads::LeadSource,
        synaptiq_types::leads::LeadSortBy,
        synaptiq_types::leads::SortOrder,
        synaptiq_types::keys::KeyStatusFilter,
    )),
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

/// Merges `extra` into `target`, objects key by key.
fn merge(target: &mut Value, extra: &Value) {
    match (target, extra) {
        (Value::Object(t), Value::Object(e)) => {
            for (k, v) in e {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, e) => *t = e.clone(),
    }
}

/// Replaces `allOf` lists of object schemas (what `#[serde(flatten)]` derives, e.g.
/// `CreatedKey` = `ApiKey` + `secret`) by one object, so that closing it with
/// `additionalProperties: false` does not make every instance invalid.
fn flatten_all_of(doc: &mut Value) {
    let schemas = doc["components"]["schemas"].clone();
    let Some(map) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for schema in map.values_mut() {
        let Some(parts) = schema.get("allOf").and_then(Value::as_array).cloned() else {
            continue;
        };
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for part in &parts {
            let part = match part["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => part,
            };
            let Some(props) = part["properties"].as_object() else {
                return;
            };
            properties.extend(props.clone());
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
        }
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("allOf");
            obj.insert("type".into(), json!("object"));
            obj.insert("properties".into(), Value::Object(properties));
            obj.insert("required".into(), Value::Array(required));
        }
    }
}

/// The validation rules of the request types that the derive cannot state (lengths, patterns,
/// enumerations), from `synaptiq-types`, merged into the schemas and query parameters.
fn apply_constraints(doc: &mut Value) {
    let properties = [
        synaptiq_types::leads::schema_constraints(),
        synaptiq_types::keys::schema_constraints(),
    ];
    for (schema, property, keywords) in properties.iter().flatten() {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(target) = doc.pointer_mut(&pointer) {
            merge(target, keywords);
        }
    }
    let params: Vec<_> = [
        synaptiq_types::leads::query_constraints(),
        synaptiq_types::audit::query_constraints(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let ids = [
        ("/api/v1/leads/{id}", LeadId::PATTERN),
        ("/api/v1/keys/{id}", KeyId::PATTERN),
    ];
    for (path, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        let id_pattern = ids
            .iter()
            .find(|(p, _)| path.starts_with(p))
            .map(|(_, pattern)| *pattern);
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            let params_of_op = op.get_mut("parameters").and_then(Value::as_array_mut);
            for param in params_of_op.into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default().to_owned();
                if param["in"] == "path" && name == "id" {
                    if let Some(pattern) = id_pattern {
                        merge(&mut param["schema"], &json!({"pattern": pattern}));
                    }
                } else if param["in"] == "query" {
                    for (_, keywords) in params.iter().filter(|(n, _)| *n == name) {
                        merge(&mut param["schema"], keywords);
                    }
                }
            }
        }
    }
}

/// An optional request body (`Option<T>` in the handler's annotation) is absent, never `null`:
/// keeps `required: false` and drops the `null` alternative utoipa adds to its schema.
fn optional_bodies_are_absent_not_null(doc: &mut Value) {
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            let Some(schema) = op.pointer_mut("/requestBody/content/application~1json/schema")
            else {
                continue;
            };
            let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) else {
                continue;
            };
            let non_null: Vec<&Value> = alternatives
                .iter()
                .filter(|a| a["type"] != "null")
                .collect();
            if let [only] = non_null.as_slice() {
                *schema = (*only).clone();
            }
        }
    }
}

/// OpenAPI links from each create operation to the operations that take the created id, so
/// clients (and stateful testers) can follow a created object.
fn add_links(doc: &mut Value) {
    let link = |op: &str, pointer: &str| json!({"operationId": op, "parameters": {"id": format!("$response.body#{pointer}")}});
    let links = [
        (
            "/api/v1/leads",
            "post",
            "201",
            json!({
                "GetLead": link("getLead", "/id"),
                "UpdateLead": link("updateLead", "/id"),
                "DeleteLead": link("deleteLead", "/id"),
            }),
        ),
        (
            "/api/v1/keys",
            "post",
            "201",
            json!({
                "GetKey": link("getKey", "/id"),
                "UpdateKey": link("updateKey", "/id"),
                "RotateKey": link("rotateKey", "/id"),
                "RevokeKey": link("revokeKey", "/id"),
                "DeleteKey": link("deleteKey", "/id"),
            }),
        ),
        (
            "/api/v1/keys/{id}/rotate",
            "post",
            "201",
            json!({
                "GetNewKey": link("getKey", "/newKey/id"),
                "RevokeOldKey": link("revokeKey", "/oldKey/id"),
                "DeleteNewKey": link("deleteKey", "/newKey/id"),
            }),
        ),
    ];
    for (path, method, status, value) in links {
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}",
            path.replace('/', "~1")
        );
        if let Some(response) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            response.insert("links".into(), value);
        }
    }
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
    apply_constraints(&mut doc);
    add_links(&mut doc);
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
