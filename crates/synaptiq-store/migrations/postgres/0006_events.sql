-- One table of domain events, written in the same transaction as the change each describes:
-- the audit log reads the key events from it (and, later, the webhook outbox and the
-- analytics activity feed read all of them). `subject_id` is what the event is about (a key
-- or a lead); `key_id` stays the key acted on, which the audit log filters by.
ALTER TABLE audit_events RENAME TO events;
ALTER TABLE events ADD COLUMN subject_id TEXT;
UPDATE events SET subject_id = key_id;
DROP INDEX audit_events_by_org;
DROP INDEX audit_events_by_key;
CREATE INDEX events_by_org ON events (org_id, environment, created_at);
CREATE INDEX events_by_key ON events (key_id, created_at);
