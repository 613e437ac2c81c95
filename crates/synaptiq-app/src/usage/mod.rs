//! Usage, aggregated in memory and written in batches — never a database write per request:
//!
//! - last-use facts (`lastUsedAt`, IP, user agent): at most one row update per key per minute
//!   ([`FACT_INTERVAL_MS`]), sooner when the key's address or user agent changes or it was not
//!   written in the last minute; every pending fact at shutdown;
//! - request counters per (key, hour, outcome: 2xx / 4xx / 429 / 5xx), added to the hourly
//!   counter table by every flush (the dashboard's usage charts).
//!
//! Why once a minute: with every flush (5 s) writing the last use of each active key, 10,000
//! busy keys meant 10,000 row updates every 5 s, on top of 10,000 counter rows; the two cost
//! ≈ 0.8 µs of the server's CPU per request in the random-key benchmark (issue 7). `lastUsedAt` is shown to the minute (dashboard), and a
//! written value is at most a minute and one flush behind the last use; the address and user
//! agent are never behind by more than one flush. What is kept between flushes is a 16-byte
//! record per key written in the last minute, plus the slots of keys whose fact is held back or
//! whose record is in the key cache (below).
//!
//! Requests refused before a key is known (401) have no key and are not counted here.
//!
//! Each key's pending usage is a [`Slot`] that its cached record (the server's
//! `auth::Verified`) holds, so a request records its use without hashing the key id
//! or probing a map. The recorder's map of slots is what a flush walks; a slot leaves it once
//! it is written out and no cached record holds it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment;
use synaptiq_core::short_key::ShortKey;
use synaptiq_store::{KeyRecord, Store, UsageCount, UsageFact};
use synaptiq_types::time::Timestamp;

const HOUR_MS: i64 = 3_600_000;

/// How often one key's last use is written at most (unless its address or agent changes).
pub const FACT_INTERVAL_MS: i64 = 60_000;

/// What one key did since the last flush.
#[derive(Default)]
pub struct KeyUsage {
    /// The newest use not yet written; `None` if none (or the key was only refused).
    pending: Option<Pending>,
    /// Counters, one per hour (rarely more than one; inline, so counting a request touches no
    /// memory beyond the map's slot).
    hours: smallvec::SmallVec<[UsageCount; 1]>,
}

/// A use to write, with its address unformatted and its agent hashed (compared on every
/// request).
struct Pending {
    fact: UsageFact,
    ip: IpAddr,
    agent: u64,
    /// Written at the next flush, whatever the interval: first use since the last write went
    /// out of date, or a new address or agent.
    urgent: bool,
}

/// When a key's fact was last written and a fingerprint of its address and agent: 16 bytes,
/// kept for a minute after the write, by a hash of the key id (a key verified once and never
/// again costs 24 bytes of table for a minute, not a pending entry).
#[derive(Clone, Copy)]
struct Written {
    flushed: Timestamp,
    fingerprint: u64,
}

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One key's pending usage, shared by the recorder's map and the key's cached record.
pub type Slot = Arc<Mutex<KeyUsage>>;

/// Pending facts and counters per key, each key under its own lock: a request takes it once.
///
/// Locks are taken in the order `keys`, then a slot, then `written`, never the other way.
#[derive(Default)]
pub struct UsageRecorder {
    /// Every key with pending usage or held by a cached record.
    keys: Mutex<Map<ShortKey, Slot>>,
    /// The last write of each key written in the last minute, by a hash of its id.
    written: Mutex<Map<u64, Written>>,
    /// Hashes with a seed of this process (agents, key ids and fingerprints are compared by
    /// hash).
    hasher: foldhash::fast::RandomState,
    /// The emptied buffers of the last flush, for the next. Allocated afresh every flush, the
    /// counters' buffer (one row per active key) was new memory each time: the allocator had
    /// returned the last one to the kernel, which then zeroed fresh (huge) pages for it — about
    /// 1% of the server's CPU under 10,000 busy keys, on the thread that serves requests.
    spare: Mutex<(Vec<UsageFact>, Vec<UsageCount>)>,
}

/// Rows of a flush's buffers kept for the next at most (what a burst of more keys needs
/// above it is allocated for that flush and given back).
const SPARE_ROWS: usize = 16_384;

impl UsageRecorder {
    /// An agent (`Option<&str>`), a key id (`&str`) or a fingerprint (`(IpAddr, u64)`).
    fn hash(&self, value: impl std::hash::Hash) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(value)
    }

    /// The slot of the key `key_id`, made if it has none (its cached record keeps it).
    pub fn slot(&self, key_id: &str) -> Slot {
        match self.keys.lock() {
            Ok(mut keys) => slot_of(&mut keys, key_id).clone(),
            // Poisoned (a panic mid-update): this slot is never flushed, but requests go on.
            Err(_) => Slot::default(),
        }
    }

    /// Notes one use of `key` (whose slot is `slot`) at `at` that reached its handler,
    /// answered with `status`.
    pub fn used(
        &self,
        slot: &Mutex<KeyUsage>,
        key: &KeyRecord,
        at: Timestamp,
        ip: IpAddr,
        user_agent: Option<&str>,
        status: u16,
    ) {
        let Ok(mut usage) = slot.lock() else {
            return;
        };
        let usage = &mut *usage;
        match &mut usage.pending {
            Some(p) => {
                p.fact.at = at;
                if p.ip != ip {
                    p.ip = ip;
                    p.fact.ip = ip.to_string();
                    p.urgent = true;
                }
                // By hash: the stored string is a heap read (a cache miss with many keys), the
                // request's agent is at hand.
                let agent = self.hash(user_agent);
                if p.agent != agent {
                    p.fact.user_agent = user_agent.map(truncate);
                    p.agent = agent;
                    p.urgent = true;
                }
            }
            None => {
                // The first use since the last flush: compare with the last write, if recent.
                let agent = self.hash(user_agent);
                let urgent = self.written.lock().map_or(true, |written| {
                    written
                        .get(&self.hash(key.id.as_str()))
                        .is_none_or(|w| w.fingerprint != self.hash((ip, agent)))
                });
                usage.pending = Some(Pending {
                    fact: UsageFact {
                        key_id: key.id.clone(),
                        at,
                        ip: ip.to_string(),
                        user_agent: user_agent.map(truncate),
                    },
                    ip,
                    agent,
                    urgent,
                });
            }
        }
        add_count(usage, key, at, status);
    }

    /// Counts one refused request of `key` (whose slot is `slot`: scope, address or rate
    /// limit) by its status class.
    pub fn count(&self, slot: &Mutex<KeyUsage>, key: &KeyRecord, at: Timestamp, status: u16) {
        if let Ok(mut usage) = slot.lock() {
            add_count(&mut usage, key, at, status);
        }
    }

    /// Counters of one organization and environment not yet written (so the dashboard shows
    /// this node's last seconds too).
    pub fn pending_counts(&self, org: &OrgId, env: Environment) -> Vec<UsageCount> {
        let Ok(keys) = self.keys.lock() else {
            return Vec::new();
        };
        let mut counts = Vec::new();
        for slot in keys.values() {
            if let Ok(u) = slot.lock() {
                let mine = u.hours.iter();
                counts.extend(
                    mine.filter(|c| &c.org_id == org && c.environment == env)
                        .cloned(),
                );
            }
        }
        counts
    }

    /// Writes what is due (see the module documentation): the facts in one transaction, the
    /// counters in another. On failure both are kept for the next try (counters are added
    /// back; a fact is kept unless a newer one arrived).
    pub async fn flush(&self, store: &dyn Store) {
        self.write(store, Timestamp::now(), false).await;
    }

    /// Writes every pending fact and counter (at shutdown: nothing acknowledged is lost).
    pub async fn flush_all(&self, store: &dyn Store) {
        self.write(store, Timestamp::now(), true).await;
    }

    /// Takes what is due at `now` (everything if `all`) out of the pending state. A slot stays
    /// in the map while its fact is held back or a cached record holds it; write records older
    /// than a minute go.
    fn take_due(&self, now: Timestamp, all: bool) -> (Vec<UsageFact>, Vec<UsageCount>) {
        let (mut batch, mut counts) = self
            .spare
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default();
        let Ok(mut keys) = self.keys.lock() else {
            return (batch, counts);
        };
        let recent = |w: &Written| now.millis() - w.flushed.millis() < FACT_INTERVAL_MS;
        if let Ok(mut written) = self.written.lock() {
            written.retain(|_, w| recent(w));
        }
        keys.retain(|_, slot| {
            let held = Arc::strong_count(slot) > 1;
            let Ok(mut u) = slot.lock() else {
                return held;
            };
            let u = &mut *u;
            counts.extend(u.hours.drain(..));
            let Some(p) = &u.pending else {
                return held;
            };
            let Ok(mut written) = self.written.lock() else {
                return true;
            };
            let id = self.hash(p.fact.key_id.as_str());
            if all || p.urgent || !written.contains_key(&id) {
                let fingerprint = self.hash((p.ip, p.agent));
                written.insert(
                    id,
                    Written {
                        flushed: now,
                        fingerprint,
                    },
                );
                batch.extend(u.pending.take().map(|p| p.fact));
                return held;
            }
            // Held back: the entry (with its fact) stays for a later flush.
            true
        });
        (batch, counts)
    }

    async fn write(&self, store: &dyn Store, now: Timestamp, all: bool) {
        let (mut batch, mut counts) = self.take_due(now, all);
        if !batch.is_empty()
            && let Err(e) = store.record_usage(&batch).await
        {
            tracing::warn!(error = %e, keys = batch.len(), "could not write key usage; will retry");
            self.restore_facts(std::mem::take(&mut batch));
        }
        if !counts.is_empty()
            && let Err(e) = store.record_usage_counts(&counts).await
        {
            tracing::warn!(error = %e, rows = counts.len(), "could not write usage counters; will retry");
            self.restore(std::mem::take(&mut counts));
        }
        batch.clear();
        counts.clear();
        batch.shrink_to(SPARE_ROWS);
        counts.shrink_to(SPARE_ROWS);
        if let Ok(mut spare) = self.spare.lock() {
            *spare = (batch, counts);
        }
    }

    /// Puts facts that could not be written back, to be written at the next flush; a newer
    /// fact that arrived meanwhile wins.
    fn restore_facts(&self, batch: Vec<UsageFact>) {
        if let Ok(mut written) = self.written.lock() {
            for fact in &batch {
                written.remove(&self.hash(fact.key_id.as_str()));
            }
        }
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        for fact in batch {
            let Ok(mut u) = slot_of(&mut keys, fact.key_id.as_str()).lock() else {
                continue;
            };
            match &mut u.pending {
                Some(p) => p.urgent = true,
                None => {
                    u.pending = Some(Pending {
                        ip: fact.ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                        agent: self.hash(fact.user_agent.as_deref()),
                        fact,
                        urgent: true,
                    });
                }
            }
        }
    }

    /// Adds counters that could not be written back to the pending ones.
    fn restore(&self, counts: Vec<UsageCount>) {
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        for c in counts {
            let Ok(mut u) = slot_of(&mut keys, c.key_id.as_str()).lock() else {
                continue;
            };
            let hours = &mut u.hours;
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

/// The slot of `key_id` in the recorder's map, made if it has none (keyed inline: no
/// allocation for a key that has one).
fn slot_of<'m>(keys: &'m mut Map<ShortKey, Slot>, key_id: &str) -> &'m Slot {
    keys.entry(ShortKey::new(key_id)).or_default()
}

/// Adds one answer with HTTP status `code` at `at` to the counters (1xx/3xx are not counted).
fn add_count(usage: &mut KeyUsage, key: &KeyRecord, at: Timestamp, code: u16) {
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

/// The user agent as stored: at most 256 characters.
fn cut(ua: &str) -> &str {
    if ua.len() <= 256 {
        return ua;
    }
    ua.char_indices().nth(256).map_or(ua, |(i, _)| &ua[..i])
}

fn truncate(ua: &str) -> String {
    cut(ua).to_owned()
}

#[cfg(test)]
mod tests;
