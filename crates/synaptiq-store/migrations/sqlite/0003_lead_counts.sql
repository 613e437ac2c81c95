-- Lead lists at scale: maintained counts and covering indexes.
--
-- `lead_counts` holds the number of leads per (organization, environment, status, source),
-- kept exact by the triggers below in the same transaction as the change, so a list's total
-- without a date filter is a sum over at most 20 rows instead of a count over every lead.
-- Rows are never deleted when they reach 0 (a later insert reuses them); they go with their
-- organization. PostgreSQL twin: migrations/postgres/0003_lead_counts.sql; keep in step.
CREATE TABLE lead_counts (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (org_id, environment, status, source)
);

INSERT INTO lead_counts (org_id, environment, status, source, n)
SELECT org_id, environment, status, source, COUNT(*) FROM leads
GROUP BY org_id, environment, status, source;

CREATE TRIGGER lead_counts_insert AFTER INSERT ON leads
BEGIN
    INSERT INTO lead_counts (org_id, environment, status, source, n)
    VALUES (NEW.org_id, NEW.environment, NEW.status, NEW.source, 1)
    ON CONFLICT (org_id, environment, status, source) DO UPDATE SET n = n + 1;
END;

-- Also fired for each lead an organization's deletion cascades to; the counter may already be
-- gone then, and an UPDATE of no row is harmless.
CREATE TRIGGER lead_counts_delete AFTER DELETE ON leads
BEGIN
    UPDATE lead_counts SET n = n - 1
    WHERE org_id = OLD.org_id AND environment = OLD.environment
      AND status = OLD.status AND source = OLD.source;
END;

-- The API never moves a lead between organizations or environments, but the counts stay exact
-- if anything does.
CREATE TRIGGER lead_counts_update AFTER UPDATE OF org_id, environment, status, source ON leads
WHEN OLD.org_id IS NOT NEW.org_id OR OLD.environment IS NOT NEW.environment
  OR OLD.status IS NOT NEW.status OR OLD.source IS NOT NEW.source
BEGIN
    UPDATE lead_counts SET n = n - 1
    WHERE org_id = OLD.org_id AND environment = OLD.environment
      AND status = OLD.status AND source = OLD.source;
    INSERT INTO lead_counts (org_id, environment, status, source, n)
    VALUES (NEW.org_id, NEW.environment, NEW.status, NEW.source, 1)
    ON CONFLICT (org_id, environment, status, source) DO UPDATE SET n = n + 1;
END;

-- The list orders by one of these columns, then by id; with the id in the index, the page's
-- ids are read from the index alone (a deferred join fetches only the page's rows).
DROP INDEX leads_by_created;
DROP INDEX leads_by_updated;
DROP INDEX leads_by_score;
CREATE INDEX leads_by_created ON leads (org_id, environment, created_at, id);
CREATE INDEX leads_by_updated ON leads (org_id, environment, updated_at, id);
CREATE INDEX leads_by_score ON leads (org_id, environment, score, id);
