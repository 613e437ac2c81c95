//! The rewrites of the derived document: flattened `allOf`s, the constraints of
//! `synaptiq-types`, absent (not null) optional bodies, links from create operations, and
//! closed objects.

use serde_json::{Value, json};

use synaptiq_core::ids::{KeyId, LeadId};

/// Recursively closes object schemas (`additionalProperties: false`) unless they say otherwise.
pub(super) fn close_objects(v: &mut Value) {
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
pub(super) fn flatten_all_of(doc: &mut Value) {
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
pub(super) fn apply_constraints(doc: &mut Value) {
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
pub(super) fn optional_bodies_are_absent_not_null(doc: &mut Value) {
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
pub(super) fn add_links(doc: &mut Value) {
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
