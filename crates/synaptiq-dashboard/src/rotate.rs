//! Rotating and revoking from the dashboard, each behind a confirmation page (which is also
//! how it works without JavaScript). Rotation goes through `synaptiq_app::Services::rotate_key`; after it
//! the keys page shows the new secret once and the old key's countdown with a
//! **Revoke Old Key** button.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_core::ids::KeyId;
use synaptiq_core::scope::{Environment, KeyStatus};
use synaptiq_store::KeyRecord;
use synaptiq_types::time::Timestamp;

use crate::keys::{NewSecret, Rotated, build, deadline};
use crate::view::KeyRow;
use crate::{Chrome, DashError, DashUser, env_param, see_other};
use synaptiq_app::keys::{self, RotateError};
use synaptiq_server::AppState;

/// One grace-period choice.
#[derive(Debug, Clone)]
pub struct Grace {
    /// Seconds.
    pub secs: i64,
    /// `24 hours`.
    pub label: &'static str,
    /// Whether it is preselected.
    pub default: bool,
}

/// The grace periods offered: now, 1 h, 24 h (default), 3 days, 7 days.
pub fn grace_choices() -> Vec<Grace> {
    [
        (0, "Now (no grace period)"),
        (3600, "1 hour"),
        (86_400, "24 hours"),
        (259_200, "3 days"),
        (604_800, "7 days"),
    ]
    .into_iter()
    .map(|(secs, label)| Grace {
        secs,
        label,
        default: secs == keys::DEFAULT_GRACE_SECS,
    })
    .collect()
}

/// The confirmation page of a rotation or revocation.
#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// `rotate` or `revoke`.
    pub action: &'static str,
    /// The key.
    pub key: KeyRow,
    /// Grace choices (rotation only).
    pub graces: Vec<Grace>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnvQuery {
    env: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionForm {
    env: String,
    grace: Option<i64>,
    confirm: String,
}

async fn load(
    app: &AppState,
    user: &DashUser,
    env: Environment,
    id: &str,
) -> Result<KeyRecord, DashError> {
    let id = KeyId::parse(id).map_err(|_| DashError::NotFound("key"))?;
    app.store
        .get_key(&user.org.id, env, &id)
        .await?
        .ok_or(DashError::NotFound("key"))
}

async fn confirm(
    app: &AppState,
    user: &DashUser,
    uri: &Uri,
    id: &str,
    action: &'static str,
) -> Result<Response, DashError> {
    let env = env_param(crate::query::<EnvQuery>(uri).env.as_deref());
    let key = load(app, user, env, id).await?;
    let now = Timestamp::now();
    let status = key.status(now);
    if action == "rotate" && !status.usable() {
        return Err(DashError::Invalid(format!(
            "This key is {}; only active or rotating keys can be rotated.",
            status.as_str()
        )));
    }
    Ok(ConfirmPage {
        chrome: Chrome::new(user, "keys", env),
        action,
        key: KeyRow::new(&key, now),
        graces: grace_choices(),
    }
    .into_response())
}

/// `GET /dashboard/keys/{id}/rotate?env=`: choose the grace period.
pub async fn rotate_page(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DashError> {
    confirm(&app, &user, &uri, &id, "rotate").await
}

/// `GET /dashboard/keys/{id}/revoke?env=`: confirm the revocation.
pub async fn revoke_page(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, DashError> {
    confirm(&app, &user, &uri, &id, "revoke").await
}

/// `POST /dashboard/keys/{id}/rotate`: rotates, then shows the new secret once and the old
/// key's deadline.
pub async fn rotate(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let form: ActionForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let env = env_param(Some(&form.env));
    let grace = form
        .grace
        .filter(|g| grace_choices().iter().any(|c| c.secs == *g))
        .ok_or_else(|| DashError::Invalid("Choose one of the grace periods offered.".into()))?;
    let id = KeyId::parse(&id).map_err(|_| DashError::NotFound("key"))?;
    let result = app
        .services
        .rotate_key(&app.pepper, &user.org.id, env, &id, grace, &user.actor())
        .await;
    let (old, new, secret) = match result {
        Ok(v) => v,
        Err(RotateError::NotFound) => return Err(DashError::NotFound("key")),
        Err(e @ RotateError::NotUsable(_)) => return Err(DashError::Invalid(e.to_string())),
        Err(RotateError::Store(e)) => return Err(e.into()),
    };
    let now = Timestamp::now();
    let mut page = build(&app, &user, env).await?;
    page.rotated = Some(Rotated {
        new: NewSecret {
            secret: secret.expose().to_owned(),
            key: KeyRow::new(&new, now),
        },
        old: KeyRow::new(&old, now),
        deadline: deadline(&old, now),
    });
    Ok(page.into_response())
}

/// `POST /dashboard/keys/{id}/revoke` (with `confirm=yes`): ends the key at once. This is
/// what **Revoke Old Key** submits.
pub async fn revoke(
    State(app): State<AppState>,
    user: DashUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, DashError> {
    let form: ActionForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let env = env_param(Some(&form.env));
    let key = load(&app, &user, env, &id).await?;
    if form.confirm != "yes" {
        return Ok(see_other(&format!(
            "/dashboard/keys/{}/revoke?env={}",
            key.id,
            env.as_str()
        )));
    }
    let now = Timestamp::now();
    if key.status(now) != KeyStatus::Revoked {
        app.services
            .revoke_key(&user.org.id, env, &key.id, &user.actor())
            .await?
            .ok_or(DashError::NotFound("key"))?;
    }
    Ok(see_other(&format!(
        "/dashboard/keys?env={}&revoked={}",
        env.as_str(),
        key.id
    )))
}
