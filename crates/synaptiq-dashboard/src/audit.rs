//! The audit log page: who did what to which key, when and from where; filterable by key and
//! event type (a plain GET form, so filtered views can be bookmarked).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_app::audit::{AuditEntry, key_label};
use synaptiq_core::event::EventKind;
use synaptiq_core::ids::KeyId;
use synaptiq_store::{AuditFilter, KeyRecord};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::view::{When, when};
use crate::{Chrome, DashError, DashUser, env_param};
use synaptiq_server::AppState;

const PER_PAGE: u32 = 50;

/// A choice in a filter `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Submitted value.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Whether it is the current filter.
    pub selected: bool,
}

/// One event as shown.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// When.
    pub at: When,
    /// `key.revoked`.
    pub kind: String,
    /// Its CSS class suffix (`key-revoked`).
    pub class: String,
    /// The key acted on (`name (hint)`), if any.
    pub key: String,
    /// Who: a user's email, an API key, `CLI`, `system`.
    pub actor: String,
    /// Client address, if known.
    pub ip: String,
}

/// The audit page.
#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// Key filter choices.
    pub keys: Vec<Choice>,
    /// Type filter choices.
    pub types: Vec<Choice>,
    /// The page of events.
    pub events: Vec<EventRow>,
    /// Whether a filter is active.
    pub filtered: bool,
    /// Total matching.
    pub total: u64,
    /// Current page (from 1).
    pub page: u32,
    /// Query string of the previous page, if any.
    pub prev: Option<String>,
    /// Query string of the next page, if any.
    pub next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditQuery {
    env: Option<String>,
    key: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    page: Option<u32>,
}

fn page_link(env: &str, key: &str, kind: &str, page: u32) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("env", env);
    if !key.is_empty() {
        q.append_pair("key", key);
    }
    if !kind.is_empty() {
        q.append_pair("type", kind);
    }
    q.append_pair("page", &page.to_string());
    format!("?{}", q.finish())
}

/// `GET /dashboard/audit?env=&key=&type=&page=`.
pub async fn page(
    State(app): State<AppState>,
    user: DashUser,
    uri: Uri,
) -> Result<Response, DashError> {
    let q: AuditQuery = crate::query(&uri);
    let env = env_param(q.env.as_deref());
    let now = Timestamp::now();
    let filter = AuditFilter {
        key_id: q.key.as_deref().and_then(|s| KeyId::parse(s).ok()),
        kind: q
            .kind
            .filter(|k| EventKind::parse(k).is_some_and(EventKind::audited)),
        since: None,
        until: None,
    };
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let req = PageRequest::new(Some(page_no), Some(PER_PAGE))?;
    let view = app
        .services
        .audit_view(&user.org.id, env, &filter, req, now);
    let view = view.await?;
    let selected_key = filter.key_id.map(|k| k.to_string()).unwrap_or_default();
    let selected_kind = filter.kind.unwrap_or_default();
    let pages = view.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let link = |p| page_link(env.as_str(), &selected_key, &selected_kind, p);
    Ok(AuditPage {
        chrome: Chrome::new(&user, "audit", env),
        keys: key_choices(&view.keys, &selected_key),
        types: type_choices(&selected_kind),
        events: view.entries.into_iter().map(|e| row(e, now)).collect(),
        filtered: !selected_key.is_empty() || !selected_kind.is_empty(),
        total: view.total,
        page: page_no,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (u64::from(page_no) < pages).then(|| link(page_no + 1)),
    }
    .into_response())
}

/// An event as the page shows it.
fn row(e: AuditEntry, now: Timestamp) -> EventRow {
    EventRow {
        at: when(e.event.created_at, now),
        class: e.event.kind.replace('.', "-"),
        kind: e.event.kind,
        key: e.key,
        actor: e.actor,
        ip: e.event.ip.unwrap_or_default(),
    }
}

/// The key filter's choices.
fn key_choices(keys: &[KeyRecord], selected: &str) -> Vec<Choice> {
    keys.iter()
        .map(|k| Choice {
            value: k.id.to_string(),
            label: key_label(k),
            selected: k.id.as_str() == selected,
        })
        .collect()
}

/// The type filter's choices: the audited kinds.
fn type_choices(selected: &str) -> Vec<Choice> {
    EventKind::audited_kinds()
        .map(|t| Choice {
            value: t.as_str().to_owned(),
            label: t.as_str().to_owned(),
            selected: t.as_str() == selected,
        })
        .collect()
}
