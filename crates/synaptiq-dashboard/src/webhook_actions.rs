//! What an admin does to one endpoint: send a test, rotate its secret (behind a page choosing
//! the grace period), disable or enable it, and delete it (behind a confirmation page). Each
//! goes through `synaptiq_app::Services`, the same code as the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_app::webhooks::DEFAULT_GRACE_SECS;
use synaptiq_core::scope::Environment;
use synaptiq_store::EndpointRecord;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::UpdateWebhookEndpoint;

use crate::rotate::{Grace, grace_choices};
use crate::view::when;
use crate::webhook_view::EndpointRow;
use crate::webhooks::{ShownSecret, build, endpoint_id};
use crate::{Chrome, DashError, DashUser, env_param, see_other};
use synaptiq_server::AppState;

/// The grace periods offered for a secret: the keys' choices, 24 hours preselected.
pub fn secret_graces() -> Vec<Grace> {
    grace_choices()
        .into_iter()
        .map(|g| Grace {
            default: g.secs == DEFAULT_GRACE_SECS,
            ..g
        })
        .collect()
}

/// The page before rotating a secret or deleting an endpoint.
#[derive(Template, WebTemplate)]
#[template(path = "webhook_confirm.html")]
pub struct ConfirmPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// `rotate` or `delete`.
    pub action: &'static str,
    /// The endpoint.
    pub endpoint: EndpointRow,
    /// Grace choices (rotation only).
    pub graces: Vec<Grace>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnvQuery {
    env: Option<String>,
}

/// The fields of the action forms.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionForm {
    env: String,
    grace: Option<i64>,
    confirm: String,
    enabled: String,
    from: String,
}

fn action_form(body: &[u8]) -> (ActionForm, Environment) {
    let form: ActionForm = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let env = env_param(Some(&form.env));
    (form, env)
}

/// The endpoint `raw` of the user's organization in `env`.
pub async fn load(
    app: &AppState,
    user: &DashUser,
    env: Environment,
    raw: &str,
) -> Result<EndpointRecord, DashError> {
    let id = endpoint_id(raw)?;
    app.store
        .get_endpoint(&user.org.id, env, &id)
        .await?
        .ok_or(DashError::NotFound("webhook endpoint"))
}

/// Where the deliveries of endpoint `id` are shown.
pub fn deliveries_path(id: &str, env: Environment) -> String {
    format!("/dashboard/webhooks/{id}/deliveries?env={}", env.as_str())
}

async fn confirm(
    app: &AppState,
    user: &DashUser,
    uri: &Uri,
    id: &str,
    action: &'static str,
) -> Result<Response, DashError> {
    let env = env_param(crate::query::<EnvQuery>(uri).env.as_deref());
    let e = load(app, user, env, id).await?;
    let now = Timestamp::now();
    Ok(ConfirmPage {
        chrome: Chrome::new(user, "webhooks", env),
        action,
        endpoint: EndpointRow::new(&e.to_wire(now), now),
        graces: secret_graces(),
    }
    .into_response())
}

/// `GET /dashboard/webhooks/{id}/rotate?env=`: choose the grace period.
pub async fn rotate_page(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DashError> {
    confirm(&app, &user, &uri, &id, "rotate").await
}

/// `GET /dashboard/webhooks/{id}/delete?env=`: confirm the deletion.
pub async fn delete_page(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DashError> {
    confirm(&app, &user, &uri, &id, "delete").await
}

/// `POST /dashboard/webhooks/{id}/rotate`: a new secret, shown once, and until when the old
/// one signs too.
pub async fn rotate(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let (form, env) = action_form(&body);
    let grace = form
        .grace
        .filter(|g| secret_graces().iter().any(|c| c.secs == *g))
        .ok_or_else(|| DashError::Invalid("Choose one of the grace periods offered.".into()))?;
    let id = endpoint_id(&id)?;
    let (rec, secret) = app
        .services
        .rotate_endpoint_secret(&user.org.id, env, &id, grace)
        .await?;
    let now = Timestamp::now();
    let wire = rec.to_wire(now);
    let mut page = build(&app, &user, env).await?;
    page.shown = Some(ShownSecret {
        secret: secret.encoded(),
        old_until: wire.previous_secret_expires_at.map(|t| when(t, now)),
        endpoint: EndpointRow::new(&wire, now),
        rotated: true,
    });
    Ok(page.into_response())
}

/// `POST /dashboard/webhooks/{id}/test`: queues a signed `webhook.test`, then shows the
/// deliveries with it on top.
pub async fn test(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let (_, env) = action_form(&body);
    let id = endpoint_id(&id)?;
    let d = app
        .services
        .send_test_delivery(&user.org.id, env, &id, &user.actor())
        .await?;
    Ok(see_other(&format!(
        "{}&sent={}",
        deliveries_path(id.as_str(), env),
        d.event_id
    )))
}

/// `POST /dashboard/webhooks/{id}/enabled` with `enabled=true|false`: enables (its health
/// starts afresh) or disables (its pending deliveries fail) the endpoint.
pub async fn set_enabled(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let (form, env) = action_form(&body);
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(DashError::Invalid("Choose to enable or disable.".into())),
    };
    let id = endpoint_id(&id)?;
    let patch = UpdateWebhookEndpoint {
        enabled: Some(enabled),
        ..UpdateWebhookEndpoint::default()
    };
    app.services
        .update_endpoint(&user.org.id, env, &id, &patch)
        .await?;
    if form.from == "deliveries" {
        return Ok(see_other(&deliveries_path(id.as_str(), env)));
    }
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(&format!(
        "/dashboard/webhooks?env={}&{done}={id}",
        env.as_str()
    )))
}

/// `POST /dashboard/webhooks/{id}/delete` (with `confirm=yes`): deletes the endpoint and its
/// delivery log.
pub async fn delete(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let (form, env) = action_form(&body);
    let e = load(&app, &user, env, &id).await?;
    if form.confirm != "yes" {
        return Ok(see_other(&format!(
            "/dashboard/webhooks/{}/delete?env={}",
            e.id,
            env.as_str()
        )));
    }
    app.store.delete_endpoint(&user.org.id, env, &e.id).await?;
    Ok(see_other(&format!(
        "/dashboard/webhooks?env={}&deleted=1",
        env.as_str()
    )))
}
