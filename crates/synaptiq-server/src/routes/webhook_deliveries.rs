//! An endpoint's deliveries (admin scope): the log, redelivery of one, recovery of the failed
//! ones since a time, and a test delivery. A delivery is one event to one endpoint, so it is
//! addressed by the event's id (`evt_…`, the `webhook-id` the receiver saw).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use synaptiq_core::ids::EventId;
use synaptiq_core::scope::Scope;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::webhooks::{
    DeliveryListQuery, RecoverWebhook, RecoveredDeliveries, WebhookDelivery, WebhookDeliveryList,
};
use utoipa::OpenApi;

use super::webhooks::endpoint_id;
use super::{Access, Resource, route};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::stack::Caller;

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC"), DeliveryListQuery),
    responses((status = 200, description = "A page of deliveries with each one's last attempt.", body = WebhookDeliveryList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DeliveryListQuery>,
) -> Result<Json<WebhookDeliveryList>, ApiError> {
    let id = endpoint_id(&id)?;
    let page = PageRequest::new(q.page, q.limit)?;
    let k = &caller.auth.key;
    let (list, total) = app
        .store
        .list_deliveries(&k.org_id, k.environment, &id, q.status, page)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok(Json(WebhookDeliveryList {
        data: list.into_iter().map(|d| d.into_wire()).collect(),
        pagination: page.describe(total),
    }))
}

/// Sends one delivery again now; its retry schedule starts afresh.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", tag = "webhooks", operation_id = "redeliverWebhook",
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC"),
           ("deliveryId" = String, Path, description = "The delivery's event id (`evt_…`).", example = "evt_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses(
        (status = 202, description = "Scheduled: the delivery, due now.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is disabled.", body = synaptiq_types::ErrorBody),
    ))]
pub async fn redeliver(
    State(app): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = endpoint_id(&id)?;
    let event = EventId::parse(&delivery).map_err(|_| ApiError::not_found("webhook delivery"))?;
    let k = &caller.auth.key;
    let d = app
        .services
        .redeliver(&k.org_id, k.environment, &id, &event)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d.into_wire())).into_response())
}

/// Sends again every failed delivery of events since `since` (at most 14 days back).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/recover", tag = "webhooks", operation_id = "recoverWebhook", request_body = RecoverWebhook,
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses(
        (status = 202, description = "How many failed deliveries were scheduled again.", body = RecoveredDeliveries),
        (status = 409, description = "The endpoint is disabled.", body = synaptiq_types::ErrorBody),
    ))]
pub async fn recover(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecoverWebhook>,
) -> Result<Response, ApiError> {
    let id = endpoint_id(&id)?;
    let k = &caller.auth.key;
    let recovered = app
        .services
        .recover_deliveries(&k.org_id, k.environment, &id, body.since)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RecoveredDeliveries { recovered }),
    )
        .into_response())
}

/// Sends the endpoint a signed `webhook.test` now, whatever it subscribes to.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", operation_id = "testWebhook",
    params(("id" = String, Path, description = "The endpoint's id (`whep_…`).", example = "whep_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses(
        (status = 202, description = "The test delivery, due now; see its outcome in the delivery log.", body = WebhookDelivery),
        (status = 409, description = "The endpoint is disabled.", body = synaptiq_types::ErrorBody),
    ))]
pub async fn test(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = endpoint_id(&id)?;
    let k = &caller.auth.key;
    let d = app
        .services
        .send_test_delivery(&k.org_id, k.environment, &id, &caller.actor())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d.into_wire())).into_response())
}

/// Webhook deliveries, for admin keys.
pub const RESOURCE: Resource = Resource {
    routes: || {
        use Method as M;
        let admin = Access::Scope(Scope::Admin);
        vec![
            route(M::GET, "/api/v1/webhooks/{id}/deliveries", admin, list),
            route(
                M::POST,
                "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
                admin,
                redeliver,
            ),
            route(M::POST, "/api/v1/webhooks/{id}/recover", admin, recover),
            route(M::POST, "/api/v1/webhooks/{id}/test", admin, test),
        ]
    },
    openapi: Api::openapi,
    doc_rules: crate::openapi::DocRules::default,
};

#[derive(OpenApi)]
#[openapi(
    paths(list, redeliver, recover, test),
    components(schemas(synaptiq_types::webhooks::DeliveryStatus))
)]
struct Api;
