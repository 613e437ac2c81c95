//! The web dashboard at `/dashboard`: server-rendered pages (askama templates in
//! `templates/`), sessions for dashboard users, CSRF protection and SVG charts.
//!
//! # Layout
//! - [`session`]: the session cookie, the server-side session table, and the guard that every
//!   `Access::Session` route runs (session → CSRF on POST → role).
//! - [`csrf`]: the Origin / `Sec-Fetch-Site` check and the synchronizer tokens.
//! - [`login`]: sign-in (throttled per account and per IP) and sign-out.
//! - [`keys`], [`rotate`]: the keys page; create, rotate, revoke (through `synaptiq_app::keys`).
//! - [`webhooks`], [`webhook_actions`], [`webhook_deliveries`] + [`webhook_view`]: webhook
//!   endpoints; add (secret shown once), test, rotate the secret, disable, delete, and each
//!   endpoint's deliveries with Redeliver (through `synaptiq_app::webhooks`).
//! - [`usage`] + [`charts`]: requests per key over time as inline SVG, and rate-limit state.
//! - [`audit`], [`org`]: the audit log and the organization page.
//! - [`view`]: formatting shared by the pages. [`assets`]: the CSS, JS and icon.
//!
//! Every page works without JavaScript; the script only adds a copy button and live
//! countdowns. API keys are never accepted here, and the session cookie is never accepted by
//! the API (the API guard reads only `Authorization`).

pub mod assets;
pub mod audit;
pub mod charts;
pub mod csrf;
pub mod keys;
pub mod login;
pub mod org;
pub mod rotate;
pub mod session;
pub mod usage;
pub mod view;
pub mod webhook_actions;
pub mod webhook_deliveries;
pub mod webhook_view;
pub mod webhooks;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use synaptiq_core::scope::Environment;
use synaptiq_store::{Role, StoreError};

pub use session::DashUser;

use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::MethodRouter;
use synaptiq_server::AppState;
use synaptiq_server::routes::{Access, Route, RouteDef, page, unlisted};

/// Content-Security-Policy of every dashboard response: our own CSS and JS only, no inline
/// script or style, no framing, forms post only to us.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the browser-facing security headers to every dashboard response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Role order: a route requiring `min` admits `role` when `role` ranks at least as high.
pub fn role_allows(role: Role, min: Role) -> bool {
    fn rank(r: Role) -> u8 {
        match r {
            Role::Viewer => 0,
            Role::Admin => 1,
            Role::Owner => 2,
        }
    }
    rank(role) >= rank(min)
}

/// The frame around every signed-in page: who is signed in, where they are, and the token
/// their forms carry.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The signed-in user's email.
    pub email: String,
    /// Their role, as shown.
    pub role: &'static str,
    /// Whether they may change things (admin or owner).
    pub can_edit: bool,
    /// Their organization's name.
    pub org_name: String,
    /// The CSRF token for this session's forms.
    pub csrf: String,
    /// The navigation entry of this page (`keys`, `webhooks`, `usage`, `audit`, `org`).
    pub active: &'static str,
    /// The environment shown (live or test), for the navigation links.
    pub env: &'static str,
}

impl Chrome {
    /// The chrome of `active` for `user`, showing `env`.
    pub fn new(user: &DashUser, active: &'static str, env: Environment) -> Self {
        Self {
            email: user.user.email.clone(),
            role: user.user.role.as_str(),
            can_edit: role_allows(user.user.role, Role::Admin),
            org_name: user.org_name.clone(),
            csrf: user.csrf.clone(),
            active,
            env: env.as_str(),
        }
    }
}

/// The environment a page shows: `?env=test` or live by default.
pub fn env_param(raw: Option<&str>) -> Environment {
    raw.and_then(Environment::parse)
        .unwrap_or(Environment::Live)
}

/// Parses a query string leniently: unknown or malformed parameters fall back to defaults
/// (a dashboard link with a typo shows the default view rather than an error).
pub fn query<T: serde::de::DeserializeOwned + Default>(uri: &axum::http::Uri) -> T {
    serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default()
}

/// A dashboard failure, rendered as an HTML page (never with internal details).
#[derive(Debug)]
pub enum DashError {
    /// The object does not exist in this organization and environment.
    NotFound(&'static str),
    /// The request cannot be done as asked (explained to the user).
    Invalid(String),
    /// The user's role does not allow this.
    Forbidden(String),
    /// The request failed a CSRF check.
    CrossSite,
    /// Storage is unreachable: try again.
    Unavailable,
    /// A bug; logged once.
    Internal(String),
}

impl From<synaptiq_types::FieldError> for DashError {
    /// A request the dashboard built itself was refused: a bug, not the user's input.
    fn from(e: synaptiq_types::FieldError) -> Self {
        DashError::Internal(e.message)
    }
}

impl From<StoreError> for DashError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => DashError::Unavailable,
            other => DashError::Internal(other.to_string()),
        }
    }
}

/// The error page.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// Heading.
    pub title: String,
    /// Explanation.
    pub message: String,
    /// The request id, to quote to an operator.
    pub request_id: String,
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            DashError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "Not found".to_owned(),
                format!("This {what} does not exist in this organization and environment."),
            ),
            DashError::Invalid(why) => {
                (StatusCode::BAD_REQUEST, "That didn't work".to_owned(), why)
            }
            DashError::Forbidden(why) => {
                (StatusCode::FORBIDDEN, "You can't do that".to_owned(), why)
            }
            DashError::CrossSite => (
                StatusCode::FORBIDDEN,
                "Request refused".to_owned(),
                "This form was submitted from another site or has expired. Reload the page \
                 and try again."
                    .to_owned(),
            ),
            DashError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable".to_owned(),
                "Storage is not reachable right now. Try again in a moment.".to_owned(),
            ),
            DashError::Internal(detail) => {
                tracing::error!(error = %detail, "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong".to_owned(),
                    "The request could not be completed. It has been logged.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            title,
            message,
            request_id: synaptiq_server::request_id::current(),
        };
        let mut res = (status, page).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

/// `GET /dashboard`: the keys page is home.
pub async fn home() -> Response {
    see_other("/dashboard/keys")
}

/// A `303 See Other` to `location` (after a POST, or to the login page).
pub fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// The dashboard's rows: HTML pages behind a session (viewers read, admins and owners
/// change), plus the sign-in form and static files.
pub fn routes() -> Vec<Route> {
    use Method as M;
    use Role::{Admin, Viewer};
    let session = |min_role| Access::Session { min_role };
    let rows = vec![
        unlisted(M::GET, "/dashboard", session(Viewer), home),
        page("/dashboard/login", login::page),
        unlisted(M::POST, "/dashboard/login", Access::Public, login::submit),
        unlisted(M::POST, "/dashboard/logout", session(Viewer), login::logout),
        page("/dashboard/static/{file}", assets::serve),
        unlisted(M::GET, "/dashboard/keys", session(Viewer), keys::page),
        unlisted(M::POST, "/dashboard/keys", session(Admin), keys::create),
        unlisted(
            M::GET,
            "/dashboard/keys/{id}/rotate",
            session(Admin),
            rotate::rotate_page,
        ),
        unlisted(
            M::POST,
            "/dashboard/keys/{id}/rotate",
            session(Admin),
            rotate::rotate,
        ),
        unlisted(
            M::GET,
            "/dashboard/keys/{id}/revoke",
            session(Admin),
            rotate::revoke_page,
        ),
        unlisted(
            M::POST,
            "/dashboard/keys/{id}/revoke",
            session(Admin),
            rotate::revoke,
        ),
        unlisted(
            M::GET,
            "/dashboard/webhooks",
            session(Viewer),
            webhooks::page,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks",
            session(Admin),
            webhooks::create,
        ),
        unlisted(
            M::GET,
            "/dashboard/webhooks/{id}/deliveries",
            session(Viewer),
            webhook_deliveries::page,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks/{id}/deliveries/{event}/redeliver",
            session(Admin),
            webhook_deliveries::redeliver,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks/{id}/test",
            session(Admin),
            webhook_actions::test,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks/{id}/enabled",
            session(Admin),
            webhook_actions::set_enabled,
        ),
        unlisted(
            M::GET,
            "/dashboard/webhooks/{id}/rotate",
            session(Admin),
            webhook_actions::rotate_page,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks/{id}/rotate",
            session(Admin),
            webhook_actions::rotate,
        ),
        unlisted(
            M::GET,
            "/dashboard/webhooks/{id}/delete",
            session(Admin),
            webhook_actions::delete_page,
        ),
        unlisted(
            M::POST,
            "/dashboard/webhooks/{id}/delete",
            session(Admin),
            webhook_actions::delete,
        ),
        unlisted(M::GET, "/dashboard/usage", session(Viewer), usage::page),
        unlisted(M::GET, "/dashboard/audit", session(Viewer), audit::page),
        unlisted(
            M::GET,
            "/dashboard/organization",
            session(Viewer),
            org::page,
        ),
    ];
    rows.into_iter().map(|r| r.with_layer(layer)).collect()
}

/// Around every dashboard route: the session guard on `Access::Session` routes (cookie, CSRF
/// on POST, role; never an API key), then the browser security headers.
fn layer(
    router: MethodRouter<AppState>,
    state: &AppState,
    def: &RouteDef,
) -> MethodRouter<AppState> {
    let router = match def.access {
        Access::Session { min_role } => router.route_layer(from_fn_with_state(
            (state.clone(), min_role),
            session::guard,
        )),
        _ => router,
    };
    router.route_layer(from_fn(security_headers))
}
