-- Dashboard: server-side sessions and hourly request counters per key.
-- PostgreSQL twin of migrations/sqlite/0002_dashboard.sql (BYTEA for BLOB); keep in step.
-- Timestamps are BIGINT milliseconds since the Unix epoch, as in 0001.

-- A session is found by the SHA-256 of its token; the token itself is only in the browser's
-- cookie, so a copy of this table opens no session.
CREATE TABLE sessions (
    id_hash     BYTEA PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ip          TEXT,
    user_agent  TEXT
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Requests per key and UTC hour, by outcome; incremented by batched flushes from every node.
CREATE TABLE key_usage_hourly (
    key_id        TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment   TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    hour          BIGINT NOT NULL,
    ok            BIGINT NOT NULL DEFAULT 0,
    client_error  BIGINT NOT NULL DEFAULT 0,
    rate_limited  BIGINT NOT NULL DEFAULT 0,
    server_error  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX key_usage_by_org ON key_usage_hourly (org_id, environment, hour);
