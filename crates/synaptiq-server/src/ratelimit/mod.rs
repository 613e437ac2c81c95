//! Rate limiting: GCRA buckets per key (per-minute by scope × plan, optional per-route caps and
//! a daily quota), a concurrency cap per key, and a stricter per-IP bucket for failed
//! authentications.
//!
//! One process: [`local`] keeps buckets in memory. Several processes: [`redis`] runs one
//! atomic Lua script per request using Redis `TIME`, so limits are global. When Redis is
//! unreachable or slow (50 ms), requests fall back to the local buckets, the limiter reports
//! itself degraded (`/readyz`, `synaptiq_ratelimit_degraded`), a probe retries every second, and
//! global limits resume when Redis answers again. Failed authentications fail closed while
//! degraded: they are answered 429, never allowed unthrottled. Every answer Redis gives is
//! mirrored into the local buckets (`LocalBuckets::shadow`), so a fallback continues from the
//! key's last known global state instead of handing it a fresh allowance.

pub mod local;
pub mod redis;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use synaptiq_core::gcra::Rate;

use local::LocalBuckets;
pub use local::{Slot, Verdict};

/// How long a request waits for Redis before using local limits.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// Consecutive Redis failures after which the limiter declares itself degraded (one slow
/// answer under load falls back for that request only).
pub const FAILURES_TO_DEGRADE: u32 = 3;

/// What a bucket limits. Together with its owner it names the bucket: the storage id is
/// `<owner>:<suffix>` (`key_…:m`, `key_…:r3`, `key_…:d`, `login:ip:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketKind {
    /// The key's per-minute limit (scope × plan).
    Minute,
    /// A per-route cap: its index in the rate policy and its label for messages.
    Route(usize, Arc<str>),
    /// The daily quota.
    Daily,
    /// Any other bucket of an owner, by name.
    Named(String),
}

impl BucketKind {
    /// Whether two kinds name the same bucket of one owner (route labels are not compared:
    /// the index decides).
    pub fn same_bucket(&self, other: &BucketKind) -> bool {
        match (self, other) {
            (BucketKind::Minute, BucketKind::Minute) | (BucketKind::Daily, BucketKind::Daily) => {
                true
            }
            (BucketKind::Route(a, _), BucketKind::Route(b, _)) => a == b,
            (BucketKind::Named(a), BucketKind::Named(b)) => a == b,
            _ => false,
        }
    }

    /// The storage id of this bucket of `owner`.
    pub fn storage_id(&self, owner: &str) -> String {
        match self {
            BucketKind::Minute => format!("{owner}:m"),
            BucketKind::Route(i, _) => format!("{owner}:r{i}"),
            BucketKind::Daily => format!("{owner}:d"),
            BucketKind::Named(n) => format!("{owner}:{n}"),
        }
    }
}

/// One bucket of an owner to check. Buckets carry no ids of their own: the hot path builds
/// them without allocating.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Its rate.
    pub rate: Rate,
    /// What it limits (and, with the owner, its name).
    pub kind: BucketKind,
}

/// Verdicts of one check, in the order of the buckets (rarely more than three).
pub type Verdicts = smallvec::SmallVec<[Verdict; 3]>;

/// The result of checking all of a request's buckets at once.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Verdicts in the order of the buckets given.
    pub verdicts: Verdicts,
    /// The first refusing bucket, if any (then nothing was spent).
    pub refused: Option<usize>,
}

/// The limiter: local buckets, optionally shared through Redis.
pub struct RateLimiter {
    local: LocalBuckets,
    redis: Option<redis::RedisBuckets>,
    degraded: AtomicBool,
    failures: AtomicU32,
    in_flight: Arc<InFlightTable>,
}

/// In-flight requests per key in this process.
type InFlightTable = Mutex<HashMap<String, u32>>;

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(None)
    }
}

impl RateLimiter {
    /// A limiter, global through Redis when `redis` is given.
    pub fn new(redis: Option<redis::RedisBuckets>) -> Self {
        Self {
            local: LocalBuckets::default(),
            redis,
            degraded: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether limits are per-process because Redis is unreachable.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Whether a Redis backend is configured.
    pub fn is_global(&self) -> bool {
        self.redis.is_some()
    }

    fn set_degraded(&self, now: bool, why: &str) {
        if self.degraded.swap(now, Ordering::AcqRel) != now {
            metrics::gauge!("synaptiq_ratelimit_degraded").set(if now { 1.0 } else { 0.0 });
            if now {
                tracing::warn!(
                    reason = why,
                    "Redis unreachable: rate limits are per-process until it returns"
                );
            } else {
                tracing::info!("Redis reachable again: rate limits are global");
            }
        }
    }

    /// Checks (and, when `spend`, spends from) all buckets of `owner` atomically: either every
    /// bucket allows the request and each is charged, or nothing is charged.
    pub async fn check(&self, owner: &str, buckets: &[Bucket], spend: bool) -> Outcome {
        self.check_or(owner, buckets, spend, None).await
    }

    /// The slot of a key's local buckets, for its cached record ([`Self::check_key`]).
    pub fn key_slot(&self, key_id: &str) -> Slot {
        self.local.slot(key_id)
    }

    /// [`Self::check`] for a key whose local buckets are `slot` (from [`Self::key_slot`]): the
    /// same answer without looking the key up.
    pub async fn check_key(
        &self,
        key_id: &str,
        slot: &Slot,
        buckets: &[Bucket],
        spend: bool,
    ) -> Outcome {
        self.check_or(key_id, buckets, spend, Some(slot)).await
    }

    async fn check_or(
        &self,
        owner: &str,
        buckets: &[Bucket],
        spend: bool,
        slot: Option<&Slot>,
    ) -> Outcome {
        if let Some(r) = &self.redis
            && !self.degraded()
            // Boxed: the Redis round trip's future is large, and inline it made every
            // request's future larger (a request moves its future whole), Redis or not.
            && let Some(outcome) = Box::pin(self.check_redis(r, owner, slot, buckets, spend)).await
        {
            // Refusals too: they carry the bucket's state as Redis has it now (another node
            // may have spent what this one last saw). But when one of several buckets refuses,
            // only its state is exact: the others' includes this request, which nothing was
            // charged for, so they keep their last copy (else every retry of a minute-limited
            // key would eat into its daily quota once that copy reaches Redis).
            if spend {
                match outcome.refused {
                    None => self.local.shadow(owner, slot, buckets, &outcome.verdicts),
                    Some(i) => {
                        if let (Some(b), Some(v)) =
                            (buckets.get(i..=i), outcome.verdicts.get(i..=i))
                        {
                            self.local.shadow(owner, slot, b, v);
                        }
                    }
                }
            }
            return outcome;
        }
        match slot {
            Some(s) => self.local.check_slot(s, buckets, spend),
            None => self.local.check(owner, buckets, spend),
        }
    }

    /// [`Self::check`] in Redis; `None` (counted towards degrading) when Redis failed.
    async fn check_redis(
        &self,
        r: &redis::RedisBuckets,
        owner: &str,
        slot: Option<&Slot>,
        buckets: &[Bucket],
        spend: bool,
    ) -> Option<Outcome> {
        let floors = self.local.backlog_ns(owner, slot, buckets);
        let check = r.check(owner, buckets, &floors, spend);
        let why = match tokio::time::timeout(REDIS_TIMEOUT, check).await {
            Ok(Ok(outcome)) => {
                self.failures.store(0, Ordering::Relaxed);
                return Some(outcome);
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timeout".to_owned(),
        };
        if self.failures.fetch_add(1, Ordering::AcqRel) + 1 >= FAILURES_TO_DEGRADE {
            self.set_degraded(true, &why);
        }
        None
    }

    /// Records a failed authentication from `ip`; the verdict says whether it is within budget.
    /// With Redis configured but unreachable this fails closed (refused).
    pub async fn auth_failure(&self, ip: IpAddr, per_minute: u32) -> Verdict {
        let bucket = [Bucket {
            rate: Rate::per_minute(per_minute),
            kind: BucketKind::Minute,
        }];
        let mut v = self
            .check(&format!("ip:{ip}"), &bucket, true)
            .await
            .verdicts
            .remove(0);
        if self.redis.is_some() && self.degraded() {
            v.decision.allowed = false;
            v.decision.retry_after_ns = v.decision.retry_after_ns.max(1_000_000_000);
        }
        v
    }

    /// Whether `ip` has used up its failed-authentication budget (nothing spent).
    pub async fn ip_blocked(&self, ip: IpAddr, per_minute: u32) -> bool {
        let bucket = [Bucket {
            rate: Rate::per_minute(per_minute),
            kind: BucketKind::Minute,
        }];
        self.check(&format!("ip:{ip}"), &bucket, false)
            .await
            .refused
            .is_some()
    }

    /// Takes one of `cap` in-flight slots of `key_id`; `None` when all are taken. The slot is
    /// released when the returned guard drops; it owns what it needs, so a streamed response
    /// body can hold it until its last byte. (Per process: a slot is held only as long as
    /// this process serves the request.)
    pub fn enter(&self, key_id: &str, cap: u32) -> Option<InFlight> {
        let mut map = self.in_flight.lock().ok()?;
        let n = map.entry(key_id.to_owned()).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(InFlight {
            table: self.in_flight.clone(),
            key_id: key_id.to_owned(),
        })
    }

    /// How many slots of `key_id` are taken now.
    pub fn in_flight(&self, key_id: &str) -> u32 {
        self.in_flight
            .lock()
            .map(|m| m.get(key_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Probes Redis once; used every second while degraded.
    pub async fn probe(&self) {
        if let Some(r) = &self.redis {
            match tokio::time::timeout(Duration::from_millis(500), r.ping()).await {
                Ok(Ok(())) => {
                    self.failures.store(0, Ordering::Relaxed);
                    self.set_degraded(false, "ok");
                }
                Ok(Err(e)) => self.set_degraded(true, &e.to_string()),
                Err(_) => self.set_degraded(true, "timeout"),
            }
        }
    }
}

/// An in-flight slot; released on drop.
pub struct InFlight {
    table: Arc<InFlightTable>,
    key_id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.lock()
            && let Some(n) = map.get_mut(&self.key_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key_id);
            }
        }
    }
}
