-- A version per (organization, environment) that moves with every change to its leads, in the
-- same transaction as the change (triggers). The server caches rendered lead pages under it:
-- a cached page is served only while the version read at the start of the request still
-- equals the one it was rendered under, so every node and the CLI see their changes at once.
-- SQLite twin: migrations/sqlite/0005_lead_versions.sql; keep in step. Here the triggers run
-- once per statement (a bulk change or an organization's cascading delete bumps once).
CREATE TABLE lead_versions (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (org_id, environment)
);

CREATE FUNCTION lead_versions_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_versions (org_id, environment, version)
    SELECT DISTINCT org_id, environment, 1 FROM changed_leads
    ORDER BY org_id, environment
    ON CONFLICT (org_id, environment) DO UPDATE SET version = lead_versions.version + 1;
    RETURN NULL;
END;
$$;

-- Deletions only bump rows that exist (an organization's deletion cascades here after its
-- row is gone; an upsert would violate the foreign key).
CREATE FUNCTION lead_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_versions v SET version = v.version + 1
    FROM (SELECT DISTINCT org_id, environment FROM changed_leads) d
    WHERE v.org_id = d.org_id AND v.environment = d.environment;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_versions_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_versions_upsert();
-- An update is seen through its new rows (the API never moves a lead between organizations
-- or environments; if anything does, the old side is bumped too).
CREATE TRIGGER lead_versions_update AFTER UPDATE ON leads
    REFERENCING NEW TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_versions_upsert();
CREATE TRIGGER lead_versions_update_old AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_versions_bump();
CREATE TRIGGER lead_versions_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS changed_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_versions_bump();

-- Back-filled after the triggers exist (creating them locked the table against writes until
-- this migration commits).
INSERT INTO lead_versions (org_id, environment, version)
SELECT DISTINCT org_id, environment, 1 FROM leads;
