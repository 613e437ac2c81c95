//! Webhook endpoints (admin scope): create, list, get, update, delete, rotate the secret, and
//! the event catalogue. An endpoint belongs to the caller's organization and environment and
//! receives that environment's events only. Deliveries are in `webhook_deliveries`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use synaptiq_app::webhooks::{DEFAULT_GRACE_SECS, event_types};
use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_core::scope::Scope;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::{
    CreateWebhookEndpoint, CreatedWebhookEndpoint, EventTypeList, RotateWebhookSecret,
    RotatedWebhookSecret, UpdateWebhookEndpoint, WebhookEndpoint, WebhookEndpointList,
    WebhookListQuery,
};
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, Query};
use crate::stack::Caller;

/// The endpoint id in a path; a malformed one is simply not found.
pub(crate) fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    WebhookEndpointId::parse(raw).map_err(|_| ApiError::not_found("webhook endpoint"))
}

/// Lists the environment's endpoints, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks", params(WebhookListQuery),
    responses((status = 200, description = "A page of endpoints (never secrets).", body = WebhookEndpointList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<WebhookListQuery>,
) -> Result<Json<WebhookEndpointList>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let k = &caller.auth.key;
    let (list, total) = app
        .store
        .list_endpoints(&k.org_id, k.environment, page)
        .await?;
    let now = Timestamp::now();
    Ok(Json(WebhookEndpointList {
        data: list.iter().map(|e| e.to_wire(now)).collect(),
        pagination: page.describe(total),
    }))
}

/// Adds an endpoint; the response holds its signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "createWebhook", request_body = CreateWebhookEndpoint,
    responses((status = 201, description = "The endpoint, with `secret` (shown once).", body = CreatedWebhookEndpoint)))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateWebhookEndpoint>,
) -> Result<Response, ApiError> {
    let k = &caller.auth.key;
    let (rec, secret) = app
        .services
        .create_endpoint(&k.org_id, k.environment, &body)
        .await?;
    let created = CreatedWebhookEndpoint {
        endpoint: rec.to_wire(Timestamp::now()),
        secret: secret.encoded(),
    };
    let mut res = (StatusCode::CREATED, Json(created)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/webhooks/{}", rec.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// One endpoint, with its health.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The endpoint.", body = WebhookEndpoint)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let id = endpoint_id(&id)?;
    let k = &caller.auth.key;
    let rec = app
        .store
        .get_endpoint(&k.org_id, k.environment, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok(Json(rec.to_wire(Timestamp::now())))
}

/// Changes the URL, the events, the description, or enables/disables the endpoint.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook", request_body = UpdateWebhookEndpoint,
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The updated endpoint.", body = WebhookEndpoint)))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateWebhookEndpoint>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let id = endpoint_id(&id)?;
    let k = &caller.auth.key;
    let rec = app
        .services
        .update_endpoint(&k.org_id, k.environment, &id, &body)
        .await?;
    Ok(Json(rec.to_wire(Timestamp::now())))
}

/// Deletes an endpoint and its delivery log; deliveries in flight may still arrive once.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = endpoint_id(&id)?;
    let k = &caller.auth.key;
    if !app
        .store
        .delete_endpoint(&k.org_id, k.environment, &id)
        .await?
    {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the old one keeps signing too until the grace period ends.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    request_body(content = Option<RotateWebhookSecret>, description = "Optional; defaults to a 24 h grace period."),
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The endpoint and its new `secret` (shown once).", body = RotatedWebhookSecret)))]
pub async fn rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RotateWebhookSecret>,
) -> Result<Json<RotatedWebhookSecret>, ApiError> {
    let id = endpoint_id(&id)?;
    let grace = body.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECS);
    let k = &caller.auth.key;
    let (rec, secret) = app
        .services
        .rotate_endpoint_secret(&k.org_id, k.environment, &id, grace)
        .await?;
    Ok(Json(RotatedWebhookSecret {
        endpoint: rec.to_wire(Timestamp::now()),
        secret: secret.encoded(),
    }))
}

/// Every event type an endpoint may subscribe to, with an example envelope.
#[utoipa::path(get, path = "/api/v1/webhooks/event-types", tag = "webhooks", operation_id = "listWebhookEventTypes",
    responses((status = 200, description = "The catalogue.", body = EventTypeList)))]
pub async fn types() -> Json<EventTypeList> {
    Json(event_types())
}

/// Webhook endpoints, for admin keys.
pub const RESOURCE: Resource = Resource {
    routes: || {
        use Method as M;
        let admin = Access::Scope(Scope::Admin);
        vec![
            route(M::GET, "/api/v1/webhooks", admin, list),
            route(M::POST, "/api/v1/webhooks", admin, create),
            route(M::GET, "/api/v1/webhooks/event-types", admin, types),
            route(M::GET, "/api/v1/webhooks/{id}", admin, get),
            route(M::PATCH, "/api/v1/webhooks/{id}", admin, update),
            route(M::DELETE, "/api/v1/webhooks/{id}", admin, delete),
            route(
                M::POST,
                "/api/v1/webhooks/{id}/rotate-secret",
                admin,
                rotate_secret,
            ),
        ]
    },
    openapi: Api::openapi,
    doc_rules: || {
        let link = crate::openapi::DocRules::link;
        crate::openapi::DocRules {
            schema_constraints: synaptiq_types::webhooks::schema_constraints(),
            ids: vec![("/api/v1/webhooks/{id}", WebhookEndpointId::PATTERN)],
            links: vec![(
                "/api/v1/webhooks",
                "post",
                "201",
                serde_json::json!({
                    "GetWebhook": link("getWebhook", "/id"),
                    "UpdateWebhook": link("updateWebhook", "/id"),
                    "DeleteWebhook": link("deleteWebhook", "/id"),
                    "ListWebhookDeliveries": link("listWebhookDeliveries", "/id"),
                    "RotateWebhookSecret": link("rotateWebhookSecret", "/id"),
                    "TestWebhook": link("testWebhook", "/id"),
                    "RecoverWebhook": link("recoverWebhook", "/id"),
                }),
            )],
            ..Default::default()
        }
    },
};

#[derive(OpenApi)]
#[openapi(paths(list, create, types, get, update, delete, rotate_secret))]
struct Api;
