//! In-memory rate limiting: one GCRA bucket per API key, and a stricter bucket per client IP
//! for failed authentications.
//!
//! Written by hand rather than with `governor` because limits differ per key (scope × plan,
//! changing with the plan), and the same arithmetic ([`synaptiq_core::gcra`]) must run in the
//! Redis script for multi-node limits. Buckets live in sharded mutex-protected maps: each check
//! is one short critical section, so concurrent requests never lose an update.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use synaptiq_core::gcra::{Decision, Rate};

const SHARDS: usize = 32;
/// Buckets untouched for this long are full again and can be dropped.
const IDLE_NS: u64 = 120_000_000_000;

struct Shards<K> {
    shards: Vec<Mutex<HashMap<K, u64>>>,
    /// One hasher for all threads, so a key always lands in the same shard.
    hasher: std::hash::RandomState,
}

impl<K: std::hash::Hash + Eq> Shards<K> {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    fn shard(&self, k: &K) -> &Mutex<HashMap<K, u64>> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(k);
        &self.shards[(h as usize) % SHARDS]
    }
}

/// The outcome of a check, ready for response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Requests per minute.
    pub limit: u32,
    /// The GCRA decision.
    pub decision: Decision,
    /// Unix seconds at which the bucket is full again.
    pub reset_unix: i64,
}

impl Verdict {
    /// Whole seconds to wait before retrying (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.decision.retry_after_ns.div_ceil(1_000_000_000).max(1)
    }
}

/// Per-key and per-IP buckets.
pub struct RateLimiter {
    start: Instant,
    start_unix_ns: u64,
    keys: Shards<String>,
    ips: Shards<IpAddr>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        let start_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            start: Instant::now(),
            start_unix_ns,
            keys: Shards::new(),
            ips: Shards::new(),
        }
    }
}

impl RateLimiter {
    /// Monotonic nanoseconds, offset so a fresh bucket (TAT 0) is always full.
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX) + IDLE_NS * 1000
    }

    fn verdict(&self, limit: u32, now: u64, decision: Decision) -> Verdict {
        let unix_now = self.start_unix_ns + (now - IDLE_NS * 1000);
        let reset_unix = (unix_now + decision.reset_after_ns).div_ceil(1_000_000_000);
        Verdict {
            limit,
            decision,
            reset_unix: i64::try_from(reset_unix).unwrap_or(i64::MAX),
        }
    }

    fn spend<K: std::hash::Hash + Eq + Clone>(
        &self,
        shards: &Shards<K>,
        k: &K,
        rate: Rate,
        commit: bool,
    ) -> Verdict {
        let now = self.now_ns();
        let shard = shards.shard(k);
        let decision = match shard.lock() {
            Ok(mut map) => {
                let tat = map.get(k).copied().unwrap_or(0);
                let d = rate.check(tat, now);
                if commit && d.allowed {
                    if map.len() > 100_000 {
                        map.retain(|_, t| *t + IDLE_NS > now);
                    }
                    map.insert(k.clone(), d.new_tat_ns);
                }
                d
            }
            // A poisoned shard means a panic mid-update; refuse rather than guess.
            Err(_) => Rate::per_minute(1).check(u64::MAX / 2, now),
        };
        self.verdict(rate.limit, now, decision)
    }

    /// Spends one request of `key_id`'s bucket (`limit` per minute).
    pub fn check_key(&self, key_id: &str, limit: u32) -> Verdict {
        self.spend(
            &self.keys,
            &key_id.to_owned(),
            Rate::per_minute(limit),
            true,
        )
    }

    /// Reads `key_id`'s bucket without spending.
    pub fn peek_key(&self, key_id: &str, limit: u32) -> Verdict {
        let mut v = self.spend(
            &self.keys,
            &key_id.to_owned(),
            Rate::per_minute(limit),
            false,
        );
        // A peek reports what is left now, not after a hypothetical request.
        if v.decision.allowed {
            v.decision.remaining = v.decision.remaining.saturating_add(1).min(limit);
        }
        v
    }

    /// Records one failed authentication from `ip`; `false` when the IP is over its budget.
    pub fn auth_failure(&self, ip: IpAddr, per_minute: u32) -> Verdict {
        self.spend(&self.ips, &ip, Rate::per_minute(per_minute), true)
    }

    /// Whether `ip` has failed-authentication budget left (without spending).
    pub fn ip_blocked(&self, ip: IpAddr, per_minute: u32) -> bool {
        !self
            .spend(&self.ips, &ip, Rate::per_minute(per_minute), false)
            .decision
            .allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_under_threads() {
        let rl = std::sync::Arc::new(RateLimiter::default());
        let allowed = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (rl, allowed) = (rl.clone(), allowed.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        if rl.check_key("key_x", 120).decision.allowed {
                            allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        // 800 attempts within well under a second: the burst (120) plus at most one refill.
        let n = allowed.load(std::sync::atomic::Ordering::Relaxed);
        assert!((120..=122).contains(&n), "{n}");
    }

    #[test]
    fn keys_are_independent_and_ips_throttle() {
        let rl = RateLimiter::default();
        for _ in 0..30 {
            assert!(rl.check_key("a", 30).decision.allowed);
        }
        assert!(!rl.check_key("a", 30).decision.allowed);
        assert!(rl.check_key("b", 30).decision.allowed);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..5 {
            assert!(!rl.ip_blocked(ip, 5));
            rl.auth_failure(ip, 5);
        }
        assert!(rl.ip_blocked(ip, 5));
    }
}
