//! The Leads resource. Every call is scoped to the caller's organization and environment.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use synaptiq_core::ids::LeadId;
use synaptiq_store::LeadRecord;
use synaptiq_types::leads::{
    CreateLead, Lead, LeadList, LeadListQuery, LeadSearchQuery, UpdateLead,
};
use synaptiq_types::pagination::PageRequest;

use axum::http::Method;
use synaptiq_core::scope::Scope;
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::page_cache::{self, json_response};
use crate::stack::Caller;

/// A lead id from the path; anything malformed is simply not found.
fn lead_id(raw: &str) -> Result<LeadId, ApiError> {
    LeadId::parse(raw).map_err(|_| ApiError::not_found("lead"))
}

/// Renders a list answer, or reuses the one rendered for the same `key` at the current lead
/// version (see `page_cache`).
async fn cached_page<F>(
    app: &AppState,
    caller: &Caller,
    key: String,
    render: F,
) -> Result<Response, ApiError>
where
    F: Future<Output = Result<LeadList, ApiError>>,
{
    let k = &caller.auth.key;
    if !app.pages.enabled() {
        return Ok(json_response(render_body(render.await?)?));
    }
    // Read before rendering: a page is labelled with a version no newer than its content.
    // Where the store can read without waiting (SQLite), that is cheaper than any sharing.
    let version = match app.store.lead_version_now(&k.org_id, k.environment) {
        Some(v) => v,
        None => {
            let scope = format!("{}|{}", k.org_id, k.environment.as_str());
            app.pages
                .versions
                .read(&scope, || app.store.lead_version(&k.org_id, k.environment))
                .await?
        }
    };
    if let Some(body) = app.pages.get(&key, version) {
        return Ok(json_response(body));
    }
    let body = render_body(render.await?)?;
    app.pages.put(key, version, body.clone());
    Ok(json_response(body))
}

fn render_body(list: LeadList) -> Result<Bytes, ApiError> {
    serde_json::to_vec(&list)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("lead list: {e}")))
}

/// Lists leads, filtered and sorted.
#[utoipa::path(get, path = "/api/v1/leads", tag = "leads", operation_id = "listLeads", params(LeadListQuery),
    responses((status = 200, description = "A page of leads.", body = LeadList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<LeadListQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let k = &caller.auth.key;
    let key = page_cache::key_for("list", &k.org_id, k.environment, &q);
    cached_page(&app, &caller, key, async {
        let (data, total) = app
            .store
            .list_leads(&k.org_id, k.environment, &q, page)
            .await?;
        Ok(LeadList {
            data: data.into_iter().map(LeadRecord::into_wire).collect(),
            pagination: page.describe(total),
        })
    })
    .await
}

/// Searches leads by name, email or company.
#[utoipa::path(get, path = "/api/v1/leads/search", tag = "leads", operation_id = "searchLeads", params(LeadSearchQuery),
    responses((status = 200, description = "Matching leads, best first.", body = LeadList)))]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<LeadSearchQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::new(q.page, q.limit)?;
    let needle = q.needle()?;
    let k = &caller.auth.key;
    let key = page_cache::key_for("search", &k.org_id, k.environment, &q);
    cached_page(&app, &caller, key, async {
        let (data, total) = app
            .store
            .search_leads(&k.org_id, k.environment, needle, page)
            .await?;
        Ok(LeadList {
            data: data.into_iter().map(LeadRecord::into_wire).collect(),
            pagination: page.describe(total),
        })
    })
    .await
}

/// Fetches one lead.
#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "getLead",
    params(("id" = String, Path, description = "The lead's id (`lead_…`).", example = "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 200, description = "The lead.", body = Lead)))]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Lead>, ApiError> {
    let id = lead_id(&id)?;
    let k = &caller.auth.key;
    let lead = app.store.get_lead(&k.org_id, k.environment, &id).await?;
    lead.map(|l| Json(l.into_wire()))
        .ok_or_else(|| ApiError::not_found("lead"))
}

/// Creates a lead.
#[utoipa::path(post, path = "/api/v1/leads", tag = "leads", operation_id = "createLead", request_body = CreateLead,
    responses(
        (status = 201, description = "The new lead.", body = Lead,
         headers(("Location" = String, description = "The lead's URL."))),
        (status = 409, description = "A lead with this email exists (`param: email`).", body = synaptiq_types::ErrorBody),
    ))]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateLead>,
) -> Result<Response, ApiError> {
    body.validate()?;
    let k = &caller.auth.key;
    let lead = app
        .services
        .create_lead(&k.org_id, k.environment, &body, &caller.actor())
        .await?;
    let mut res = (StatusCode::CREATED, Json(&lead)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/leads/{}", lead.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Updates some fields of a lead.
#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "updateLead", request_body = UpdateLead,
    params(("id" = String, Path, description = "The lead's id (`lead_…`).", example = "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses(
        (status = 200, description = "The updated lead.", body = Lead),
        (status = 409, description = "Another lead has this email (`param: email`).", body = synaptiq_types::ErrorBody),
    ))]
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateLead>,
) -> Result<Json<Lead>, ApiError> {
    let id = lead_id(&id)?;
    body.validate()?;
    let k = &caller.auth.key;
    let lead = app
        .services
        .update_lead(&k.org_id, k.environment, &id, &body, &caller.actor())
        .await?;
    lead.map(Json).ok_or_else(|| ApiError::not_found("lead"))
}

/// Deletes a lead.
#[utoipa::path(delete, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "deleteLead",
    params(("id" = String, Path, description = "The lead's id (`lead_…`).", example = "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC")),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = lead_id(&id)?;
    let k = &caller.auth.key;
    if app
        .services
        .delete_lead(&k.org_id, k.environment, &id, &caller.actor())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("lead"))
    }
}

/// Leads: read keys read, write keys create and change, admin keys delete.
pub const RESOURCE: Resource = Resource {
    routes: || {
        use Access::Scope as Needs;
        use Method as M;
        use Scope::{Admin, Read, Write};
        vec![
            route(M::GET, "/api/v1/leads", Needs(Read), list),
            route(M::POST, "/api/v1/leads", Needs(Write), create),
            route(M::GET, "/api/v1/leads/search", Needs(Read), search),
            route(M::GET, "/api/v1/leads/{id}", Needs(Read), get),
            route(M::PATCH, "/api/v1/leads/{id}", Needs(Write), update),
            route(M::DELETE, "/api/v1/leads/{id}", Needs(Admin), delete),
        ]
    },
    openapi: Api::openapi,
    doc_rules: || {
        let link = crate::openapi::DocRules::link;
        crate::openapi::DocRules {
            schema_constraints: synaptiq_types::leads::schema_constraints(),
            query_constraints: synaptiq_types::leads::query_constraints(),
            ids: vec![("/api/v1/leads/{id}", LeadId::PATTERN)],
            links: vec![(
                "/api/v1/leads",
                "post",
                "201",
                serde_json::json!({
                    "GetLead": link("getLead", "/id"),
                    "UpdateLead": link("updateLead", "/id"),
                    "DeleteLead": link("deleteLead", "/id"),
                }),
            )],
        }
    },
};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, search, get, update, delete),
    components(schemas(
        synaptiq_types::leads::LeadStatus,
        synaptiq_types::leads::LeadSource,
        synaptiq_types::leads::LeadSortBy,
        synaptiq_types::leads::SortOrder,
    ))
)]
struct Api;
