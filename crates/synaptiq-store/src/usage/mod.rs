//! Hourly request counters per key.

use async_trait::async_trait;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_types::time::Timestamp;

use crate::error::Result;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_usage_store;

/// Hourly request counters per key, written in batches by the usage recorder.
#[async_trait]
pub trait UsageStore {
    /// Adds a batch of counters in one transaction: a (key, hour) already stored is
    /// incremented, so batches from several nodes and several flushes add up.
    async fn record_usage_counts(&self, batch: &[UsageCount]) -> Result<()>;
    /// An organization's counters in one environment from the hour containing `since` on,
    /// ordered by key and hour.
    async fn usage_counts(
        &self,
        org: &OrgId,
        env: Environment,
        since: Timestamp,
    ) -> Result<Vec<UsageCount>>;
}

/// Requests of one key in one UTC hour, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    /// The key.
    pub key_id: KeyId,
    /// Its organization.
    pub org_id: OrgId,
    /// Its environment.
    pub environment: Environment,
    /// Start of the hour (a multiple of 3,600,000 ms).
    pub hour: Timestamp,
    /// 2xx responses.
    pub ok: u64,
    /// 4xx responses other than 429.
    pub client_error: u64,
    /// 429 responses.
    pub rate_limited: u64,
    /// 5xx responses.
    pub server_error: u64,
}
