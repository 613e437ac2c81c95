-- Lead lists at scale: maintained counts and covering indexes.
-- PostgreSQL twin of migrations/sqlite/0003_lead_counts.sql; keep in step. The counters are the
-- same; the triggers differ in form: inserts and deletes are counted per statement (one
-- upsert per counter for a multi-row insert or an organization's cascading delete), and an
-- update takes its two counters' row locks in key order so that concurrent updates moving
-- leads in opposite directions cannot deadlock.
--
-- `lead_counts` holds the number of leads per (organization, environment, status, source),
-- kept exact by the triggers below in the same transaction as the change, so a list's total
-- without a date filter is a sum over at most 20 rows instead of a count over every lead.
-- Rows are never deleted when they reach 0 (a later insert reuses them); they go with their
-- organization.
CREATE TABLE lead_counts (
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    environment  TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (org_id, environment, status, source)
);

CREATE FUNCTION lead_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_counts (org_id, environment, status, source, n)
    SELECT org_id, environment, status, source, COUNT(*) FROM new_leads
    GROUP BY org_id, environment, status, source
    ORDER BY org_id, environment, status, source
    ON CONFLICT (org_id, environment, status, source)
    DO UPDATE SET n = lead_counts.n + excluded.n;
    RETURN NULL;
END;
$$;

-- Also fired by an organization's deletion cascading to its leads; the counters may already be
-- gone then, and an UPDATE of no row is harmless (an upsert would violate the foreign key).
CREATE FUNCTION lead_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead_counts c SET n = c.n - d.n
    FROM (SELECT org_id, environment, status, source, COUNT(*) AS n FROM old_leads
          GROUP BY org_id, environment, status, source) d
    WHERE c.org_id = d.org_id AND c.environment = d.environment
      AND c.status = d.status AND c.source = d.source;
    RETURN NULL;
END;
$$;

CREATE FUNCTION lead_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.org_id, OLD.environment, OLD.status, OLD.source)
       < (NEW.org_id, NEW.environment, NEW.status, NEW.source) THEN
        UPDATE lead_counts SET n = n - 1
        WHERE org_id = OLD.org_id AND environment = OLD.environment
          AND status = OLD.status AND source = OLD.source;
    END IF;
    INSERT INTO lead_counts (org_id, environment, status, source, n)
    VALUES (NEW.org_id, NEW.environment, NEW.status, NEW.source, 1)
    ON CONFLICT (org_id, environment, status, source)
    DO UPDATE SET n = lead_counts.n + 1;
    IF (OLD.org_id, OLD.environment, OLD.status, OLD.source)
       > (NEW.org_id, NEW.environment, NEW.status, NEW.source) THEN
        UPDATE lead_counts SET n = n - 1
        WHERE org_id = OLD.org_id AND environment = OLD.environment
          AND status = OLD.status AND source = OLD.source;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER lead_counts_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_insert();
CREATE TRIGGER lead_counts_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_counts_delete();
-- The API never moves a lead between organizations or environments, but the counts stay exact
-- if anything does.
CREATE TRIGGER lead_counts_update AFTER UPDATE OF org_id, environment, status, source ON leads
    FOR EACH ROW
    WHEN ((OLD.org_id, OLD.environment, OLD.status, OLD.source)
          IS DISTINCT FROM (NEW.org_id, NEW.environment, NEW.status, NEW.source))
    EXECUTE FUNCTION lead_counts_update();

-- Back-filled after the triggers exist: creating them locked the table against writes until
-- this migration commits, so no lead is counted twice or missed.
INSERT INTO lead_counts (org_id, environment, status, source, n)
SELECT org_id, environment, status, source, COUNT(*) FROM leads
GROUP BY org_id, environment, status, source;

-- The list orders by one of these columns, then by id; with the id in the index, the page's
-- ids are read from the index alone (a deferred join fetches only the page's rows).
DROP INDEX leads_by_created;
DROP INDEX leads_by_updated;
DROP INDEX leads_by_score;
CREATE INDEX leads_by_created ON leads (org_id, environment, created_at, id);
CREATE INDEX leads_by_updated ON leads (org_id, environment, updated_at, id);
CREATE INDEX leads_by_score ON leads (org_id, environment, score, id);
