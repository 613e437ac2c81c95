//! In-memory GCRA buckets.
//!
//! Written by hand rather than with `governor`: limits differ per key (scope × plan, changing
//! with the plan), several buckets must be charged all-or-nothing, and the same arithmetic
//! ([`synaptiq_core::gcra`]) runs in the Redis script. Each owner (a key, or an IP) has one
//! [`Slot`] holding all of its buckets behind a mutex, so one short critical section checks and
//! charges them together and concurrent requests never lose an update. Slots live in sharded
//! maps by owner; a key's cached record ([`crate::auth::Verified`]) also holds its slot, so a
//! request with a known key checks its buckets without hashing its id or probing a map (two
//! lookups and two cache misses per request when requests come from many keys). The map keeps
//! the slot as long as anything holds it, so a key's state survives its record being refreshed
//! or evicted from the key cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use synaptiq_core::gcra::{Decision, Rate};

use super::{Bucket, BucketKind, Outcome};
use synaptiq_core::short_key::ShortKey;

const SHARDS: usize = 32;
/// Buckets untouched for this long are full again and can be dropped (longest period: a day).
const IDLE_NS: u64 = 86_400_000_000_000 + 60_000_000_000;

/// The outcome of one bucket, ready for response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Requests per period.
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

    /// A verdict from a decision taken at `now_unix_ns`.
    pub fn at(limit: u32, decision: Decision, now_unix_ns: u64) -> Self {
        let reset = (now_unix_ns + decision.reset_after_ns).div_ceil(1_000_000_000);
        Self {
            limit,
            decision,
            reset_unix: i64::try_from(reset).unwrap_or(i64::MAX),
        }
    }
}

/// The buckets of one owner: each bucket's theoretical arrival time (GCRA TAT). Room for one
/// inline: most keys have only their per-minute bucket (a route cap or a daily quota moves
/// them to the heap), and as a slot is kept at least a day after its last use (a daily bucket's
/// window; dropped only once its shard passes 100,000 owners), each inline bucket costs 40
/// bytes per key seen (≈ 40 MB at 1,000,000 keys).
pub type OwnerBuckets = SmallVec<[(BucketKind, u64); 1]>;

/// All buckets of one owner, shared by the owner map and (for a key) its cached record.
pub type Slot = Arc<Mutex<OwnerBuckets>>;

/// Buckets in memory.
pub struct LocalBuckets {
    start: Instant,
    start_unix_ns: u64,
    shards: Vec<Mutex<HashMap<ShortKey, Slot, foldhash::fast::RandomState>>>,
    /// One hasher for all threads, so an owner always lands in the same shard.
    hasher: foldhash::fast::RandomState,
}

impl Default for LocalBuckets {
    fn default() -> Self {
        let start_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            start: Instant::now(),
            start_unix_ns,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl LocalBuckets {
    /// Monotonic nanoseconds, offset so that a fresh bucket (TAT 0) is always full.
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX) + IDLE_NS
    }

    fn shard(&self, owner: &str) -> &Mutex<HashMap<ShortKey, Slot, foldhash::fast::RandomState>> {
        use std::hash::BuildHasher;
        &self.shards[(self.hasher.hash_one(owner) as usize) % SHARDS]
    }

    /// The slot of `owner`, made if it has none yet (a key's cached record keeps it).
    pub fn slot(&self, owner: &str) -> Slot {
        let now = self.now_ns();
        match self.shard(owner).lock() {
            Ok(mut map) => Self::slot_in(&mut map, owner, now),
            // A poisoned shard: a slot of its own still limits this record's requests.
            Err(_) => Slot::default(),
        }
    }

    fn slot_in(
        map: &mut HashMap<ShortKey, Slot, foldhash::fast::RandomState>,
        owner: &str,
        now: u64,
    ) -> Slot {
        if let Some(slot) = map.get(owner.as_bytes()) {
            return slot.clone();
        }
        if map.len() > 100_000 {
            // Drop the slots nothing else holds whose buckets are all full again.
            map.retain(|_, s| {
                Arc::strong_count(s) > 1
                    || s.lock()
                        .map_or(true, |o| o.iter().any(|(_, t)| *t + IDLE_NS > now))
            });
        }
        map.entry(ShortKey::new(owner)).or_default().clone()
    }

    /// Checks all `buckets` of `owner`; charges them all only if all allow (and `spend`). A
    /// peek (`!spend`) at an owner without a slot makes none.
    pub fn check(&self, owner: &str, buckets: &[Bucket], spend: bool) -> Outcome {
        let now = self.now_ns();
        let slot = match self.shard(owner).lock() {
            Ok(mut map) if spend => Some(Self::slot_in(&mut map, owner, now)),
            Ok(map) => map.get(owner.as_bytes()).cloned(),
            Err(_) => return self.poisoned(buckets, now),
        };
        match slot {
            Some(slot) => self.check_slot(&slot, buckets, spend),
            None => self.check_slot(&Mutex::default(), buckets, spend),
        }
    }

    /// What a poisoned lock (a panic mid-update) answers: refused, rather than a guess.
    fn poisoned(&self, buckets: &[Bucket], now: u64) -> Outcome {
        let unix_now = self.start_unix_ns + (now - IDLE_NS);
        let d = Rate::per_minute(1).check(u64::MAX / 2, now);
        let verdicts = buckets
            .iter()
            .map(|b| Verdict::at(b.rate.limit, d, unix_now))
            .collect();
        Outcome {
            verdicts,
            refused: Some(0),
        }
    }

    /// Makes this process's buckets of `owner` (its `slot` when given) what a global check
    /// just charged: each bucket's theoretical arrival time is now plus the `reset_after` the
    /// shared store reported. While Redis answers, this shadow is what a fallback starts
    /// from — the key's last known state across all nodes, not a full allowance.
    pub fn shadow(
        &self,
        owner: &str,
        slot: Option<&Slot>,
        buckets: &[Bucket],
        verdicts: &[Verdict],
    ) {
        let now = self.now_ns();
        let apply = |slot: &Mutex<OwnerBuckets>| {
            let Ok(mut entry) = slot.lock() else { return };
            for (b, v) in buckets.iter().zip(verdicts) {
                let tat = now + v.decision.reset_after_ns;
                match entry.iter_mut().find(|(k, _)| k.same_bucket(&b.kind)) {
                    Some((_, t)) => *t = tat,
                    None => entry.push((b.kind.clone(), tat)),
                }
            }
        };
        match slot {
            Some(s) => apply(s),
            None => {
                if let Ok(mut map) = self.shard(owner).lock() {
                    let s = Self::slot_in(&mut map, owner, now);
                    drop(map);
                    apply(&s);
                }
            }
        }
    }

    /// How far ahead of now each of `buckets` is in this process (0 for one it has not seen):
    /// where a global check starts a bucket Redis does not hold ([`super::redis`]). Makes no
    /// slot.
    pub fn backlog_ns(
        &self,
        owner: &str,
        slot: Option<&Slot>,
        buckets: &[Bucket],
    ) -> SmallVec<[u64; 3]> {
        let now = self.now_ns();
        let read = |slot: &Mutex<OwnerBuckets>| -> SmallVec<[u64; 3]> {
            let Ok(entry) = slot.lock() else {
                return SmallVec::new();
            };
            buckets
                .iter()
                .map(|b| {
                    entry
                        .iter()
                        .find(|(k, _)| k.same_bucket(&b.kind))
                        .map_or(0, |(_, t)| t.saturating_sub(now))
                })
                .collect()
        };
        match slot {
            Some(s) => read(s),
            None => {
                let found = match self.shard(owner).lock() {
                    Ok(map) => map.get(owner.as_bytes()).cloned(),
                    Err(_) => None,
                };
                found.map_or_else(SmallVec::new, |s| read(&s))
            }
        }
    }

    /// [`Self::check`] on the buckets of an owner's `slot` (no map lookup).
    pub fn check_slot(
        &self,
        slot: &Mutex<OwnerBuckets>,
        buckets: &[Bucket],
        spend: bool,
    ) -> Outcome {
        let now = self.now_ns();
        let unix_now = self.start_unix_ns + (now - IDLE_NS);
        let Ok(mut entry) = slot.lock() else {
            return self.poisoned(buckets, now);
        };
        let tat = |b: &Bucket| {
            entry
                .iter()
                .find(|(k, _)| k.same_bucket(&b.kind))
                .map_or(0, |(_, t)| *t)
        };
        let decisions: SmallVec<[Decision; 3]> =
            buckets.iter().map(|b| b.rate.check(tat(b), now)).collect();
        let refused = decisions.iter().position(|d| !d.allowed);
        if spend && refused.is_none() {
            for (b, d) in buckets.iter().zip(&decisions) {
                match entry.iter_mut().find(|(k, _)| k.same_bucket(&b.kind)) {
                    Some((_, t)) => *t = d.new_tat_ns,
                    None => entry.push((b.kind.clone(), d.new_tat_ns)),
                }
            }
        }
        let verdicts = buckets
            .iter()
            .zip(decisions)
            .map(|(b, mut d)| {
                if !spend && d.allowed {
                    // A peek reports what is left now, not after a hypothetical request.
                    d.remaining = d.remaining.saturating_add(1).min(b.rate.limit);
                }
                Verdict::at(b.rate.limit, d, unix_now)
            })
            .collect();
        Outcome { verdicts, refused }
    }
}

#[cfg(test)]
mod tests {
    use super::super::BucketKind;
    use super::*;

    fn minute(n: u32) -> Bucket {
        Bucket {
            rate: Rate::per_minute(n),
            kind: BucketKind::Minute,
        }
    }

    fn route(i: usize, n: u32) -> Bucket {
        Bucket {
            rate: Rate::per_minute(n),
            kind: BucketKind::Route(i, std::sync::Arc::from("GET /x")),
        }
    }

    #[test]
    fn exact_under_threads() {
        let rl = std::sync::Arc::new(LocalBuckets::default());
        let allowed = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (rl, allowed) = (rl.clone(), allowed.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        if rl.check("key_x", &[minute(120)], true).refused.is_none() {
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

    /// A key's slot is the map's: what is spent through one shows through the other, and the
    /// slot (with its state) outlives a dropped holder.
    #[test]
    fn a_slot_is_the_owners_state() {
        let rl = LocalBuckets::default();
        assert!(rl.check("k", &[minute(5)], false).refused.is_none());
        assert!(
            rl.shards.iter().all(|s| s.lock().expect("lock").is_empty()),
            "a peek makes no slot"
        );
        let slot = rl.slot("k");
        assert!(Arc::ptr_eq(&slot, &rl.slot("k")));
        for _ in 0..3 {
            assert!(rl.check_slot(&slot, &[minute(5)], true).refused.is_none());
        }
        assert!(rl.check("k", &[minute(5)], true).refused.is_none());
        drop(slot);
        let again = rl.slot("k");
        assert!(
            again
                .lock()
                .expect("lock")
                .iter()
                .any(|(k, _)| *k == BucketKind::Minute)
        );
        assert_eq!(
            rl.check_slot(&again, &[minute(5)], true).refused,
            None,
            "the fifth"
        );
        assert_eq!(
            rl.check_slot(&again, &[minute(5)], true).refused,
            Some(0),
            "the sixth"
        );
    }

    #[test]
    fn all_or_nothing_across_buckets() {
        let rl = LocalBuckets::default();
        let buckets = [minute(10), route(0, 2)];
        assert!(rl.check("a", &buckets, true).refused.is_none());
        assert!(rl.check("a", &buckets, true).refused.is_none());
        let out = rl.check("a", &buckets, true);
        assert_eq!(out.refused, Some(1));
        // The refused request charged nothing: 8 of 10 left in the minute bucket.
        let peek = rl.check("a", &buckets[..1], false);
        assert_eq!(peek.verdicts[0].decision.remaining, 8);
        assert!(rl.check("b", &[minute(1)], true).refused.is_none());
        // Another owner and another route are other buckets.
        assert!(rl.check("a", &[route(1, 1)], true).refused.is_none());
        assert!(rl.check("b", &[route(0, 2)], true).refused.is_none());
    }
}
