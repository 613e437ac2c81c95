//! Webhook endpoint use cases: what a valid endpoint is (URL, events, secret), creating,
//! changing, rotating its secret, recovering failed deliveries, test deliveries, and the event
//! catalogue with an example per type. Delivery itself is the worker's (`synaptiq-webhooks`).

pub mod address;
mod catalogue;

use synaptiq_core::event::EventKind;
use synaptiq_core::ids::{EventId, OrgId, WebhookEndpointId};
use synaptiq_core::scope::Environment;
use synaptiq_core::webhook::WebhookSecret;
use synaptiq_store::{Actor, DeliveryRecord, EndpointRecord, EventFilter, StoreError};
use synaptiq_types::FieldError;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::{
    CreateWebhookEndpoint, DESCRIPTION_MAX, URL_MAX, UpdateWebhookEndpoint,
};

pub use catalogue::event_types;

use crate::Services;

/// Default grace period of a secret rotation (24 h).
pub const DEFAULT_GRACE_SECS: i64 = 86_400;
/// Longest grace period (7 days).
pub const MAX_GRACE_SECS: i64 = 604_800;
/// How far back a recovery may reach (14 days).
pub const RECOVER_MAX_MS: i64 = 14 * 24 * 3600 * 1000;
/// Most event types one endpoint lists.
pub const EVENTS_MAX: usize = 64;

/// What the operator lets webhooks reach (`--webhook-allow-http`, `--webhook-allow-private`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Plain `http://` URLs (development).
    pub allow_http: bool,
    /// Loopback, private and link-local addresses (development, tests).
    pub allow_private: bool,
}

/// Why a webhook use case failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A field is invalid (400 with its `param`).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// No such endpoint (or delivery) in this organization and environment.
    #[error("not found")]
    NotFound,
    /// The endpoint is disabled: nothing can be sent to it until it is enabled again.
    #[error("The endpoint is disabled: enable it (PATCH with \"enabled\": true) first.")]
    Disabled,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a webhook URL against `policy`: `https` (or `http` when allowed), a host, no
/// credentials, no fragment, at most 2,048 bytes, and a host that is not internal
/// ([`address::check_host`]) unless allowed.
pub async fn check_url(raw: &str, policy: WebhookPolicy) -> Result<String, FieldError> {
    let bad = |m: &str| FieldError::new("url", m);
    if raw.is_empty() || raw.len() > URL_MAX {
        return Err(bad("url must be 1 to 2048 bytes"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("url is not a valid URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(bad(
                "url must use https (this server does not allow plain http webhooks)",
            ));
        }
        _ => return Err(bad("url must be an https:// URL")),
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad("url must name a host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("url must not contain credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("url must not contain a fragment (#…)"));
    }
    if !policy.allow_private {
        let port = url.port_or_known_default().unwrap_or(443);
        address::check_host(host, port)
            .await
            .map_err(|e| bad(&format!("url refused: {e}")))?;
    }
    Ok(url.to_string())
}

/// Checks a subscription: `["*"]`, or 1–64 types of the catalogue (duplicates dropped).
pub fn check_events(events: &[String]) -> Result<EventFilter, FieldError> {
    if events.is_empty() || events.len() > EVENTS_MAX {
        return Err(FieldError::new(
            "events",
            "events must list 1 to 64 event types, or [\"*\"] for all",
        ));
    }
    if events.iter().any(|e| e == "*") {
        return if events.len() == 1 {
            Ok(EventFilter::All)
        } else {
            Err(FieldError::new("events", "\"*\" stands alone: every type"))
        };
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        match EventKind::parse(e).filter(|k| k.in_webhook_catalogue()) {
            Some(_) if out.contains(e) => {}
            Some(_) => out.push(e.clone()),
            None => {
                return Err(FieldError::new(
                    "events",
                    format!("unknown event type {e:?}: see GET /api/v1/webhooks/event-types"),
                ));
            }
        }
    }
    Ok(EventFilter::Only(out))
}

fn check_description(d: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(d) = d.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if d.chars().count() > DESCRIPTION_MAX || d.contains('\0') {
        return Err(FieldError::new(
            "description",
            "description must be at most 500 characters, without U+0000",
        ));
    }
    Ok(Some(d.to_owned()))
}

fn new_secret() -> Result<WebhookSecret, StoreError> {
    WebhookSecret::generate().map_err(|e| StoreError::Internal(format!("no randomness: {e}")))
}

impl Services {
    /// Creates an endpoint in `org`/`env`; returns it with its secret (given, or generated).
    pub async fn create_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        body: &CreateWebhookEndpoint,
    ) -> Result<(EndpointRecord, WebhookSecret), WebhookError> {
        let events = check_events(&body.events)?;
        let description = check_description(body.description.as_deref())?;
        let secret = match &body.secret {
            Some(s) => {
                WebhookSecret::parse(s).map_err(|e| FieldError::new("secret", e.to_string()))?
            }
            None => new_secret()?,
        };
        let url = check_url(&body.url, self.webhooks).await?;
        let now = Timestamp::now();
        let rec = EndpointRecord {
            id: WebhookEndpointId::generate(),
            org_id: org.clone(),
            environment: env,
            url,
            description,
            events,
            secret: secret.clone(),
            previous_secret: None,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            consecutive_failures: 0,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_endpoint(&rec).await?;
        Ok((rec, secret))
    }

    /// Applies a patch: URL (checked like a new one), events, description, `enabled` (a
    /// re-enabled endpoint's health starts afresh; a disabled one's pending deliveries fail).
    pub async fn update_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        patch: &UpdateWebhookEndpoint,
    ) -> Result<EndpointRecord, WebhookError> {
        let events = patch.events.as_deref().map(check_events).transpose()?;
        let description = patch
            .description
            .as_deref()
            .map(|d| check_description(Some(d)))
            .transpose()?;
        let url = match &patch.url {
            Some(u) => Some(check_url(u, self.webhooks).await?),
            None => None,
        };
        let now = Timestamp::now();
        let change = |e: &mut EndpointRecord| {
            if let Some(u) = &url {
                e.url.clone_from(u);
            }
            if let Some(ev) = &events {
                e.events = ev.clone();
            }
            if let Some(d) = &description {
                e.description.clone_from(d);
            }
            match patch.enabled {
                Some(true) if !e.enabled => {
                    e.enabled = true;
                    e.disabled_reason = None;
                    e.disabled_at = None;
                    e.consecutive_failures = 0;
                    e.failing_since = None;
                }
                Some(false) if e.enabled => {
                    e.enabled = false;
                    e.disabled_reason = Some("manual".to_owned());
                    e.disabled_at = Some(now);
                }
                _ => {}
            }
            e.updated_at = now;
        };
        self.store
            .update_endpoint(org, env, id, &change)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Gives the endpoint a new secret; the old one keeps signing too for `grace_secs`.
    pub async fn rotate_endpoint_secret(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        grace_secs: i64,
    ) -> Result<(EndpointRecord, WebhookSecret), WebhookError> {
        if !(0..=MAX_GRACE_SECS).contains(&grace_secs) {
            return Err(FieldError::new(
                "gracePeriodSeconds",
                "gracePeriodSeconds must be between 0 and 604800 (7 days)",
            )
            .into());
        }
        let secret = new_secret()?;
        let now = Timestamp::now();
        let change = |e: &mut EndpointRecord| {
            let old = std::mem::replace(&mut e.secret, secret.clone());
            e.previous_secret = (grace_secs > 0).then(|| (old, now.plus_seconds(grace_secs)));
            e.updated_at = now;
        };
        let rec = self
            .store
            .update_endpoint(org, env, id, &change)
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok((rec, secret))
    }

    /// Schedules again the endpoint's failed deliveries of events since `since` (at most 14
    /// days ago); how many.
    pub async fn recover_deliveries(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        since: Timestamp,
    ) -> Result<u64, WebhookError> {
        let now = Timestamp::now();
        if since.millis() < now.millis() - RECOVER_MAX_MS || since > now {
            return Err(FieldError::new("since", "since must be within the last 14 days").into());
        }
        self.enabled_endpoint(org, env, id).await?;
        self.store
            .recover(org, env, id, since, now)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Sends one delivery again now, its schedule starting afresh.
    pub async fn redeliver(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        event: &EventId,
    ) -> Result<DeliveryRecord, WebhookError> {
        self.enabled_endpoint(org, env, id).await?;
        self.store
            .redeliver(org, env, id, event, Timestamp::now())
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// The endpoint, if it exists and is enabled (a disabled one's deliveries are never
    /// claimed, so scheduling one would wait forever).
    async fn enabled_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
    ) -> Result<EndpointRecord, WebhookError> {
        let e = self
            .store
            .get_endpoint(org, env, id)
            .await?
            .ok_or(WebhookError::NotFound)?;
        if e.enabled {
            Ok(e)
        } else {
            Err(WebhookError::Disabled)
        }
    }

    /// Sends the endpoint a signed `webhook.test` through the outbox (due at once).
    pub async fn send_test_delivery(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        actor: &Actor,
    ) -> Result<DeliveryRecord, WebhookError> {
        let e = self.enabled_endpoint(org, env, id).await?;
        Ok(self.store.send_test(&e, actor, Timestamp::now()).await?)
    }
}

#[cfg(test)]
mod tests;
