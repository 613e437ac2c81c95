-- Lead search without a scan: pg_trgm GIN indexes on the very expressions the search's `LIKE`
-- conditions test, so a needle of 3 or more characters is looked up instead of scanned (the
-- conditions are rechecked on every candidate: results are the same as a scan's).
-- SQLite twin (an FTS5 trigram table): migrations/sqlite/0004_lead_search.sql.
--
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: a database owner may
-- create it. It is created in the default schema if missing; the operator class is named with
-- the schema it is in, wherever that is, so the indexes do not depend on the search path.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO STRICT trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX leads_search_name ON leads '
        'USING gin (lower(COALESCE(name, %L)) %I.gin_trgm_ops)', '', trgm_schema);
    EXECUTE format(
        'CREATE INDEX leads_search_email ON leads USING gin (email_norm %I.gin_trgm_ops)',
        trgm_schema);
    EXECUTE format(
        'CREATE INDEX leads_search_company ON leads '
        'USING gin (lower(COALESCE(company, %L)) %I.gin_trgm_ops)', '', trgm_schema);
END;
$$;
