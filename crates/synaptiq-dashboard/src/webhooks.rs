//! The webhooks page: the environment's endpoints with their health, and adding one (its
//! signing secret shown once). The rules are `synaptiq_app::webhooks`', the same as the API's:
//! a refused URL or subscription comes back as a problem on the form.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use synaptiq_app::webhooks::{WebhookError, WebhookPolicy};
use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_core::scope::Environment;
use synaptiq_types::FieldError;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::CreateWebhookEndpoint;

use crate::keys::FieldProblem;
use crate::view::When;
use crate::webhook_view::{EndpointRow, TypeChoice, type_choices};
use crate::{Chrome, DashError, DashUser, env_param};
use synaptiq_server::AppState;

/// Endpoints listed (one page of the store's largest).
pub const LISTED: u32 = 100;

impl From<WebhookError> for DashError {
    /// Outside a form (where [`EndpointForm::refused`] shows it), a refusal is explained on
    /// the error page.
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(f) => DashError::Invalid(f.message),
            WebhookError::NotFound => DashError::NotFound("webhook endpoint"),
            WebhookError::Disabled => DashError::Invalid(
                "This endpoint is disabled, so nothing can be sent to it. Enable it first, \
                 then try again."
                    .into(),
            ),
            WebhookError::Store(e) => e.into(),
        }
    }
}

/// A secret to show once: after adding an endpoint, or after rotating its secret.
#[derive(Debug, Clone)]
pub struct ShownSecret {
    /// `whsec_…`.
    pub secret: String,
    /// The endpoint.
    pub endpoint: EndpointRow,
    /// Whether it replaced another (a rotation).
    pub rotated: bool,
    /// Until when the old secret signs too (a rotation with a grace period).
    pub old_until: Option<When>,
}

/// The add form: what was typed and what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct EndpointForm {
    /// `https://…`.
    pub url: String,
    /// A note.
    pub description: String,
    /// The event types ticked.
    pub events: Vec<String>,
    /// Whether "All events" is ticked.
    pub all: bool,
    /// Problems found on submission.
    pub problems: Vec<FieldProblem>,
}

impl EndpointForm {
    /// Reads the submitted form (`events` repeats, one per ticked box; `*` is "All events").
    pub fn parse(body: &[u8]) -> (Self, Environment) {
        let mut form = Self::default();
        let mut env = None;
        for (k, v) in form_urlencoded::parse(body) {
            match &*k {
                "url" => form.url = v.trim().to_owned(),
                "description" => form.description = v.into_owned(),
                "events" if v == "*" => form.all = true,
                "events" => form.events.push(v.into_owned()),
                "env" => env = Some(env_param(Some(&v))),
                _ => {}
            }
        }
        (form, env.unwrap_or(Environment::Live))
    }

    /// The API request it amounts to: every type when "All events" is ticked.
    pub fn request(&self) -> CreateWebhookEndpoint {
        CreateWebhookEndpoint {
            url: self.url.clone(),
            events: if self.all {
                vec!["*".to_owned()]
            } else {
                self.events.clone()
            },
            description: Some(self.description.clone()).filter(|d| !d.trim().is_empty()),
            secret: None,
        }
    }

    /// Records the application's refusal on the field it names.
    pub fn refused(&mut self, e: FieldError) {
        let (field, message) = match e.param.as_str() {
            "events" if !self.all && self.events.is_empty() => (
                "events",
                "Choose the event types to receive, or All events.".to_owned(),
            ),
            "events" => ("events", sentence(&e.message, "events", "Events")),
            "description" => (
                "description",
                sentence(&e.message, "description", "The description"),
            ),
            _ => ("url", sentence(&e.message, "url", "The URL")),
        };
        self.problems.push(FieldProblem { field, message });
    }

    /// The problem of `field`, if any.
    pub fn problem(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|p| p.field == field)
            .map(|p| p.message.as_str())
    }
}

/// The API's message for a form: `url must use https` → `The URL must use https.`
fn sentence(message: &str, param: &str, subject: &str) -> String {
    let body = match message.strip_prefix(param) {
        Some(rest) if rest.starts_with(" refused") => format!("{subject} was{rest}"),
        Some(rest) => format!("{subject}{rest}"),
        None => message.to_owned(),
    };
    let mut chars = body.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The webhooks page.
#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    /// Navigation and identity.
    pub chrome: Chrome,
    /// The environment's endpoints, newest first.
    pub endpoints: Vec<EndpointRow>,
    /// How many it has.
    pub total: u64,
    /// Whether it has more than are listed (above [`LISTED`]).
    pub more: bool,
    /// The secret just issued.
    pub shown: Option<ShownSecret>,
    /// A one-line confirmation.
    pub notice: Option<String>,
    /// The add form.
    pub form: EndpointForm,
    /// The catalogue, as checkboxes.
    pub types: Vec<TypeChoice>,
    /// What URLs this server accepts, in words.
    pub url_rule: &'static str,
}

/// What URLs `policy` accepts, in words.
pub fn url_rule(policy: WebhookPolicy) -> &'static str {
    match (policy.allow_http, policy.allow_private) {
        (false, false) => "An https URL on a public address.",
        (true, false) => "An https (or, on this server, http) URL on a public address.",
        (false, true) => "An https URL (this server also allows private and loopback addresses).",
        (true, true) => {
            "An http or https URL (this server also allows private and loopback addresses)."
        }
    }
}

/// The page for `env` with nothing just done.
pub async fn build(
    app: &AppState,
    user: &DashUser,
    env: Environment,
) -> Result<WebhooksPage, DashError> {
    let page = PageRequest::new(Some(1), Some(LISTED))?;
    let (list, total) = app.store.list_endpoints(&user.org.id, env, page).await?;
    let now = Timestamp::now();
    Ok(WebhooksPage {
        chrome: Chrome::new(user, "webhooks", env),
        endpoints: list
            .iter()
            .map(|e| EndpointRow::new(&e.to_wire(now), now))
            .collect(),
        more: total > list.len() as u64,
        total,
        shown: None,
        notice: None,
        form: EndpointForm::default(),
        types: type_choices(&[]),
        url_rule: url_rule(app.config.webhooks),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    env: Option<String>,
    enabled: Option<String>,
    disabled: Option<String>,
    deleted: Option<String>,
}

/// `GET /dashboard/webhooks?env=live|test`.
pub async fn page(
    State(app): State<AppState>,
    user: DashUser,
    uri: Uri,
) -> Result<Response, DashError> {
    let q: PageQuery = crate::query(&uri);
    let env = env_param(q.env.as_deref());
    let mut page = build(&app, &user, env).await?;
    let named = |id: &Option<String>| {
        id.as_deref()
            .and_then(|id| page.endpoints.iter().find(|e| e.id == id))
            .map(|e| e.url.clone())
    };
    page.notice = if let Some(url) = named(&q.enabled) {
        Some(format!(
            "Enabled {url}. Deliveries resume, its health starts afresh."
        ))
    } else if let Some(url) = named(&q.disabled) {
        Some(format!(
            "Disabled {url}. Nothing is sent to it; its pending deliveries failed."
        ))
    } else {
        q.deleted
            .is_some()
            .then(|| "Endpoint deleted, with its delivery log.".to_owned())
    };
    Ok(page.into_response())
}

/// `POST /dashboard/webhooks`: adds an endpoint and shows its secret once.
pub async fn create(
    State(app): State<AppState>,
    user: DashUser,
    body: Bytes,
) -> Result<Response, DashError> {
    let (mut form, env) = EndpointForm::parse(&body);
    let result = app
        .services
        .create_endpoint(&user.org.id, env, &form.request())
        .await;
    let (rec, secret) = match result {
        Ok(v) => v,
        Err(WebhookError::Invalid(e)) => {
            form.refused(e);
            let mut page = build(&app, &user, env).await?;
            page.types = type_choices(&form.events);
            page.form = form;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let now = Timestamp::now();
    let mut page = build(&app, &user, env).await?;
    page.shown = Some(ShownSecret {
        secret: secret.encoded(),
        endpoint: EndpointRow::new(&rec.to_wire(now), now),
        rotated: false,
        old_until: None,
    });
    Ok(page.into_response())
}

/// The endpoint id of a path; a malformed one is simply not found.
pub fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, DashError> {
    WebhookEndpointId::parse(raw).map_err(|_| DashError::NotFound("webhook endpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_repeated_events_and_all() {
        let (f, env) = EndpointForm::parse(
            b"csrf=x&env=test&url=+https%3A%2F%2Fa.example%2Fh+&events=lead.created&events=key.created",
        );
        assert_eq!(env, Environment::Test);
        assert_eq!(f.url, "https://a.example/h");
        assert_eq!(f.request().events, ["lead.created", "key.created"]);
        assert_eq!(f.request().description, None);
        let (f, _) = EndpointForm::parse(b"events=*&events=lead.created&description=CRM");
        assert_eq!(f.request().events, ["*"]);
        assert_eq!(f.request().description.as_deref(), Some("CRM"));
    }

    #[test]
    fn refusals_become_sentences_on_their_field() {
        let mut f = EndpointForm::default();
        f.refused(FieldError::new("url", "url must use https (no http here)"));
        f.refused(FieldError::new("events", "events must list 1 to 64"));
        assert_eq!(
            f.problem("url"),
            Some("The URL must use https (no http here).")
        );
        assert_eq!(
            f.problem("events"),
            Some("Choose the event types to receive, or All events.")
        );
        assert_eq!(
            sentence(
                "description must be short",
                "description",
                "The description"
            ),
            "The description must be short."
        );
        assert_eq!(
            sentence("url refused: 10.0.0.1 is private", "url", "The URL"),
            "The URL was refused: 10.0.0.1 is private."
        );
    }
}
