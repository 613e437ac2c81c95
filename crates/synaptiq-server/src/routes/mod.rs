//! Every route of the server, each with the access it requires.
//!
//! Each resource module exports a [`Resource`]: its routes, each declaring its access, and
//! its OpenAPI operations, side by side. The table ([`table`]) is their concatenation in
//! [`RESOURCES`] order; the router is built from it, and so are the authorization matrix
//! test and the comparison with the OpenAPI document: a route cannot exist without
//! declaring its access. Dashboard pages (HTML, `in_openapi: false`) are rows too, with
//! `Access::Session`.

pub mod audit;
pub mod health;
pub mod keys;
pub mod leads;
pub mod me;
pub mod webhook_deliveries;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use synaptiq_core::scope::Scope;
use synaptiq_store::Role;

use crate::app::AppState;

/// What a route requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key (health, OpenAPI, documentation).
    Public,
    /// Any valid key, whatever its scope (`GET /api/v1/me`).
    AnyKey,
    /// A valid key with at least this scope.
    Scope(Scope),
    /// A signed-in dashboard user (session cookie) with at least this role. API keys are
    /// never accepted here, and the API never accepts the session cookie.
    Session {
        /// The least role allowed.
        min_role: Role,
    },
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteDef {
    /// HTTP method (HEAD is served by GET routes).
    pub method: Method,
    /// Path template in axum syntax (`/api/v1/leads/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    /// Required access.
    pub access: Access,
    /// Whether the OpenAPI document describes it (documentation pages are not API operations).
    pub in_openapi: bool,
    /// Whether its answer is streamed (server-sent events): its body keeps the key's
    /// concurrency slot until its last byte and ends after the stream idle timeout, instead
    /// of living under the request timeout (see `streaming`).
    pub streaming: bool,
}

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// A route's handler (with its guard) callable without the router.
pub type Direct =
    Arc<dyn Fn(Request, AppState) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

fn direct<H, T>(handler: H) -> Direct
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Arc::new(move |req, state| Box::pin(handler.clone().call(req, state)))
}

/// One table row: the method is declared once and drives both the router and the checks.
pub fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    build(RouteDef::api(method, path, access, false), handler)
}

/// A row whose answer is streamed ([`RouteDef::streaming`]).
pub fn streaming_route<H, T>(
    method: Method,
    path: &'static str,
    access: Access,
    handler: H,
) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    build(RouteDef::api(method, path, access, true), handler)
}

impl RouteDef {
    /// An API operation (in the OpenAPI document).
    fn api(method: Method, path: &'static str, access: Access, streaming: bool) -> Self {
        Self {
            method,
            path,
            access,
            in_openapi: true,
            streaming,
        }
    }
}

fn build<H, T>(def: RouteDef, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let path = def.path;
    // API operations on static paths can be dispatched by the stack itself (`stack::Stack`).
    let fixed = !path.contains('{');
    let (router, direct) = match def.access {
        Access::AnyKey | Access::Scope(_) => {
            let guarded = crate::guard::Guarded::new(handler, def.clone());
            let d = fixed.then(|| direct(guarded.clone()));
            (on(filter(&def.method), guarded), d)
        }
        Access::Public => {
            let d = fixed.then(|| direct(handler.clone()));
            (on(filter(&def.method), handler), d)
        }
        Access::Session { .. } => (on(filter(&def.method), handler), None),
    };
    Route {
        def,
        router,
        direct,
        layer: None,
    }
}

/// A table row that is not an API operation (documentation pages).
pub fn page<H, T>(path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    unlisted(Method::GET, path, Access::Public, handler)
}

/// A table row the OpenAPI document does not describe (documentation, dashboard).
pub fn unlisted<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let Route { def, router, .. } = route(method, path, access, handler);
    Route {
        def: RouteDef {
            in_openapi: false,
            ..def
        },
        router,
        // Pages (documentation, dashboard) always go through the router and its layers.
        direct: None,
        layer: None,
    }
}

/// What a route's owner wraps around it when the router is built, given the state: the
/// dashboard's session guard and browser headers. Runs as a `route_layer`, so a method the
/// route lacks still gets 405.
pub type Layer = fn(MethodRouter<AppState>, &AppState, &RouteDef) -> MethodRouter<AppState>;

/// A route and its handler.
pub struct Route {
    /// What the route is.
    pub def: RouteDef,
    /// Its axum method router.
    pub router: MethodRouter<AppState>,
    /// For API operations on static paths: the handler with its guard, for the stack's
    /// exact-match dispatch.
    pub direct: Option<Direct>,
    /// Its owner's layer, if any. An `Access::Session` route is served only through one
    /// (without, the router answers it with an error, never unguarded).
    pub layer: Option<Layer>,
}

impl Route {
    /// This route with `layer` around it (see [`Layer`]).
    pub fn with_layer(self, layer: Layer) -> Self {
        Self {
            layer: Some(layer),
            ..self
        }
    }
}

/// What a resource module registers: its routes and the OpenAPI operations that describe
/// them (the document and the router are checked against each other).
pub struct Resource {
    /// The module's routes, each with its access.
    pub routes: fn() -> Vec<Route>,
    /// The module's operations (`#[utoipa::path]` handlers), as an OpenAPI fragment.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// What its part of the document needs beyond the derive: constraints, id patterns,
    /// links ([`crate::openapi::DocRules`]).
    pub doc_rules: fn() -> crate::openapi::DocRules,
}

impl Resource {
    /// For modules whose routes are not API operations.
    pub fn no_operations() -> utoipa::openapi::OpenApi {
        utoipa::openapi::OpenApi::default()
    }
}

/// The API's resources, in the order of the server's map. A new resource adds one line.
pub const RESOURCES: &[Resource] = &[
    health::RESOURCE,
    crate::openapi::RESOURCE,
    crate::docs::RESOURCE,
    me::RESOURCE,
    leads::RESOURCE,
    keys::RESOURCE,
    audit::RESOURCE,
    webhooks::RESOURCE,
    webhook_deliveries::RESOURCE,
];

/// The table: every resource's routes. Read it as the server's map. (The dashboard's pages
/// come from `synaptiq-dashboard`, added by the binary: `stack::router_with`.)
pub fn table() -> Vec<Route> {
    RESOURCES.iter().flat_map(|r| (r.routes)()).collect()
}

/// Every resource's OpenAPI fragment.
pub fn operations() -> impl Iterator<Item = utoipa::openapi::OpenApi> {
    RESOURCES.iter().map(|r| (r.openapi)())
}

/// Every resource's document rules, in the order of [`RESOURCES`].
pub fn doc_rules() -> crate::openapi::DocRules {
    let mut all = crate::openapi::DocRules::default();
    for r in RESOURCES {
        all.extend((r.doc_rules)());
    }
    all
}

/// The scope the spec's rule gives a route: by method, raised to admin for key management,
/// webhooks and the audit log. The table must agree (a test checks it).
pub fn rule_scope(method: &Method, path: &str) -> Scope {
    let admin_paths = ["/api/v1/keys", "/api/v1/webhooks", "/api/v1/audit-events"];
    if admin_paths
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        Scope::Admin
    } else {
        Scope::for_method(method.as_str())
    }
}
