-- One table of domain events, written in the same transaction as the change each describes:
-- the audit log reads the key events from it (and, later, the webhook outbox and the
-- analytics activity feed read all of them). `subject_id` is what the event is about (a key
-- or a lead); `key_id` stays the key acted on, which the audit log filters by; `audited`
-- marks the kinds the audit log shows (`EventKind::audited`), so its pages read an index
-- range of their own however many customer-data events the organization has.
ALTER TABLE audit_events RENAME TO events;
ALTER TABLE events ADD COLUMN subject_id TEXT;
-- Every event recorded before this migration is a key event, and so is any written without
-- `audited` (by the previous release during a rolling upgrade): the default is TRUE.
ALTER TABLE events ADD COLUMN audited BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE events SET subject_id = key_id;
DROP INDEX audit_events_by_org;
DROP INDEX audit_events_by_key;
CREATE INDEX events_audit ON events (org_id, environment, audited, created_at);
CREATE INDEX events_by_key ON events (key_id, created_at);
