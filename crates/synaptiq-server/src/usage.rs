//! Last-use facts (`lastUsedAt`, IP, user agent), aggregated in memory and written in batches:
//! at most one row update per key per flush interval, never a database write per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use synaptiq_core::ids::KeyId;
use synaptiq_store::{Store, UsageFact};
use synaptiq_types::time::Timestamp;

/// Pending facts, newest per key.
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<KeyId, UsageFact>>,
}

impl UsageRecorder {
    /// Notes one successful use (cheap: one short critical section).
    pub fn note(&self, key_id: &KeyId, ip: IpAddr, user_agent: Option<&str>) {
        let Ok(mut map) = self.pending.lock() else {
            return;
        };
        let at = Timestamp::now();
        match map.get_mut(key_id) {
            Some(f) => {
                f.at = at;
                if f.ip.parse::<IpAddr>().ok() != Some(ip) {
                    f.ip = ip.to_string();
                }
                if f.user_agent.as_deref() != user_agent {
                    f.user_agent = user_agent.map(truncate);
                }
            }
            None => {
                map.insert(
                    key_id.clone(),
                    UsageFact {
                        key_id: key_id.clone(),
                        at,
                        ip: ip.to_string(),
                        user_agent: user_agent.map(truncate),
                    },
                );
            }
        }
    }

    /// Writes everything pending in one batch. On failure the facts are kept for the next try
    /// (unless newer ones arrived meanwhile).
    pub async fn flush(&self, store: &dyn Store) {
        let batch: Vec<UsageFact> = match self.pending.lock() {
            Ok(mut map) => map.drain().map(|(_, f)| f).collect(),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        if let Err(e) = store.record_usage(&batch).await {
            tracing::warn!(error = %e, keys = batch.len(), "could not write key usage; will retry");
            if let Ok(mut map) = self.pending.lock() {
                for f in batch {
                    map.entry(f.key_id.clone()).or_insert(f);
                }
            }
        }
    }
}

fn truncate(ua: &str) -> String {
    ua.chars().take(256).collect()
}
