//! The events table: what the store records with every change — who did it ([`Actor`]), what it
//! was about ([`Subject`]) and the event itself ([`NewEvent`]) — and the audit log read from it.

use async_trait::async_trait;
use synaptiq_core::event::EventKind;
use synaptiq_core::ids::{KeyId, LeadId, OrgId, WebhookEndpointId};
use synaptiq_core::scope::Environment;
use synaptiq_types::audit::AuditEvent;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::error::Result;
use crate::keys::KeyRecord;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_audit_store;

/// The events table and the audit log read from it.
#[async_trait]
pub trait AuditStore {
    /// Appends an event that no stored change carries (changes record their own).
    async fn record(&self, event: NewEvent) -> Result<()>;
    /// A page of an organization's audited events ([`synaptiq_core::event::EventKind::audited`])
    /// in one environment, newest first, with the total.
    async fn list_audit(
        &self,
        org: &OrgId,
        env: Environment,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<(Vec<EventRecord>, u64)>;
}

/// Who caused a change; recorded with the change's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A key id, a dashboard user id, `cli`, `bootstrap` or `system`.
    pub id: String,
    /// The client address, when there is one.
    pub ip: Option<String>,
}

impl Actor {
    /// An actor without a client address (CLI, bootstrap, background tasks).
    pub fn local(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            ip: None,
        }
    }

    /// The server itself (expiry sweeps, the plain-HTTP tripwire), seen from `ip` if any.
    pub fn system(ip: Option<String>) -> Self {
        Self {
            id: "system".to_owned(),
            ip,
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An API key (the audit log's `keyId`).
    Key(KeyId),
    /// A lead.
    Lead(LeadId),
    /// A webhook endpoint.
    Endpoint(WebhookEndpointId),
}

impl Subject {
    /// The subject's id as stored.
    pub fn id(&self) -> &str {
        match self {
            Subject::Key(k) => k.as_str(),
            Subject::Lead(l) => l.as_str(),
            Subject::Endpoint(e) => e.as_str(),
        }
    }

    /// The key, when the subject is one.
    pub fn key_id(&self) -> Option<&KeyId> {
        match self {
            Subject::Key(k) => Some(k),
            Subject::Lead(_) | Subject::Endpoint(_) => None,
        }
    }
}

/// An event to record. The store writes one for every change, in the change's own
/// transaction; [`crate::AuditStore::record`] appends one that no change carries.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Organization.
    pub org_id: OrgId,
    /// Environment of the object acted on.
    pub environment: Environment,
    /// What happened.
    pub kind: EventKind,
    /// What it happened to.
    pub subject: Subject,
    /// Who did it.
    pub actor: Actor,
    /// The subject as the API shows it after the change (JSON), for webhooks: an event of
    /// the webhook catalogue with data goes to the outbox of every endpoint that wants it.
    pub data: Option<String>,
}

impl NewEvent {
    /// The event `kind` about `subject` in `org`/`env`, by `actor`.
    pub fn new(
        org: &OrgId,
        env: Environment,
        kind: EventKind,
        subject: Subject,
        actor: &Actor,
    ) -> Self {
        Self {
            org_id: org.clone(),
            environment: env,
            kind,
            subject,
            actor: actor.clone(),
            data: None,
        }
    }

    /// This event with the subject's JSON, as webhooks carry it.
    pub fn with_data(self, data: String) -> Self {
        Self {
            data: Some(data),
            ..self
        }
    }

    /// Whether webhook endpoints may want it (see [`NewEvent::data`]).
    pub(crate) fn for_webhooks(&self) -> Option<&str> {
        self.data
            .as_deref()
            .filter(|_| self.kind.in_webhook_catalogue())
    }

    /// The event `kind` about key `k`, by `actor`, with the key as the API shows it.
    pub fn about_key(k: &KeyRecord, kind: EventKind, actor: &Actor) -> Self {
        let ev = Self::new(
            &k.org_id,
            k.environment,
            kind,
            Subject::Key(k.id.clone()),
            actor,
        );
        match serde_json::to_string(&k.to_wire(Timestamp::now())) {
            Ok(data) => ev.with_data(data),
            Err(_) => ev,
        }
    }
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// Only events about this key.
    pub key_id: Option<KeyId>,
    /// Only events of this type.
    pub kind: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
}

/// A recorded event, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// `aud_` + ULID.
    pub id: String,
    /// Its wire name ([`EventKind::as_str`]).
    pub kind: String,
    /// Who acted.
    pub actor: String,
    /// The key acted on, if any.
    pub key_id: Option<String>,
    /// The client address, when known.
    pub ip: Option<String>,
    /// `live` or `test`.
    pub environment: String,
    /// When it happened.
    pub created_at: Timestamp,
}

impl EventRecord {
    /// The wire form.
    pub fn into_wire(self) -> AuditEvent {
        AuditEvent {
            id: self.id,
            kind: self.kind,
            actor: self.actor,
            key_id: self.key_id,
            ip: self.ip,
            environment: self.environment,
            created_at: self.created_at,
        }
    }
}
