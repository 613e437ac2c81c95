//! The keys page: live and test keys, creating a key (its secret shown once), and the panels
//! that follow a rotation. Keys are issued by `synaptiq_app::Services::issue_key`, the same code as the API
//! and the CLI.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::scope::{Environment, KeyStatus, Scope};
use synaptiq_store::KeyRecord;
use synaptiq_types::time::Timestamp;

use crate::view::{KeyRow, When, when};
use crate::{Chrome, DashError, DashUser, env_param};
use synaptiq_app::keys::{self, KeySpec};
use synaptiq_server::AppState;

/// A secret to show once.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// The full key.
    pub secret: String,
    /// Its row.
    pub key: KeyRow,
}

/// What a rotation produced.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The new key and its secret.
    pub new: NewSecret,
    /// The old key.
    pub old: KeyRow,
    /// When the old key stops working.
    pub deadline: Option<When>,
}

/// One field's problem.
#[derive(Debug, Clone)]
pub struct FieldProblem {
    /// The form field (`name`, `expires_on`, …).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The create form: what was typed and what is wrong with it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    /// Label.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// `live` or `test`.
    pub environment: String,
    /// `YYYY-MM-DD`, or empty for no expiry.
    pub expires_on: String,
    /// Addresses or CIDR blocks, separated by spaces, commas or lines.
    pub allowed_ips: String,
    /// Problems found on submission.
    #[serde(skip)]
    pub problems: Vec<FieldProblem>,
}

impl CreateForm {
    /// The problem of `field`, if any.
    pub fn problem(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }

    /// Whether `scope` is the selected scope (read by default).
    pub fn scope_is(&self, scope: &str) -> bool {
        if self.scope.is_empty() {
            scope == "read"
        } else {
            self.scope == scope
        }
    }
}

/// The keys page.
#[derive(Template, WebTemplate)]
#[template(path = "keys.html")]
pub struct KeysPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// Active and rotating keys, newest first.
    pub active: Vec<KeyRow>,
    /// Expired and revoked keys.
    pub inactive: Vec<KeyRow>,
    /// Usable keys seen over plain HTTP.
    pub exposed: Vec<KeyRow>,
    /// The key just created.
    pub created: Option<NewSecret>,
    /// The rotation just made.
    pub rotated: Option<Rotated>,
    /// A one-line confirmation.
    pub notice: Option<String>,
    /// The create form.
    pub form: CreateForm,
}

/// Every key of an organization in one environment, newest first (at most 2,000).
pub async fn all_keys(
    app: &AppState,
    org: &OrgId,
    env: Environment,
    now: Timestamp,
) -> Result<Vec<KeyRecord>, DashError> {
    Ok(app.services.all_keys(org, env, now).await?)
}

/// The page for `env` with nothing just done.
pub async fn build(
    app: &AppState,
    user: &DashUser,
    env: Environment,
) -> Result<KeysPage, DashError> {
    let now = Timestamp::now();
    let rows: Vec<KeyRow> = all_keys(app, &user.org.id, env, now)
        .await?
        .iter()
        .map(|k| KeyRow::new(k, now))
        .collect();
    let exposed = rows
        .iter()
        .filter(|r| r.exposed_and_usable())
        .cloned()
        .collect();
    let (active, inactive) = rows.into_iter().partition(|r| r.usable);
    Ok(KeysPage {
        chrome: Chrome::new(user, "keys", env),
        active,
        inactive,
        exposed,
        created: None,
        rotated: None,
        notice: None,
        form: CreateForm {
            environment: env.as_str().to_owned(),
            ..CreateForm::default()
        },
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeysQuery {
    env: Option<String>,
    revoked: Option<String>,
}

/// `GET /dashboard/keys?env=live|test`.
pub async fn page(
    State(app): State<AppState>,
    user: DashUser,
    uri: Uri,
) -> Result<Response, DashError> {
    let q: KeysQuery = crate::query(&uri);
    let env = env_param(q.env.as_deref());
    let mut page = build(&app, &user, env).await?;
    if let Some(id) = q.revoked.as_deref().and_then(|s| KeyId::parse(s).ok()) {
        let k = app.store.get_key(&user.org.id, env, &id).await?;
        if let Some(k) = k.filter(|k| k.status(Timestamp::now()) == KeyStatus::Revoked) {
            page.notice = Some(format!(
                "Revoked “{}” ({}). Requests with it now get 401.",
                k.name, k.hint
            ));
        }
    }
    Ok(page.into_response())
}

/// Checks the create form; the problems found are recorded on it.
fn validate(form: &mut CreateForm, now: Timestamp) -> Option<KeySpecParts> {
    let mut problems = Vec::new();
    if let Err(e) = synaptiq_types::keys::validate_name(&form.name) {
        problems.push(FieldProblem {
            field: "name",
            message: e.message.replace("name must", "The name must"),
        });
    }
    let scope = Scope::parse(&form.scope);
    if scope.is_none() {
        problems.push(FieldProblem {
            field: "scope",
            message: "Choose read, write or admin.".into(),
        });
    }
    let env = Environment::parse(&form.environment);
    if env.is_none() {
        problems.push(FieldProblem {
            field: "environment",
            message: "Choose live or test.".into(),
        });
    }
    let expires_at = match form.expires_on.trim() {
        "" => None,
        d => match parse_date(d) {
            Some(t) if t > now => Some(t),
            Some(_) => {
                problems.push(FieldProblem {
                    field: "expires_on",
                    message: "The expiry date must be in the future.".into(),
                });
                None
            }
            None => {
                problems.push(FieldProblem {
                    field: "expires_on",
                    message: "Use a date like 2027-01-31.".into(),
                });
                None
            }
        },
    };
    let listed: Vec<String> = form
        .allowed_ips
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let allowed_ips = keys::parse_allowed_ips(&listed).unwrap_or_else(|e| {
        problems.push(FieldProblem {
            field: "allowed_ips",
            message: e.message,
        });
        Vec::new()
    });
    form.problems = problems;
    match (scope, env) {
        (Some(scope), Some(env)) if form.problems.is_empty() => Some(KeySpecParts {
            scope,
            env,
            expires_at,
            allowed_ips,
        }),
        _ => None,
    }
}

struct KeySpecParts {
    scope: Scope,
    env: Environment,
    expires_at: Option<Timestamp>,
    allowed_ips: Vec<String>,
}

/// Midnight UTC at the start of `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<Timestamp> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).ok()?;
    Some(Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000))
}

/// `POST /dashboard/keys`: creates a key and shows its secret once.
pub async fn create(
    State(app): State<AppState>,
    user: DashUser,
    body: Bytes,
) -> Result<Response, DashError> {
    let mut form: CreateForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let now = Timestamp::now();
    let Some(parts) = validate(&mut form, now) else {
        let env = env_param(Some(&form.environment));
        let mut page = build(&app, &user, env).await?;
        page.form = form;
        return Ok((axum::http::StatusCode::BAD_REQUEST, page).into_response());
    };
    let spec = KeySpec {
        org_id: user.org.id.clone(),
        environment: parts.env,
        scope: parts.scope,
        name: form.name.trim().to_owned(),
        expires_at: parts.expires_at,
        allowed_ips: parts.allowed_ips,
        rotated_from: None,
    };
    let (rec, secret) = app
        .services
        .issue_key(&app.pepper, spec, &user.actor())
        .await?;
    let mut page = build(&app, &user, parts.env).await?;
    page.created = Some(NewSecret {
        secret: secret.expose().to_owned(),
        key: KeyRow::new(&rec, now),
    });
    Ok(page.into_response())
}

/// Formats an old key's deadline for the rotation panel.
pub fn deadline(old: &KeyRecord, now: Timestamp) -> Option<When> {
    old.expires_at.filter(|t| *t > now).map(|t| when(t, now))
}
