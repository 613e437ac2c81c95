//! `GET /healthz` (the process answers) and `GET /readyz` (storage answers too).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use axum::http::Method;
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::app::AppState;

/// Health status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Health {
    /// `ok`, `ready`, `degraded` (serving, but rate limits are per-process because Redis is
    /// unreachable) or `unavailable`.
    pub status: &'static str,
    /// `global` (Redis), `local` (one process) or `degraded` (Redis configured, unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<&'static str>,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz", security(()),
    responses((status = 200, description = "The process is up.", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        rate_limits: None,
    })
}

/// Readiness: storage answers within two seconds.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz", security(()),
    responses(
        (status = 200, description = "Ready to serve.", body = Health),
        (status = 503, description = "Storage is unreachable.", body = Health),
    ))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => {
            let (status, rate_limits) = match (app.limiter.is_global(), app.limiter.degraded()) {
                (true, true) => ("degraded", "degraded"),
                (true, false) => ("ready", "global"),
                (false, _) => ("ready", "local"),
            };
            Json(Health {
                status,
                rate_limits: Some(rate_limits),
            })
            .into_response()
        }
        _ => {
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    rate_limits: None,
                }),
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            res
        }
    }
}

/// Liveness and readiness, open to all.
pub const RESOURCE: Resource = Resource {
    routes: || {
        vec![
            route(Method::GET, "/healthz", Access::Public, healthz),
            route(Method::GET, "/readyz", Access::Public, readyz),
        ]
    },
    openapi: Api::openapi,
    doc_rules: crate::openapi::DocRules::default,
};

#[derive(OpenApi)]
#[openapi(paths(healthz, readyz))]
struct Api;
