-- The fingerprint of every key pepper version this database has seen (`Pepper::fingerprint`,
-- an HMAC of a fixed label: never the pepper). A node whose pepper does not match refuses to
-- start instead of answering 401 to every key made under the other one.
CREATE TABLE pepper_versions (
    version     INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
