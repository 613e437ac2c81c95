//! Usage, aggregated in memory and written in batches — never a database write per request:
//!
//! - last-use facts (`lastUsedAt`, IP, user agent): at most one row update per key per flush;
//! - request counters per (key, hour, outcome: 2xx / 4xx / 429 / 5xx), added to the hourly
//!   counter table by the same flush (the dashboard's usage charts).
//!
//! Requests refused before a key is known (401) have no key and are not counted here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::StatusCode;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_store::{KeyRecord, Store, UsageCount, UsageFact};
use synaptiq_types::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;

/// Pending facts, newest per key, and pending counters per (key, hour).
#[derive(Default)]
pub struct UsageRecorder {
    /// The newest fact per key, with its address unformatted (compared on every request).
    pending: Mutex<HashMap<KeyId, (UsageFact, IpAddr)>>,
    /// Pending counters per key, one per hour (rarely more than one).
    counts: Mutex<HashMap<KeyId, Vec<UsageCount>>>,
}

impl UsageRecorder {
    /// Notes one successful use (cheap: one short critical section).
    pub fn note(&self, key_id: &KeyId, ip: IpAddr, user_agent: Option<&str>) {
        let Ok(mut map) = self.pending.lock() else {
            return;
        };
        let at = Timestamp::now();
        match map.get_mut(key_id) {
            Some((f, last_ip)) => {
                f.at = at;
                if *last_ip != ip {
                    *last_ip = ip;
                    f.ip = ip.to_string();
                }
                if f.user_agent.as_deref() != user_agent {
                    f.user_agent = user_agent.map(truncate);
                }
            }
            None => {
                map.insert(
                    key_id.clone(),
                    (
                        UsageFact {
                            key_id: key_id.clone(),
                            at,
                            ip: ip.to_string(),
                            user_agent: user_agent.map(truncate),
                        },
                        ip,
                    ),
                );
            }
        }
    }

    /// Counts one answered request of `key` by its status class (1xx/3xx are not counted).
    pub fn count(&self, key: &KeyRecord, status: StatusCode) {
        let code = status.as_u16();
        if !(200..300).contains(&code) && code < 400 {
            return;
        }
        let hour = Timestamp::now().millis().div_euclid(HOUR_MS) * HOUR_MS;
        let Ok(mut map) = self.counts.lock() else {
            return;
        };
        // Looked up by `&str` first: an owned key (an allocation) only for a key's first request.
        let hours = match map.get_mut(key.id.as_str()) {
            Some(h) => h,
            None => map.entry(key.id.clone()).or_default(),
        };
        let c = match hours.iter().position(|c| c.hour.millis() == hour) {
            Some(i) => &mut hours[i],
            None => {
                hours.push(UsageCount {
                    key_id: key.id.clone(),
                    org_id: key.org_id.clone(),
                    environment: key.environment,
                    hour: Timestamp(hour),
                    ok: 0,
                    client_error: 0,
                    rate_limited: 0,
                    server_error: 0,
                });
                let last = hours.len() - 1;
                &mut hours[last]
            }
        };
        match code {
            200..=299 => c.ok += 1,
            429 => c.rate_limited += 1,
            400..=499 => c.client_error += 1,
            _ => c.server_error += 1,
        }
    }

    /// Counters of one organization and environment not yet written (so the dashboard shows
    /// this node's last seconds too).
    pub fn pending_counts(&self, org: &OrgId, env: Environment) -> Vec<UsageCount> {
        self.counts.lock().map_or_else(
            |_| Vec::new(),
            |map| {
                map.values()
                    .flatten()
                    .filter(|c| &c.org_id == org && c.environment == env)
                    .cloned()
                    .collect()
            },
        )
    }

    /// Writes everything pending: the facts in one transaction, the counters in another. On
    /// failure both are kept for the next try (counters are added back; a fact is kept unless
    /// a newer one arrived).
    pub async fn flush(&self, store: &dyn Store) {
        let batch: Vec<UsageFact> = match self.pending.lock() {
            Ok(mut map) => map.drain().map(|(_, (f, _))| f).collect(),
            Err(_) => return,
        };
        let counts: Vec<UsageCount> = match self.counts.lock() {
            Ok(mut map) => map.drain().flat_map(|(_, c)| c).collect(),
            Err(_) => Vec::new(),
        };
        if batch.is_empty() && counts.is_empty() {
            return;
        }
        if !batch.is_empty()
            && let Err(e) = store.record_usage(&batch).await
        {
            tracing::warn!(error = %e, keys = batch.len(), "could not write key usage; will retry");
            if let Ok(mut map) = self.pending.lock() {
                for f in batch {
                    let ip = f.ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                    map.entry(f.key_id.clone()).or_insert((f, ip));
                }
            }
        }
        if !counts.is_empty()
            && let Err(e) = store.record_usage_counts(&counts).await
        {
            tracing::warn!(error = %e, rows = counts.len(), "could not write usage counters; will retry");
            self.restore(counts);
        }
    }

    /// Adds counters that could not be written back to the pending ones.
    fn restore(&self, counts: Vec<UsageCount>) {
        let Ok(mut map) = self.counts.lock() else {
            return;
        };
        for c in counts {
            let hours = map.entry(c.key_id.clone()).or_default();
            match hours.iter_mut().find(|h| h.hour == c.hour) {
                Some(slot) => {
                    slot.ok += c.ok;
                    slot.client_error += c.client_error;
                    slot.rate_limited += c.rate_limited;
                    slot.server_error += c.server_error;
                }
                None => hours.push(c),
            }
        }
    }
}

fn truncate(ua: &str) -> String {
    ua.chars().take(256).collect()
}
