-- Webhooks: endpoints, the outbox (one message per event that some endpoint wants, one
-- delivery per matching endpoint, both written in the change's own transaction) and each
-- delivery's state. Identical on both backends.

-- An organization's endpoints in one environment. `events` is '*' or the subscribed types
-- between commas (',lead.created,lead.updated,') so one LIKE matches a type. The secret is
-- stored as the server signs with it (`whsec_…`); during a rotation the previous one signs
-- too until `previous_secret_until`.
CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment            TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    url                    TEXT NOT NULL,
    description            TEXT,
    events                 TEXT NOT NULL,
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  BIGINT,
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    -- Why it was disabled: 'manual', 'gone' (the receiver answered 410) or 'failing'.
    disabled_reason        TEXT,
    disabled_at            BIGINT,
    -- The current run of failed attempts (reset by any success).
    consecutive_failures   BIGINT NOT NULL DEFAULT 0,
    failing_since          BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_id, environment, created_at);

-- The payload of an event some endpoint wanted: the envelope is rebuilt from these columns
-- byte for byte at every attempt. `version` increases with each message about one subject.
CREATE TABLE webhook_messages (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    environment  TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    version      BIGINT NOT NULL,
    data         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);

-- The last version sent about each subject (a lead, a key, an endpoint).
CREATE TABLE webhook_versions (
    subject_id  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL
);

-- One event to one endpoint. `next_attempt_at` is set while an attempt is due (NULL once
-- delivered or given up); a worker claims a row by setting `claimed_until`, so it is in
-- flight on one node, and a crashed node's claim lapses.
CREATE TABLE webhook_deliveries (
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_messages(id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    claimed_until    BIGINT,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    last_latency_ms  BIGINT,
    last_response    TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);
