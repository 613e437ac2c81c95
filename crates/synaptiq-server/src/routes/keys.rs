//! Key management (admin scope). A key manages only keys of its own organization and
//! environment: a `sk_test_` admin key sees and changes test keys only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use synaptiq_core::ids::KeyId;
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_types::keys::{
    ApiKey, CreateKey, CreatedKey, KeyList, KeyListQuery, KeyStatusFilter, RotateKey, RotatedKey,
    UpdateKey, validate_name,
};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use axum::http::Method;
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, Query};
use crate::stack::Caller;
use synaptiq_app::keys::{self, DEFAULT_GRACE_SECS, KeySpec, MAX_GRACE_SECS};

fn key_id(raw: &str) -> Result<KeyId, ApiError> {
    KeyId::parse(raw).map_err(|_| ApiError::not_found("key"))
}

/// Lists the environment's keys, newest first.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys", operation_id = "listKeys", params(KeyListQuery),
    responses((status = 200, description = "A page of keys (never secrets).", body = KeyList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<KeyListQuery>,
) -> Result<Json<KeyList>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let status = q.status.map(|s| match s {
        KeyStatusFilter::Active => KeyStatus::Active,
        KeyStatusFilter::Rotating => KeyStatus::Rotating,
        KeyStatusFilter::Expired => KeyStatus::Expired,
        KeyStatusFilter::Revoked => KeyStatus::Revoked,
    });
    let k = &caller.auth.key;
    let now = Timestamp::now();
    let (keys, total) = app
        .store
        .list_keys(&k.org_id, Some(k.environment), status, now, page)
        .await?;
    Ok(Json(KeyList {
        data: keys.iter().map(|r| r.to_wire(now)).collect(),
        pagination: page.describe(total),
    }))
}

/// Creates a key in the caller's environment; the response holds its secret, once.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", operation_id = "createKey", request_body = CreateKey,
    responses((status = 201, description = "The new key, with `secret` (shown once).", body = CreatedKey)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<Response, ApiError> {
    validate_name(&body.name)?;
    let scope = Scope::parse(&body.scope)
        .ok_or_else(|| ApiError::invalid("scope", "scope must be read, write or admin"))?;
    if body.expires_at.is_some_and(|t| t <= Timestamp::now()) {
        return Err(ApiError::invalid(
            "expiresAt",
            "expiresAt must be in the future",
        ));
    }
    let allowed_ips = keys::parse_allowed_ips(body.allowed_ips.as_deref().unwrap_or_default())?;
    let k = &caller.auth.key;
    let spec = KeySpec {
        org_id: k.org_id.clone(),
        environment: k.environment,
        scope,
        name: body.name.trim().to_owned(),
        expires_at: body.expires_at,
        allowed_ips,
        rotated_from: None,
    };
    let (rec, secret) = app
        .services
        .issue_key(&app.pepper, spec, &caller.actor())
        .await?;
    let mut res = (StatusCode::CREATED, Json(keys::created(&rec, &secret))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/keys/{}", rec.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Fetches one key.
#[utoipa::path(get, path = "/api/v1/keys/{id}", tag = "keys", operation_id = "getKey",
    params(("id" = String, Path, description = "The key's id (`key_…`).", example = "key_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The key.", body = ApiKey)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    let id = key_id(&id)?;
    let k = &caller.auth.key;
    let rec = app
        .store
        .get_key(&k.org_id, k.environment, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(rec.to_wire(Timestamp::now())))
}

/// Renames a key or replaces its IP allow-list.
#[utoipa::path(patch, path = "/api/v1/keys/{id}", tag = "keys", operation_id = "updateKey", request_body = UpdateKey,
    params(("id" = String, Path, description = "The key's id (`key_…`).", example = "key_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The updated key.", body = ApiKey)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateKey>,
) -> Result<Json<ApiKey>, ApiError> {
    let id = key_id(&id)?;
    if let Some(n) = &body.name {
        validate_name(n)?;
    }
    let ips = body
        .allowed_ips
        .as_deref()
        .map(keys::parse_allowed_ips)
        .transpose()?;
    let k = &caller.auth.key;
    let name = body.name.as_deref().map(str::trim);
    let rec = app
        .services
        .update_key(
            &k.org_id,
            k.environment,
            &id,
            name,
            ips.as_deref(),
            &caller.actor(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(rec.to_wire(Timestamp::now())))
}

/// Rotates a key: a new key now, the old one valid until the end of the grace period.
#[utoipa::path(post, path = "/api/v1/keys/{id}/rotate", tag = "keys", operation_id = "rotateKey", request_body(content = Option<RotateKey>, description = "Optional; defaults to a 24 h grace period."),
    params(("id" = String, Path, description = "The key's id (`key_…`).", example = "key_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses(
        (status = 201, description = "The new key (with `secret`, once) and the old key's deadline.", body = RotatedKey),
        (status = 409, description = "The key is revoked or expired.", body = synaptiq_types::ErrorBody),
    ))]
pub async fn rotate(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RotateKey>,
) -> Result<Response, ApiError> {
    let id = key_id(&id)?;
    let grace = body.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECS);
    if !(0..=MAX_GRACE_SECS).contains(&grace) {
        return Err(ApiError::invalid(
            "gracePeriodSeconds",
            "gracePeriodSeconds must be between 0 and 604800 (7 days)",
        ));
    }
    let k = &caller.auth.key;
    let (old, new, secret) = app
        .services
        .rotate_key(
            &app.pepper,
            &k.org_id,
            k.environment,
            &id,
            grace,
            &caller.actor(),
        )
        .await?;
    let now = Timestamp::now();
    let body = RotatedKey {
        new_key: keys::created(&new, &secret),
        old_key: old.to_wire(now),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Revokes a key at once ("Revoke Old Key"). Revoking a revoked key changes nothing.
#[utoipa::path(post, path = "/api/v1/keys/{id}/revoke", tag = "keys", operation_id = "revokeKey",
    params(("id" = String, Path, description = "The key's id (`key_…`).", example = "key_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The revoked key.", body = ApiKey)))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    let id = key_id(&id)?;
    let k = &caller.auth.key;
    let rec = app
        .services
        .revoke_key(&k.org_id, k.environment, &id, &caller.actor())
        .await?
        .ok_or_else(|| ApiError::not_found("key"))?;
    Ok(Json(rec.to_wire(Timestamp::now())))
}

/// Deletes a key: it stops working at once and leaves every list.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys", operation_id = "deleteKey",
    params(("id" = String, Path, description = "The key's id (`key_…`).", example = "key_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = key_id(&id)?;
    let k = &caller.auth.key;
    if !app
        .services
        .delete_key(&k.org_id, k.environment, &id, &caller.actor())
        .await?
    {
        return Err(ApiError::not_found("key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Key management, for admin keys.
pub const RESOURCE: Resource = Resource {
    routes: || {
        use Method as M;
        let admin = Access::Scope(Scope::Admin);
        vec![
            route(M::GET, "/api/v1/keys", admin, list),
            route(M::POST, "/api/v1/keys", admin, create),
            route(M::GET, "/api/v1/keys/{id}", admin, get),
            route(M::PATCH, "/api/v1/keys/{id}", admin, update),
            route(M::DELETE, "/api/v1/keys/{id}", admin, delete),
            route(M::POST, "/api/v1/keys/{id}/rotate", admin, rotate),
            route(M::POST, "/api/v1/keys/{id}/revoke", admin, revoke),
        ]
    },
    openapi: Api::openapi,
    doc_rules: || {
        let link = crate::openapi::DocRules::link;
        crate::openapi::DocRules {
            schema_constraints: synaptiq_types::keys::schema_constraints(),
            ids: vec![("/api/v1/keys/{id}", synaptiq_core::ids::KeyId::PATTERN)],
            links: vec![
                (
                    "/api/v1/keys",
                    "post",
                    "201",
                    serde_json::json!({
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
                    serde_json::json!({
                        "GetNewKey": link("getKey", "/newKey/id"),
                        "RevokeOldKey": link("revokeKey", "/oldKey/id"),
                        "DeleteNewKey": link("deleteKey", "/newKey/id"),
                    }),
                ),
            ],
            ..Default::default()
        }
    },
};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, rotate, revoke),
    components(schemas(synaptiq_types::keys::KeyStatusFilter))
)]
struct Api;
