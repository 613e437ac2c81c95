//! Dashboard sessions: a random 256-bit token in the `__Host-synaptiq_session` cookie, and a
//! server-side row holding only the token's SHA-256 (a database leak yields no usable cookie).
//!
//! Sessions last 7 days from sign-in (absolute, not sliding), a sign-in always issues a new
//! token and deletes the session the browser presented (no fixation), and sign-out deletes
//! the row. The cookie is `HttpOnly; Secure; SameSite=Strict; Path=/` and `__Host-`
//! prefixed, so no subdomain can set or shadow it.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use synaptiq_store::{OrgRecord, Role, SessionHash, UserRecord};
use synaptiq_types::time::Timestamp;

use crate::{DashError, csrf, role_allows, see_other};
use synaptiq_server::AppState;
use synaptiq_server::guard::ClientAddr;

/// The session cookie's name.
pub const COOKIE: &str = "__Host-synaptiq_session";
pub use synaptiq_app::sessions::{LIFETIME_SECS, SessionToken, hash_token, well_formed};

/// The value of cookie `name` in the request's `Cookie` headers (HTTP/2 may send several).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(token: &SessionToken) -> HeaderValue {
    cookie_header(COOKIE, token.expose(), LIFETIME_SECS)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    cookie_header(COOKIE, "", 0)
}

/// A `__Host-` cookie: `Secure`, `Path=/`, no `Domain`; `HttpOnly`, `SameSite=Strict`.
pub fn cookie_header(name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("__Host-invalid=; Path=/; Secure; Max-Age=0"))
}

/// The signed-in dashboard user of a request (put there by [`guard`]).
#[derive(Clone)]
pub struct DashUser {
    /// The user.
    pub user: UserRecord,
    /// Their organization.
    pub org: OrgRecord,
    /// Display name of the organization.
    pub org_name: String,
    /// The CSRF token of this session.
    pub csrf: String,
    /// The client's address.
    pub ip: IpAddr,
    /// The session's row key, for sign-out.
    pub session: SessionHash,
}

impl DashUser {
    /// The audit actor: the user's id and the client address.
    pub fn actor(&self) -> synaptiq_app::Actor {
        synaptiq_app::Actor {
            id: self.user.id.to_string(),
            ip: Some(self.ip.to_string()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DashUser {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, DashError> {
        parts.extensions.get::<DashUser>().cloned().ok_or_else(|| {
            DashError::Internal("dashboard handler on a route without session".into())
        })
    }
}

/// The session a request's cookie names, if it is valid now.
pub async fn current(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(SessionHash, synaptiq_store::SessionRecord)>, DashError> {
    let Some(token) = cookie(headers, COOKIE).filter(|t| well_formed(t)) else {
        return Ok(None);
    };
    let hash = hash_token(token);
    let found = app.store.find_session(&hash, Timestamp::now()).await?;
    Ok(found.map(|s| (hash, s)))
}

/// Where an anonymous request goes: the sign-in page, returning here afterwards (GET only).
fn to_login(method: &Method, uri: &Uri) -> Response {
    if method != Method::GET {
        return see_other("/dashboard/login");
    }
    let here = uri
        .path_and_query()
        .map_or("/dashboard", axum::http::uri::PathAndQuery::as_str);
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    see_other(&format!("/dashboard/login?next={next}"))
}

/// The guard of every `Access::Session` route: a valid session (else to the sign-in page),
/// then on POST the Origin / `Sec-Fetch-Site` check and the form's CSRF token, then the role.
/// An `Authorization` header is ignored: API keys never open the dashboard.
pub async fn guard(
    State((app, min_role)): State<(AppState, Role)>,
    req: Request,
    next: Next,
) -> Response {
    match check(&app, min_role, req).await {
        Ok(req) => next.run(req).await,
        Err(res) => res,
    }
}

async fn check(app: &AppState, min_role: Role, req: Request) -> Result<Request, Response> {
    let session = current(app, req.headers())
        .await
        .map_err(IntoResponse::into_response)?;
    let Some((hash, record)) = session else {
        return Err(to_login(req.method(), req.uri()));
    };
    let token = cookie(req.headers(), COOKIE).unwrap_or_default();
    let expected = csrf::token_for(token);
    let mut req = req;
    if req.method() == Method::POST {
        if !csrf::same_origin(req.headers(), req.uri(), &app.public_url) {
            return Err(DashError::CrossSite.into_response());
        }
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, app.config.body_limit)
            .await
            .map_err(|_| DashError::CrossSite.into_response())?;
        if !csrf::form_token_matches(&bytes, &expected) {
            return Err(DashError::CrossSite.into_response());
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    if !role_allows(record.user.role, min_role) {
        return Err(DashError::Forbidden(format!(
            "Your role ({}) can view this organization but not change it. Ask an owner or \
             admin for access.",
            record.user.role.as_str()
        ))
        .into_response());
    }
    let ip = ClientAddr::current_ip();
    let user = DashUser {
        org_name: record.org.name.clone(),
        user: record.user,
        org: record.org,
        csrf: expected,
        ip,
        session: hash,
    };
    req.extensions_mut().insert(user);
    Ok(req)
}
