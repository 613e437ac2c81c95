//! The audit log (admin scope), for the caller's organization and environment.

use axum::Json;
use axum::extract::State;
use synaptiq_core::ids::KeyId;
use synaptiq_store::{AuditFilter, EventRecord};
use synaptiq_types::audit::{AuditEventList, AuditQuery};
use synaptiq_types::pagination::PageRequest;

use axum::http::Method;
use synaptiq_core::scope::Scope;
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::Query;
use crate::stack::Caller;

/// Lists audit events, newest first.
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", operation_id = "listAuditEvents", params(AuditQuery),
    responses((status = 200, description = "A page of audit events.", body = AuditEventList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditEventList>, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let key_id = q
        .key_id
        .as_deref()
        .map(|s| {
            KeyId::parse(s)
                .map_err(|_| ApiError::invalid("keyId", "keyId must be a key id (key_…)"))
        })
        .transpose()?;
    if let Some(kind) = &q.kind {
        synaptiq_types::validate::no_nul("type", kind)?;
    }
    let filter = AuditFilter {
        key_id,
        kind: q.kind,
        since: q.since,
        until: q.until,
    };
    let k = &caller.auth.key;
    let (data, total) = app
        .store
        .list_audit(&k.org_id, k.environment, &filter, page)
        .await?;
    Ok(Json(AuditEventList {
        data: data.into_iter().map(EventRecord::into_wire).collect(),
        pagination: page.describe(total),
    }))
}

/// The audit log, for admin keys.
pub const RESOURCE: Resource = Resource {
    routes: || {
        vec![route(
            Method::GET,
            "/api/v1/audit-events",
            Access::Scope(Scope::Admin),
            list,
        )]
    },
    openapi: Api::openapi,
    doc_rules: || crate::openapi::DocRules {
        query_constraints: synaptiq_types::audit::query_constraints(),
        ..Default::default()
    },
};

#[derive(OpenApi)]
#[openapi(paths(list))]
struct Api;
