-- A version per (organization, environment) that moves with every change to its leads, in the
-- same transaction as the change (triggers). The server caches rendered lead pages under it:
-- a cached page is served only while the version read at the start of the request still
-- equals the one it was rendered under, so every node and the CLI see their changes at once.
-- PostgreSQL twin: migrations/postgres/0005_lead_versions.sql; keep in step.
CREATE TABLE lead_versions (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (org_id, environment)
);

-- Every (organization, environment) holding leads has a row, so the delete trigger (which
-- must not insert: an organization's deletion cascades to its leads) always finds one.
INSERT INTO lead_versions (org_id, environment, version)
SELECT DISTINCT org_id, environment, 1 FROM leads;

CREATE TRIGGER lead_versions_insert AFTER INSERT ON leads
BEGIN
    INSERT INTO lead_versions (org_id, environment, version)
    VALUES (NEW.org_id, NEW.environment, 1)
    ON CONFLICT (org_id, environment) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER lead_versions_update AFTER UPDATE ON leads
BEGIN
    UPDATE lead_versions SET version = version + 1
    WHERE org_id = OLD.org_id AND environment = OLD.environment;
    INSERT INTO lead_versions (org_id, environment, version)
    VALUES (NEW.org_id, NEW.environment, 1)
    ON CONFLICT (org_id, environment) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER lead_versions_delete AFTER DELETE ON leads
BEGIN
    UPDATE lead_versions SET version = version + 1
    WHERE org_id = OLD.org_id AND environment = OLD.environment;
END;
