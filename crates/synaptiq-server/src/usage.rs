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
use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment;
use synaptiq_store::{KeyRecord, Store, UsageCount, UsageFact};
use synaptiq_types::time::Timestamp;

use crate::short_key::ShortKey;

const HOUR_MS: i64 = 3_600_000;

/// What one key did since the last flush.
#[derive(Default)]
struct KeyUsage {
    /// The newest fact, with its address unformatted (compared on every request); `None` if
    /// the key was only refused.
    fact: Option<(UsageFact, IpAddr)>,
    /// Counters, one per hour (rarely more than one; inline, so counting a request touches no
    /// memory beyond the map's slot).
    hours: smallvec::SmallVec<[UsageCount; 1]>,
}

/// Pending facts and counters per key, under one lock: a request takes it once.
#[derive(Default)]
pub struct UsageRecorder {
    keys: Mutex<HashMap<ShortKey, KeyUsage, foldhash::fast::RandomState>>,
}

impl UsageRecorder {
    /// Notes one use of `key` at `at` that reached its handler, answered with `status`.
    pub fn used(
        &self,
        key: &KeyRecord,
        at: Timestamp,
        ip: IpAddr,
        user_agent: Option<&str>,
        status: StatusCode,
    ) {
        let Ok(mut map) = self.keys.lock() else {
            return;
        };
        let usage = entry(&mut map, key);
        match &mut usage.fact {
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
                usage.fact = Some((
                    UsageFact {
                        key_id: key.id.clone(),
                        at,
                        ip: ip.to_string(),
                        user_agent: user_agent.map(truncate),
                    },
                    ip,
                ));
            }
        }
        add_count(usage, key, at, status);
    }

    /// Counts one refused request of `key` (scope, address or rate limit) by its status class.
    pub fn count(&self, key: &KeyRecord, at: Timestamp, status: StatusCode) {
        let Ok(mut map) = self.keys.lock() else {
            return;
        };
        add_count(entry(&mut map, key), key, at, status);
    }

    /// Counters of one organization and environment not yet written (so the dashboard shows
    /// this node's last seconds too).
    pub fn pending_counts(&self, org: &OrgId, env: Environment) -> Vec<UsageCount> {
        self.keys.lock().map_or_else(
            |_| Vec::new(),
            |map| {
                map.values()
                    .flat_map(|u| &u.hours)
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
        let (mut batch, mut counts) = (Vec::<UsageFact>::new(), Vec::<UsageCount>::new());
        match self.keys.lock() {
            Ok(mut map) => {
                for (_, u) in map.drain() {
                    batch.extend(u.fact.map(|(f, _)| f));
                    counts.extend(u.hours);
                }
            }
            Err(_) => return,
        }
        if batch.is_empty() && counts.is_empty() {
            return;
        }
        if !batch.is_empty()
            && let Err(e) = store.record_usage(&batch).await
        {
            tracing::warn!(error = %e, keys = batch.len(), "could not write key usage; will retry");
            if let Ok(mut map) = self.keys.lock() {
                for f in batch {
                    let ip = f.ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                    // A newer fact that arrived meanwhile wins.
                    map.entry(ShortKey::new(f.key_id.as_str()))
                        .or_default()
                        .fact
                        .get_or_insert((f, ip));
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
        let Ok(mut map) = self.keys.lock() else {
            return;
        };
        for c in counts {
            let hours = &mut map
                .entry(ShortKey::new(c.key_id.as_str()))
                .or_default()
                .hours;
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

/// The pending usage of `key` (keyed inline: no allocation, one lookup).
fn entry<'m>(
    map: &'m mut HashMap<ShortKey, KeyUsage, foldhash::fast::RandomState>,
    key: &KeyRecord,
) -> &'m mut KeyUsage {
    map.entry(ShortKey::new(key.id.as_str())).or_default()
}

/// Adds one answer with `status` at `at` to the counters (1xx/3xx are not counted).
fn add_count(usage: &mut KeyUsage, key: &KeyRecord, at: Timestamp, status: StatusCode) {
    let code = status.as_u16();
    if !(200..300).contains(&code) && code < 400 {
        return;
    }
    let hour = at.millis().div_euclid(HOUR_MS) * HOUR_MS;
    let hours = &mut usage.hours;
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

fn truncate(ua: &str) -> String {
    ua.chars().take(256).collect()
}
