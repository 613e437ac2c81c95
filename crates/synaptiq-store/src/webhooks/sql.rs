//! Webhook SQL and rows, and the outbox statements every change runs in its transaction.

use synaptiq_core::ids::{OrgId, WebhookEndpointId};
use synaptiq_core::scope::Environment;
use synaptiq_core::webhook::WebhookSecret;
use synaptiq_types::time::Timestamp;

use super::{ClaimedDelivery, DeliveryRecord, EndpointRecord, EventFilter};
use crate::db::{Cols, corrupt};
use crate::error::Result;

/// Endpoint columns.
pub(crate) const ENDPOINT_COLUMNS: &str = "id, org_id, environment, url, description, events, \
    secret, previous_secret, previous_secret_until, enabled, disabled_reason, disabled_at, \
    consecutive_failures, failing_since, created_at, updated_at";

/// `INSERT` of an endpoint, `$1`…`$16` in [`ENDPOINT_COLUMNS`] order.
pub(crate) const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints (id, org_id, \
    environment, url, description, events, secret, previous_secret, previous_secret_until, \
    enabled, disabled_reason, disabled_at, consecutive_failures, failing_since, created_at, \
    updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

/// `UPDATE` of every mutable column: `$1`…`$13` as [`ENDPOINT_COLUMNS`] from `url`, then
/// `$14` org, `$15` environment, `$16` id.
pub(crate) const UPDATE_ENDPOINT: &str = "UPDATE webhook_endpoints SET url = $4, \
    description = $5, events = $6, secret = $7, previous_secret = $8, \
    previous_secret_until = $9, enabled = $10, disabled_reason = $11, disabled_at = $12, \
    consecutive_failures = $13, failing_since = $14, updated_at = $16 \
    WHERE id = $1 AND org_id = $2 AND environment = $3";

/// One endpoint: `$1` org, `$2` environment, `$3` id.
pub(crate) fn endpoint_sql() -> String {
    format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE org_id = $1 AND environment = $2 AND id = $3"
    )
}

/// Delivery columns (with the event's type), `d` the delivery and `m` its message.
pub(crate) const DELIVERY_COLUMNS: &str = "d.event_id, m.type, d.status, d.attempts, \
    d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.last_latency_ms, \
    d.last_response, m.created_at";

/// The deliveries of an endpoint: `$1` endpoint, `$2` status or NULL.
pub(crate) const DELIVERY_FILTER: &str = "FROM webhook_deliveries d \
    JOIN webhook_messages m ON m.id = d.event_id \
    WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.status = $2)";

/// Which endpoints want an event: `$org`, `$env`, `$type` are placeholders to substitute.
const MATCHING: &str = "org_id = $org AND environment = $env AND enabled = TRUE \
    AND (events = '*' OR events LIKE '%,' || $type || ',%')";

/// The outbox, run in a change's transaction after its event row, with placeholders from
/// `$first`: `$first` event id (`evt_`), `+1` org, `+2` environment, `+3` type, `+4` subject
/// id, `+5` data, `+6` time. Three statements, each doing nothing when no endpoint wants the
/// event: the subject's version, the message, one delivery per matching endpoint due now.
pub(crate) fn outbox_from(first: usize) -> [String; 3] {
    let p = |n: usize| format!("${}", first + n);
    let matching = MATCHING
        .replace("$org", &p(1))
        .replace("$env", &p(2))
        .replace("$type", &p(3));
    [
        format!(
            "INSERT INTO webhook_versions (subject_id, version) \
             SELECT {}, 1 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE {matching}) \
             ON CONFLICT (subject_id) DO UPDATE SET version = webhook_versions.version + 1",
            p(4)
        ),
        format!(
            "INSERT INTO webhook_messages (id, org_id, environment, type, subject_id, version, \
             data, created_at) SELECT {}, {}, {}, {}, {}, \
             (SELECT version FROM webhook_versions WHERE subject_id = {}), {}, {} \
             WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE {matching})",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(4),
            p(5),
            p(6)
        ),
        format!(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, \
             next_attempt_at, created_at) SELECT id, {}, 'pending', 0, {}, {} \
             FROM webhook_endpoints WHERE {matching}",
            p(0),
            p(6),
            p(6)
        ),
    ]
}

/// The claim's read: `$1` now, `$2` endpoints to skip (`,a,b,` or empty), `$3` limit; the
/// backend appends its row lock.
pub(crate) const CLAIM_CANDIDATES: &str = "SELECT d.endpoint_id, d.event_id, d.attempts, \
    e.url, e.secret, e.previous_secret, e.previous_secret_until, m.type, m.version, m.data, \
    m.created_at FROM webhook_deliveries d \
    JOIN webhook_endpoints e ON e.id = d.endpoint_id \
    JOIN webhook_messages m ON m.id = d.event_id \
    WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= $1 \
    AND (d.claimed_until IS NULL OR d.claimed_until < $1) AND e.enabled = TRUE \
    AND ($2 = '' OR $2 NOT LIKE '%,' || d.endpoint_id || ',%') \
    ORDER BY d.next_attempt_at LIMIT $3";

/// Fails the pending deliveries of a disabled endpoint: `$1` endpoint.
pub(crate) const FAIL_PENDING: &str = "UPDATE webhook_deliveries SET status = 'failed', \
    next_attempt_at = NULL, claimed_until = NULL, \
    last_error = COALESCE(last_error, 'endpoint_disabled') \
    WHERE endpoint_id = $1 AND next_attempt_at IS NOT NULL";

/// An endpoint ([`ENDPOINT_COLUMNS`]).
pub(crate) fn endpoint_from_row(row: &impl Cols) -> Result<EndpointRecord> {
    let secret = |col: &str| -> Result<Option<WebhookSecret>> {
        row.opt_text(col)?
            .map(|s| WebhookSecret::parse(&s).map_err(|_| corrupt("webhook_endpoints.secret")))
            .transpose()
    };
    let env = row.text("environment")?;
    Ok(EndpointRecord {
        id: WebhookEndpointId::parse(&row.text("id")?)
            .map_err(|_| corrupt("webhook_endpoints.id"))?,
        org_id: OrgId::parse(&row.text("org_id")?).map_err(|_| corrupt("webhook_endpoints"))?,
        environment: Environment::parse(&env).ok_or_else(|| corrupt("webhook_endpoints"))?,
        url: row.text("url")?,
        description: row.opt_text("description")?,
        events: EventFilter::from_column(&row.text("events")?),
        secret: secret("secret")?.ok_or_else(|| corrupt("webhook_endpoints.secret"))?,
        previous_secret: match (
            secret("previous_secret")?,
            row.opt_time("previous_secret_until")?,
        ) {
            (Some(s), Some(until)) => Some((s, until)),
            _ => None,
        },
        enabled: row.boolean("enabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        disabled_at: row.opt_time("disabled_at")?,
        consecutive_failures: row.int("consecutive_failures")?,
        failing_since: row.opt_time("failing_since")?,
        created_at: Timestamp(row.int("created_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
    })
}

/// A delivery ([`DELIVERY_COLUMNS`]).
pub(crate) fn delivery_from_row(row: &impl Cols) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        event_id: row.text("event_id")?,
        kind: row.text("type")?,
        status: row.text("status")?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        last_attempt_at: row.opt_time("last_attempt_at")?,
        last_status: row.opt_int("last_status")?,
        last_error: row.opt_text("last_error")?,
        last_latency_ms: row.opt_int("last_latency_ms")?,
        last_response: row.opt_text("last_response")?,
        created_at: Timestamp(row.int("created_at")?),
    })
}

/// A claimed delivery ([`CLAIM_CANDIDATES`]), its secrets those that sign at `now`.
pub(crate) fn claimed_from_row(row: &impl Cols, now: Timestamp) -> Result<ClaimedDelivery> {
    let parse =
        |s: String| WebhookSecret::parse(&s).map_err(|_| corrupt("webhook_endpoints.secret"));
    let mut secrets = vec![parse(row.text("secret")?)?];
    if let (Some(old), Some(until)) = (
        row.opt_text("previous_secret")?,
        row.opt_time("previous_secret_until")?,
    ) && until > now
    {
        secrets.push(parse(old)?);
    }
    Ok(ClaimedDelivery {
        endpoint_id: WebhookEndpointId::parse(&row.text("endpoint_id")?)
            .map_err(|_| corrupt("webhook_deliveries.endpoint_id"))?,
        url: row.text("url")?,
        secrets,
        event_id: row.text("event_id")?,
        kind: row.text("type")?,
        version: row.int("version")?,
        data: row.text("data")?,
        created_at: Timestamp(row.int("created_at")?),
        attempts: row.int("attempts")?,
    })
}

/// The skip list of a claim as its `$2`.
pub(crate) fn skip_list(skip: &[WebhookEndpointId]) -> String {
    if skip.is_empty() {
        return String::new();
    }
    let ids: Vec<&str> = skip.iter().map(WebhookEndpointId::as_str).collect();
    format!(",{},", ids.join(","))
}
