//! The organization page: name, plan, the rate-limit table that applies (from the server's
//! rate policy, so an operator's policy file shows here as it is enforced) and the members.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use synaptiq_core::plan::{Plan, RatePolicy};
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_types::time::Timestamp;

use crate::charts::thousands;
use crate::view::{When, when};
use crate::{Chrome, DashError, DashUser};
use synaptiq_server::AppState;

/// One cell of the limits table.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Requests per minute, formatted.
    pub value: String,
    /// Whether it is the organization's plan.
    pub current: bool,
}

/// One scope's row of the limits table.
#[derive(Debug, Clone)]
pub struct LimitRow {
    /// `read`, `write`, `admin`.
    pub scope: &'static str,
    /// One cell per plan, in [`Plan::ALL`] order.
    pub cells: Vec<Cell>,
}

/// A per-route cap.
#[derive(Debug, Clone)]
pub struct CapRow {
    /// `POST` or `any method`.
    pub method: String,
    /// Route template or prefix.
    pub path: String,
    /// Requests per minute per key.
    pub per_minute: String,
}

/// A member of the organization.
#[derive(Debug, Clone)]
pub struct Member {
    /// Login email.
    pub email: String,
    /// Role.
    pub role: &'static str,
    /// Since.
    pub created: When,
}

/// The organization page.
#[derive(Template, WebTemplate)]
#[template(path = "org.html")]
pub struct OrgPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// `org_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Current plan.
    pub plan: &'static str,
    /// Creation.
    pub created: When,
    /// Plan names, in column order, with whether each is current.
    pub plans: Vec<(&'static str, bool)>,
    /// Requests per minute by scope × plan.
    pub limits: Vec<LimitRow>,
    /// Per-route caps.
    pub caps: Vec<CapRow>,
    /// Daily quota per key on this plan.
    pub daily: Option<String>,
    /// Concurrent requests per key.
    pub concurrency: Option<u32>,
    /// Failed authentications allowed per client address per minute.
    pub auth_failures: u32,
    /// Whether limits are shared by every server (Redis) and whether that is degraded.
    pub global: bool,
    /// Whether Redis is unreachable right now.
    pub degraded: bool,
    /// Members.
    pub members: Vec<Member>,
}

/// `GET /dashboard/organization`.
pub async fn page(State(app): State<AppState>, user: DashUser) -> Result<Response, DashError> {
    let now = Timestamp::now();
    let policy = &app.config.rate_policy;
    let org = &user.org;
    let members = app
        .store
        .list_users(&org.id)
        .await?
        .into_iter()
        .map(|u| Member {
            email: u.email,
            role: u.role.as_str(),
            created: when(u.created_at, now),
        })
        .collect();
    Ok(OrgPage {
        chrome: Chrome::new(&user, "org", Environment::Live),
        id: org.id.to_string(),
        name: org.name.clone(),
        plan: org.plan.as_str(),
        created: when(org.created_at, now),
        plans: Plan::ALL
            .into_iter()
            .map(|p| (p.as_str(), p == org.plan))
            .collect(),
        limits: limit_rows(policy, org.plan),
        caps: cap_rows(policy),
        daily: policy.daily(org.plan).map(|n| thousands(u64::from(n))),
        concurrency: policy.concurrency_per_key,
        auth_failures: policy.auth_failures_per_minute,
        global: app.limiter.is_global(),
        degraded: app.limiter.degraded(),
        members,
    }
    .into_response())
}

/// Per-minute limits by scope (rows) and plan (cells), the organization's plan marked.
fn limit_rows(policy: &RatePolicy, current: Plan) -> Vec<LimitRow> {
    Scope::ALL
        .into_iter()
        .map(|scope| LimitRow {
            scope: scope.as_str(),
            cells: Plan::ALL
                .into_iter()
                .map(|plan| Cell {
                    value: thousands(u64::from(policy.limit(scope, plan))),
                    current: plan == current,
                })
                .collect(),
        })
        .collect()
}

/// The per-route caps of the policy.
fn cap_rows(policy: &RatePolicy) -> Vec<CapRow> {
    policy
        .route_caps
        .iter()
        .map(|c| CapRow {
            method: c.method.clone().unwrap_or_else(|| "any method".to_owned()),
            path: c.path.clone(),
            per_minute: thousands(u64::from(c.per_minute)),
        })
        .collect()
}
