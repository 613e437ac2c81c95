//! Sign-in and sign-out.
//!
//! Sign-in attempts are throttled per account and per client address with the same GCRA
//! buckets as API keys (global through Redis when configured): 5 attempts per account and 20
//! per address in any 5 minutes, refilled continuously. Unknown accounts cost the same
//! argon2 time as known ones, and both failures read the same, so neither timing nor wording
//! reveals which emails have accounts.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_app::sessions::{SignIn, SignInError, normalize_email};
use synaptiq_core::gcra::Rate;

use crate::session::{self, SessionToken, cookie, cookie_header};
use crate::{DashError, DashUser, csrf, see_other};
use synaptiq_server::AppState;
use synaptiq_server::ratelimit::{Bucket, BucketKind};

/// The double-submit cookie of the sign-in form.
pub const LOGIN_COOKIE: &str = "__Host-synaptiq_login";
/// Attempts per account per [`WINDOW_NS`].
pub const PER_ACCOUNT: u32 = 5;
/// Attempts per client address per [`WINDOW_NS`].
pub const PER_IP: u32 = 20;
/// The throttle window: 5 minutes.
pub const WINDOW_NS: u64 = 300 * 1_000_000_000;

/// The sign-in page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The form's double-submit token.
    pub csrf: String,
    /// The email typed (kept after a failure).
    pub email: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// A neutral notice (signed out).
    pub notice: Option<String>,
    /// Where to go after signing in.
    pub next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
    next: String,
}

/// A local dashboard path to return to after sign-in; anything else goes to the keys page
/// (no open redirect).
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with("/dashboard")
        && !next.starts_with("/dashboard/login")
        && !next.contains("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok { next } else { "/dashboard/keys" }
}

/// The form token: the browser's existing one, or a fresh one (with its cookie).
fn login_token(headers: &HeaderMap) -> Result<(String, Option<HeaderValue>), DashError> {
    match cookie(headers, LOGIN_COOKIE).filter(|t| session::well_formed(t)) {
        Some(t) => Ok((t.to_owned(), None)),
        None => {
            let t = SessionToken::generate()?;
            let header = cookie_header(LOGIN_COOKIE, t.expose(), 3600);
            Ok((t.expose().to_owned(), Some(header)))
        }
    }
}

fn render(status: StatusCode, page: LoginPage, set: Option<HeaderValue>) -> Response {
    let mut res = (status, page).into_response();
    if let Some(v) = set {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `GET /dashboard/login`.
pub async fn page(State(app): State<AppState>, req: Request) -> Result<Response, DashError> {
    let q: LoginQuery = crate::query(req.uri());
    let next = safe_next(q.next.as_deref().unwrap_or("")).to_owned();
    if session::current(&app, req.headers()).await?.is_some() {
        return Ok(see_other(&next));
    }
    let (token, set) = login_token(req.headers())?;
    let page = LoginPage {
        csrf: token,
        email: String::new(),
        error: None,
        notice: q.signed_out.map(|_| "You have signed out.".to_owned()),
        next,
    };
    Ok(render(StatusCode::OK, page, set))
}

/// `POST /dashboard/login`.
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Response, DashError> {
    if !csrf::same_origin(&headers, &uri, &app.public_url) {
        return Err(DashError::CrossSite);
    }
    let form: LoginForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (next, (csrf, set)) = (safe_next(&form.next).to_owned(), login_token(&headers)?);
    let again = Again {
        csrf,
        set,
        email: form.email.clone(),
        next: next.clone(),
    };
    let presented = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !csrf::tokens_equal(presented, &form.csrf) {
        return Ok(again.page(StatusCode::FORBIDDEN, FORM_EXPIRED));
    }
    let email = normalize_email(&form.email);
    let ip = synaptiq_server::guard::ClientAddr::current_ip();
    if let Some(secs) = throttled(&app, ip, &email).await {
        return Ok(again.throttled(secs));
    }
    let attempt = SignIn {
        email: &email,
        password: &form.password,
        previous: cookie(&headers, session::COOKIE),
        ip: ip.to_string(),
        user_agent: user_agent(&headers),
    };
    match app.services.sign_in(attempt).await {
        Ok((_, token)) => Ok(signed_in(&next, &token)),
        Err(SignInError::Incorrect) => Ok(again.page(StatusCode::UNAUTHORIZED, INCORRECT)),
        Err(SignInError::Store(e)) => Err(e.into()),
    }
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// To `next`, with the session cookie set and the form's cookie cleared.
fn signed_in(next: &str, token: &SessionToken) -> Response {
    let mut res = see_other(next);
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, session::set_cookie(token));
    h.append(header::SET_COOKIE, cookie_header(LOGIN_COOKIE, "", 0));
    res
}

const FORM_EXPIRED: &str = "This sign-in form expired. Please sign in again.";
const INCORRECT: &str = "Email or password is incorrect.";

/// The sign-in form shown again after a failed attempt, with what was typed (but the
/// password) and the same form token.
struct Again {
    csrf: String,
    set: Option<HeaderValue>,
    email: String,
    next: String,
}

impl Again {
    fn page(&self, status: StatusCode, error: &str) -> Response {
        let page = LoginPage {
            csrf: self.csrf.clone(),
            email: self.email.clone(),
            error: Some(error.to_owned()),
            notice: None,
            next: self.next.clone(),
        };
        render(status, page, self.set.clone())
    }

    /// 429 with `Retry-After`.
    fn throttled(&self, secs: u64) -> Response {
        let wait = format!("Too many sign-in attempts. Try again in {secs} seconds.");
        let mut res = self.page(StatusCode::TOO_MANY_REQUESTS, &wait);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        res
    }
}

/// Spends one attempt from the account's and the address's buckets (all or nothing);
/// `Some(seconds to wait)` when either is empty.
async fn throttled(app: &AppState, ip: std::net::IpAddr, email: &str) -> Option<u64> {
    let rate = |limit| Rate {
        limit,
        period_ns: WINDOW_NS,
    };
    let buckets = [
        Bucket {
            rate: rate(PER_IP),
            kind: BucketKind::Named(format!("ip:{ip}")),
        },
        Bucket {
            rate: rate(PER_ACCOUNT),
            kind: BucketKind::Named(format!("acct:{email}")),
        },
    ];
    let outcome = app.limiter.check("login", &buckets, true).await;
    outcome
        .refused
        .map(|i| outcome.verdicts[i].retry_after_secs())
}

/// `POST /dashboard/logout`: ends the session (the row is deleted, so the cookie is worthless
/// even if a copy survives) and clears the cookie.
pub async fn logout(State(app): State<AppState>, user: DashUser) -> Result<Response, DashError> {
    app.services.sign_out(&user.session).await?;
    let mut res = see_other("/dashboard/login?signed_out=1");
    res.headers_mut()
        .append(header::SET_COOKIE, session::clear_cookie());
    Ok(res)
}
