-- PostgreSQL twin of migrations/sqlite/0001_init.sql; only the key hash's type differs
-- (BYTEA for BLOB). Keep the two in step: the conformance suite runs on both.
-- Foundation schema. Timestamps are BIGINT milliseconds since the Unix epoch (UTC) so that
-- SQLite and PostgreSQL compare and sort them identically. Every customer-data table carries
-- (org_id, environment) and every query filters on both.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL CHECK (plan IN ('starter', 'pro', 'enterprise')),
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment           TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    name                  TEXT NOT NULL,
    scope                 TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    key_hash              BYTEA NOT NULL UNIQUE,
    pepper_version        INTEGER NOT NULL,
    hint                  TEXT NOT NULL,
    allowed_ips           TEXT NOT NULL DEFAULT '[]',
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT,
    revoked_at            BIGINT,
    exposed_at            BIGINT,
    rotated_from          TEXT,
    rotated_to            TEXT,
    last_used_at          BIGINT,
    last_used_ip          TEXT,
    last_used_user_agent  TEXT,
    -- Soft deletion: the row stays for the audit trail and to answer "revoked".
    deleted_at            BIGINT,
    -- When the expiry sweep recorded `key.expired` for this key.
    expiry_recorded_at    BIGINT
);
CREATE INDEX api_keys_expiry ON api_keys (expires_at) WHERE expiry_recorded_at IS NULL;
CREATE INDEX api_keys_by_org ON api_keys (org_id, environment, created_at);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment     TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    email           TEXT NOT NULL,
    email_norm      TEXT NOT NULL,
    name            TEXT,
    company         TEXT,
    title           TEXT,
    phone           TEXT,
    status          TEXT NOT NULL,
    score           INTEGER NOT NULL,
    source          TEXT NOT NULL,
    tags            TEXT NOT NULL,
    custom_fields   TEXT NOT NULL,
    first_seen_at   BIGINT NOT NULL,
    last_active_at  BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (org_id, environment, email_norm)
);
CREATE INDEX leads_by_created ON leads (org_id, environment, created_at);
CREATE INDEX leads_by_updated ON leads (org_id, environment, updated_at);
CREATE INDEX leads_by_score ON leads (org_id, environment, score);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email          TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    type         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    key_id       TEXT,
    ip           TEXT,
    data         TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, environment, created_at);
CREATE INDEX audit_events_by_key ON audit_events (key_id, created_at);

-- Bumped in the same transaction as every change that affects authentication (key revoked,
-- plan changed, …). Servers poll it to invalidate their key caches within a second.
CREATE TABLE change_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL
);
INSERT INTO change_epoch (id, epoch) VALUES (1, 0);
