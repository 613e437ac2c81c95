//! The rewrites of the derived document: flattened `allOf`s, the constraints of
//! `synaptiq-types`, absent (not null) optional bodies, links from create operations, and
//! closed objects.

use serde_json::{Value, json};

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

/// What a resource's part of the document needs beyond the derive, registered with its
/// routes (`routes::Resource::doc_rules`) so that no central list names every resource.
#[derive(Default)]
pub struct DocRules {
    /// The validation rules of its request types that the derive cannot state (lengths,
    /// patterns, enumerations), from `synaptiq-types`: (schema, property, keywords).
    pub schema_constraints: Vec<(&'static str, &'static str, Value)>,
    /// The same for query parameters, by name: (parameter, keywords).
    pub query_constraints: Vec<(&'static str, Value)>,
    /// The pattern of the `{id}` path parameter under each path prefix.
    pub ids: Vec<(&'static str, &'static str)>,
    /// Links from a create operation's answer to the operations that take the created id,
    /// so clients (and stateful testers) can follow it: (path, method, status, links).
    pub links: Vec<(&'static str, &'static str, &'static str, Value)>,
}

impl DocRules {
    /// Adds `other`'s rules after these.
    pub fn extend(&mut self, other: DocRules) {
        self.schema_constraints.extend(other.schema_constraints);
        self.query_constraints.extend(other.query_constraints);
        self.ids.extend(other.ids);
        self.links.extend(other.links);
    }

    /// An OpenAPI link to operation `op`, taking its `id` from the answer at `pointer`.
    pub fn link(op: &str, pointer: &str) -> Value {
        json!({"operationId": op, "parameters": {"id": format!("$response.body#{pointer}")}})
    }
}

/// Merges every resource's constraints into the schemas and query parameters, and the id
/// patterns into the `{id}` path parameters.
pub(super) fn apply_constraints(doc: &mut Value, rules: &DocRules) {
    for (schema, property, keywords) in &rules.schema_constraints {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(target) = doc.pointer_mut(&pointer) {
            merge(target, keywords);
        }
    }
    for (path, item) in doc["paths"].as_object_mut().into_iter().flatten() {
        let id_pattern = rules
            .ids
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
                    let rules_of = rules.query_constraints.iter();
                    for (_, keywords) in rules_of.filter(|(n, _)| *n == name) {
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

/// Adds every resource's links (see [`DocRules::links`]).
pub(super) fn add_links(doc: &mut Value, rules: &DocRules) {
    for (path, method, status, value) in &rules.links {
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}",
            path.replace('/', "~1")
        );
        if let Some(response) = doc.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            response.insert("links".into(), value.clone());
        }
    }
}
