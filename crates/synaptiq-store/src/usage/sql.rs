//! Usage counter SQL and rows.

use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_types::time::Timestamp;

use super::UsageCount;
use crate::db::{Cols, corrupt};
use crate::error::Result;

/// `usage_counts`: `$1` org, `$2` environment, `$3` first hour.
pub(crate) const USAGE_COUNTS: &str = "SELECT key_id, org_id, environment, hour, ok, \
    client_error, rate_limited, server_error FROM key_usage_hourly \
    WHERE org_id = $1 AND environment = $2 AND hour >= $3 ORDER BY key_id, hour";

/// An hourly counter ([`crate::sql::USAGE_COUNTS`]).
pub(crate) fn usage_from_row(row: &impl Cols) -> Result<UsageCount> {
    let n = |col: &str| -> Result<u64> {
        u64::try_from(row.int(col)?).map_err(|_| corrupt("key_usage_hourly counters"))
    };
    Ok(UsageCount {
        key_id: KeyId::parse(&row.text("key_id")?)
            .map_err(|_| corrupt("key_usage_hourly.key_id"))?,
        org_id: OrgId::parse(&row.text("org_id")?)
            .map_err(|_| corrupt("key_usage_hourly.org_id"))?,
        environment: Environment::parse(&row.text("environment")?)
            .ok_or_else(|| corrupt("key_usage_hourly.environment"))?,
        hour: Timestamp(row.int("hour")?),
        ok: n("ok")?,
        client_error: n("client_error")?,
        rate_limited: n("rate_limited")?,
        server_error: n("server_error")?,
    })
}
