//! One endpoint's deliveries: each event sent to it with its last attempt (status, answer,
//! latency, error, the first 4 KB of the answer) and when the next is due, filterable by
//! status, with a **Redeliver** button (through `synaptiq_app::Services::redeliver`).

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_app::webhooks::WebhookError;
use synaptiq_core::ids::EventId;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::DeliveryStatus;

use crate::webhook_actions::{deliveries_path, load};
use crate::webhook_view::{DeliveryRow, EndpointRow};
use crate::webhooks::endpoint_id;
use crate::{Chrome, DashError, DashUser, env_param, see_other};
use synaptiq_server::AppState;

const PER_PAGE: u32 = 25;

/// The deliveries page.
#[derive(Template, WebTemplate)]
#[template(path = "webhook_deliveries.html")]
pub struct DeliveriesPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// The endpoint.
    pub endpoint: EndpointRow,
    /// Its deliveries on this page, newest first.
    pub deliveries: Vec<DeliveryRow>,
    /// `""` (all), `pending`, `delivered` or `failed`.
    pub status: &'static str,
    /// Deliveries matching the filter.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// The query of the newer page, if any.
    pub prev: Option<String>,
    /// The query of the older page, if any.
    pub next: Option<String>,
    /// A one-line confirmation.
    pub notice: Option<String>,
}

impl DeliveriesPage {
    /// The link of status filter `s` (`""`: all).
    pub fn filter_link(&self, s: &str) -> String {
        let mut link = deliveries_path(&self.endpoint.id, env_param(Some(self.chrome.env)));
        if !s.is_empty() {
            link.push_str("&status=");
            link.push_str(s);
        }
        link
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeliveriesQuery {
    env: Option<String>,
    status: Option<String>,
    page: Option<u32>,
    sent: Option<String>,
    redelivered: Option<String>,
}

fn status_of(raw: Option<&str>) -> Option<DeliveryStatus> {
    match raw? {
        "pending" => Some(DeliveryStatus::Pending),
        "delivered" => Some(DeliveryStatus::Delivered),
        "failed" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// `GET /dashboard/webhooks/{id}/deliveries?env=&status=&page=`.
pub async fn page(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DashError> {
    let q: DeliveriesQuery = crate::query(&uri);
    let env = env_param(q.env.as_deref());
    let e = load(&app, &user, env, &id).await?;
    let status = status_of(q.status.as_deref());
    let page_no = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let page = PageRequest::new(Some(page_no), Some(PER_PAGE))?;
    let (list, total) = app
        .store
        .list_deliveries(&user.org.id, env, &e.id, status, page)
        .await?
        .ok_or(DashError::NotFound("webhook endpoint"))?;
    let now = Timestamp::now();
    let shown = |n: u32| {
        let mut s = format!("{}&page={n}", deliveries_path(e.id.as_str(), env));
        if let Some(st) = status {
            s.push_str("&status=");
            s.push_str(st.as_str());
        }
        s
    };
    let evt = |raw: Option<String>| raw.filter(|r| EventId::parse(r).is_ok());
    let notice = match (evt(q.sent), evt(q.redelivered)) {
        (Some(evt), _) => Some(format!(
            "Test delivery {evt} queued: it is sent within seconds. Reload to see how it went."
        )),
        (None, Some(evt)) => Some(format!(
            "{evt} will be sent again now, its retry schedule starting afresh."
        )),
        (None, None) => None,
    };
    Ok(DeliveriesPage {
        chrome: Chrome::new(&user, "webhooks", env),
        endpoint: EndpointRow::new(&e.to_wire(now), now),
        deliveries: list
            .into_iter()
            .map(|d| DeliveryRow::new(d.into_wire(), now))
            .collect(),
        status: status.map_or("", DeliveryStatus::as_str),
        total,
        page: page_no,
        prev: (page_no > 1).then(|| shown(page_no - 1)),
        next: page.describe(total).has_more.then(|| shown(page_no + 1)),
        notice,
    }
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RedeliverForm {
    env: String,
}

/// `POST /dashboard/webhooks/{id}/deliveries/{event}/redeliver`: sends the delivery again now.
pub async fn redeliver(
    State(app): State<AppState>,
    user: DashUser,
    Path((id, event)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, DashError> {
    let form: RedeliverForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let env = env_param(Some(&form.env));
    let id = endpoint_id(&id)?;
    let event = EventId::parse(&event).map_err(|_| DashError::NotFound("webhook delivery"))?;
    let d = match app.services.redeliver(&user.org.id, env, &id, &event).await {
        Ok(d) => d,
        Err(WebhookError::NotFound) => return Err(DashError::NotFound("webhook delivery")),
        Err(e) => return Err(e.into()),
    };
    Ok(see_other(&format!(
        "{}&redelivered={}",
        deliveries_path(id.as_str(), env),
        d.event_id
    )))
}
