//! Webhooks: endpoints, the outbox the changes of every other resource write into (see
//! `commit_change`), and the delivery state the worker claims and updates.

use async_trait::async_trait;
use synaptiq_core::ids::{EventId, OrgId, WebhookEndpointId};
use synaptiq_core::scope::Environment;
use synaptiq_core::webhook::WebhookSecret;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::{DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookHealth};

use crate::error::Result;
use crate::events::Actor;

mod imp;
mod imp_delivery;
pub(crate) mod sql;
pub(crate) use imp::impl_webhook_store;
pub(crate) use imp_delivery::impl_delivery_store;

/// How long an endpoint whose every attempt fails stays enabled.
pub const DISABLE_AFTER_MS: i64 = 5 * 24 * 3600 * 1000;

/// Webhook endpoints and their delivery logs, scoped to an organization and environment (the
/// worker's calls are [`DeliveryStore`]'s).
#[async_trait]
pub trait WebhookStore {
    /// Stores a new endpoint.
    async fn create_endpoint(&self, endpoint: &EndpointRecord) -> Result<()>;
    /// One endpoint.
    async fn get_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
    ) -> Result<Option<EndpointRecord>>;
    /// A page of endpoints, newest first, with the total.
    async fn list_endpoints(
        &self,
        org: &OrgId,
        env: Environment,
        page: PageRequest,
    ) -> Result<(Vec<EndpointRecord>, u64)>;
    /// Reads the endpoint under a lock, applies `change` and stores the result; `None` when
    /// absent. Disabling one fails its pending deliveries (`endpoint_disabled`).
    async fn update_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        change: &EndpointChange<'_>,
    ) -> Result<Option<EndpointRecord>>;
    /// Deletes an endpoint and its deliveries; `false` when absent.
    async fn delete_endpoint(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
    ) -> Result<bool>;
    /// A page of an endpoint's deliveries, newest first, with the total; `None` when the
    /// endpoint is absent.
    async fn list_deliveries(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Option<(Vec<DeliveryRecord>, u64)>>;
    /// Schedules one delivery again at `now`, its schedule starting afresh (one in flight on
    /// a worker is left as it is); `None` when the endpoint or the delivery is absent.
    async fn redeliver(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        event: &EventId,
        now: Timestamp,
    ) -> Result<Option<DeliveryRecord>>;
    /// Schedules again every failed delivery of the endpoint whose event happened at or after
    /// `since`; how many (`None` when the endpoint is absent).
    async fn recover(
        &self,
        org: &OrgId,
        env: Environment,
        id: &WebhookEndpointId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<u64>>;
    /// Records `webhook.test` for one endpoint, whatever it subscribes to, due at once.
    async fn send_test(
        &self,
        endpoint: &EndpointRecord,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<DeliveryRecord>;
}

/// The delivery worker's calls, across every organization: claims, outcomes (with each
/// endpoint's health) and pruning.
#[async_trait]
pub trait DeliveryStore {
    /// Claims up to `limit` due deliveries of enabled endpoints (not those in `skip`) until
    /// `lease_until`: no other claim takes them before then (on PostgreSQL rows another node
    /// is claiming are skipped, not waited for). Oldest due first.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        skip: &[WebhookEndpointId],
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Whether any delivery is due and unclaimed at `now` (a read, for an idle worker).
    async fn deliveries_due(&self, now: Timestamp) -> Result<bool>;
    /// Stores the outcome of attempts, in one transaction: each delivery's state, each
    /// endpoint's health, and the disabling of an endpoint that answered 410 or has failed
    /// for [`DISABLE_AFTER_MS`] (recording `webhook.endpoint.disabled`). Returns the
    /// endpoints disabled.
    async fn finish_attempts(&self, outcomes: &[AttemptOutcome]) -> Result<Vec<EndpointRecord>>;
    /// Deletes messages older than `before` that no delivery still waits on (with their
    /// deliveries); how many.
    async fn prune_webhook_messages(&self, before: Timestamp) -> Result<u64>;
}

/// A change to an endpoint, applied under its lock (see `LeadChange`).
pub type EndpointChange<'a> = dyn Fn(&mut EndpointRecord) + Send + Sync + 'a;

/// The event types an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    /// Every type of the catalogue (`["*"]`).
    All,
    /// These types.
    Only(Vec<String>),
}

impl EventFilter {
    /// As stored: `*`, or the types between commas (`,a,b,`) so that one `LIKE` finds a type.
    pub(crate) fn to_column(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Only(types) => format!(",{},", types.join(",")),
        }
    }

    pub(crate) fn from_column(s: &str) -> Self {
        if s == "*" {
            return Self::All;
        }
        Self::Only(
            s.split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The wire form.
    pub fn to_wire(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_owned()],
            Self::Only(types) => types.clone(),
        }
    }
}

/// A stored endpoint.
#[derive(Debug, Clone)]
pub struct EndpointRecord {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Organization.
    pub org_id: OrgId,
    /// Whose events it receives.
    pub environment: Environment,
    /// Where deliveries go.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// What it receives.
    pub events: EventFilter,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// The previous secret and until when it signs too.
    pub previous_secret: Option<(WebhookSecret, Timestamp)>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// `manual`, `gone` or `failing`.
    pub disabled_reason: Option<String>,
    /// When it was disabled.
    pub disabled_at: Option<Timestamp>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i64,
    /// First failure since the last success.
    pub failing_since: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl EndpointRecord {
    /// The secrets that sign at `now`: the current one, then the previous one during its grace.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&WebhookSecret> {
        let mut out = vec![&self.secret];
        if let Some((old, until)) = &self.previous_secret
            && *until > now
        {
            out.push(old);
        }
        out
    }

    /// The wire form at `now` (never the secret).
    pub fn to_wire(&self, now: Timestamp) -> WebhookEndpoint {
        let failing = self.enabled.then_some(self.failing_since).flatten();
        WebhookEndpoint {
            id: self.id.to_string(),
            object: "webhook_endpoint".to_owned(),
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.events.to_wire(),
            environment: self.environment.as_str().to_owned(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            disabled_at: self.disabled_at,
            health: WebhookHealth {
                consecutive_failures: u64::try_from(self.consecutive_failures).unwrap_or(0),
                failing_since: self.failing_since,
                disables_at: failing.map(|t| Timestamp(t.millis() + DISABLE_AFTER_MS)),
            },
            previous_secret_expires_at: self
                .previous_secret
                .as_ref()
                .map(|(_, until)| *until)
                .filter(|until| *until > now),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A stored delivery: one event to one endpoint, with its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its type.
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: Option<Timestamp>,
    /// The last attempt.
    pub last_attempt_at: Option<Timestamp>,
    /// Its HTTP status.
    pub last_status: Option<i64>,
    /// Its error code.
    pub last_error: Option<String>,
    /// Its latency.
    pub last_latency_ms: Option<i64>,
    /// The first 4 KB of its answer.
    pub last_response: Option<String>,
    /// When the event happened.
    pub created_at: Timestamp,
}

impl DeliveryRecord {
    /// The wire form.
    pub fn into_wire(self) -> WebhookDelivery {
        WebhookDelivery {
            id: self.event_id,
            object: "webhook_delivery".to_owned(),
            kind: self.kind,
            status: self.status,
            attempts: u64::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
            last_attempt_at: self.last_attempt_at,
            response_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            response_body: self.last_response,
            latency_ms: self.last_latency_ms.and_then(|l| u64::try_from(l).ok()),
            error: self.last_error,
            created_at: self.created_at,
        }
    }
}

/// A delivery a worker has claimed, with all it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Its URL.
    pub url: String,
    /// Its signing secrets now (the current one first).
    pub secrets: Vec<WebhookSecret>,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its type.
    pub kind: String,
    /// The version of its subject.
    pub version: i64,
    /// The object, as JSON.
    pub data: String,
    /// When the event happened.
    pub created_at: Timestamp,
    /// Attempts made before this one.
    pub attempts: i64,
}

impl ClaimedDelivery {
    /// The body every attempt sends.
    pub fn body(&self) -> String {
        synaptiq_types::webhooks::envelope(
            &self.event_id,
            &self.kind,
            self.created_at,
            self.version,
            &self.data,
        )
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event.
    pub event_id: String,
    /// When the attempt was made.
    pub at: Timestamp,
    /// Attempts made, this one included.
    pub attempts: i64,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    /// The error code, if it failed.
    pub error: Option<String>,
    /// Time to the answer or the failure.
    pub latency_ms: i64,
    /// The first 4 KB of the answer.
    pub response: Option<String>,
    /// What happens next.
    pub next: Next,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A 2xx came: done.
    Delivered,
    /// Failed; try again then.
    RetryAt(Timestamp),
    /// Failed and the schedule is over.
    GiveUp,
    /// The receiver answered 410: the endpoint is disabled at once.
    Gone,
}
