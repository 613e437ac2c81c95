//! Event SQL and rows.

use synaptiq_types::time::Timestamp;

use super::EventRecord;
use crate::db::Cols;
use crate::error::Result;

/// Audit event columns.
pub(crate) const AUDIT_COLUMNS: &str = "id, type, actor, key_id, ip, environment, created_at";

/// The audit filter: `$1` org, `$2` environment, `$3` key id, `$4` type, `$5` since, `$6`
/// until (each optional one NULL when absent). Only the kinds the audit log shows
/// (`audited`, set from [`synaptiq_core::event::EventKind::audited`] when recorded): the
/// events table also holds customer-data events.
pub(crate) const AUDIT_FILTER: &str = "org_id = $1 AND environment = $2 AND audited = TRUE \
    AND ($3 IS NULL OR key_id = $3) AND ($4 IS NULL OR type = $4) \
    AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6)";

/// `INSERT` of an event: `$1` id, `$2` org, `$3` environment, `$4` type, `$5` actor, `$6` key
/// id, `$7` subject id, `$8` ip, `$9` created at, `$10` audited.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (id, org_id, environment, type, \
    actor, key_id, subject_id, ip, created_at, audited) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// [`INSERT_EVENT`] with its placeholders from `$first` on (`$first` id … `$first+9`
/// audited), to follow another statement's in one statement list.
pub(crate) fn insert_event_from(first: usize) -> String {
    let values: Vec<String> = (first..first + 10).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO events (id, org_id, environment, type, actor, key_id, subject_id, ip, \
         created_at, audited) VALUES ({})",
        values.join(", ")
    )
}

/// An audit event ([`crate::sql::AUDIT_COLUMNS`]).
pub(crate) fn audit_from_row(row: &impl Cols) -> Result<EventRecord> {
    Ok(EventRecord {
        id: row.text("id")?,
        kind: row.text("type")?,
        actor: row.text("actor")?,
        key_id: row.opt_text("key_id")?,
        ip: row.opt_text("ip")?,
        environment: row.text("environment")?,
        created_at: Timestamp(row.int("created_at")?),
    })
}
