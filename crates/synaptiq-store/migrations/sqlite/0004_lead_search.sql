-- Lead search without a scan: an FTS5 trigram index over what the search matches (name,
-- normalized email, company). PostgreSQL twin (pg_trgm indexes):
-- migrations/postgres/0004_lead_search.sql.
--
-- `leads_search` is an external-content table: it stores only the index, keyed by the leads'
-- rowids, and the triggers below keep it in step in the same transaction as the change. The
-- trigram tokenizer folds case, so a needle of 3 or more characters finds a superset of the
-- leads the search's `LIKE` conditions match, and the search then tests those conditions on
-- the candidates only (it never trusts the index alone: results are the same as a scan's).
-- The leads table has no INTEGER PRIMARY KEY, so a VACUUM may renumber its rowids; after one,
-- run `INSERT INTO leads_search(leads_search) VALUES ('rebuild')`.
CREATE VIRTUAL TABLE leads_search USING fts5(
    name, email_norm, company,
    content = 'leads', content_rowid = 'rowid', tokenize = 'trigram'
);

INSERT INTO leads_search (leads_search) VALUES ('rebuild');

CREATE TRIGGER leads_search_insert AFTER INSERT ON leads
BEGIN
    INSERT INTO leads_search (rowid, name, email_norm, company)
    VALUES (NEW.rowid, NEW.name, NEW.email_norm, NEW.company);
END;

CREATE TRIGGER leads_search_delete AFTER DELETE ON leads
BEGIN
    INSERT INTO leads_search (leads_search, rowid, name, email_norm, company)
    VALUES ('delete', OLD.rowid, OLD.name, OLD.email_norm, OLD.company);
END;

CREATE TRIGGER leads_search_update AFTER UPDATE OF name, email_norm, company ON leads
BEGIN
    INSERT INTO leads_search (leads_search, rowid, name, email_norm, company)
    VALUES ('delete', OLD.rowid, OLD.name, OLD.email_norm, OLD.company);
    INSERT INTO leads_search (rowid, name, email_norm, company)
    VALUES (NEW.rowid, NEW.name, NEW.email_norm, NEW.company);
END;
