//! Organization SQL and rows.

use synaptiq_core::ids::OrgId;
use synaptiq_core::plan::Plan;
use synaptiq_types::time::Timestamp;

use super::OrgRecord;
use crate::db::{Cols, corrupt};
use crate::error::Result;

/// Organization columns.
pub(crate) const ORG_COLUMNS: &str = "id, name, plan, created_at";

/// `INSERT` of an organization: `$1` id, `$2` name, `$3` plan, `$4` created at.
pub(crate) const INSERT_ORG: &str =
    "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)";

/// `set_plan`: `$1` plan, `$2` organization.
pub(crate) const SET_PLAN: &str = "UPDATE organizations SET plan = $1 WHERE id = $2";

/// An organization ([`crate::sql::ORG_COLUMNS`]).
pub(crate) fn org_from_row(row: &impl Cols) -> Result<OrgRecord> {
    Ok(OrgRecord {
        id: OrgId::parse(&row.text("id")?).map_err(|_| corrupt("organizations.id"))?,
        name: row.text("name")?,
        plan: Plan::parse(&row.text("plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("created_at")?),
    })
}
