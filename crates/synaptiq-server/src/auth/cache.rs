//! The key cache: verified keys by their HMAC, bounded, cleared by the change epoch and by
//! every key change made through this server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use synaptiq_core::hash::KeyHash;

use super::{MAX_ENTRIES, NEGATIVE_TTL, POSITIVE_TTL, Verified};

/// Lookup result of the cache.
pub enum Cached {
    /// Known key.
    Found(Arc<Verified>),
    /// Known not to exist (recently).
    Missing,
    /// Not in the cache: ask the store, then [`KeyCache::put`] the answer with this
    /// generation (an answer read before a [`KeyCache::clear`] is not kept).
    Unknown(Generation),
}

/// The cache's generation when a lookup missed; see [`Cached::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// Shards of the cache (a power of two): a lookup read-locks one of them.
const SHARDS: usize = 64;

/// One cached answer, a cache line of its own: the table keeps the whole entry in its bucket,
/// so a lookup reads the table's control bytes, this line and then the record.
#[repr(C, align(64))]
struct Slot {
    hash: KeyHash,
    /// When the answer was read from the store.
    at: Instant,
    /// The key, or `None` for a hash that matched no key.
    rec: Option<Arc<Verified>>,
    /// Hit since the last sweep of its shard (second-chance eviction).
    used: AtomicBool,
}

impl Slot {
    /// Whether the answer is still to be trusted at `now`: a key for [`POSITIVE_TTL`], an
    /// unknown hash for [`NEGATIVE_TTL`]. Saturating: `now` may be a little older than an
    /// answer another request just put.
    fn fresh(&self, now: Instant) -> bool {
        let ttl = if self.rec.is_some() {
            POSITIVE_TTL
        } else {
            NEGATIVE_TTL
        };
        now.saturating_duration_since(self.at) < ttl
    }
}

/// Verified keys (and recently unknown hashes) by hash, bounded.
///
/// Written here over `hashbrown`'s raw table rather than taken from a cache crate, because the
/// lookup is on every request and its memory accesses are the cost: quick_cache (used before
/// this) keeps an index table pointing into a separate entry list, so a lookup of a key not in
/// the CPU's caches waited for the index, then the entry, then the record — three dependent
/// misses. Here the bucket holds the whole entry (one line), and the key hash is already
/// uniformly random (HMAC output), so its bytes serve as the table hash and the shard number
/// without hashing again; no other hasher or eviction policy is needed.
///
/// Eviction is second chance (CLOCK) per shard: a hit marks its slot; when a shard is full,
/// one sweep drops the slots not hit since the previous sweep (and expired ones) and unmarks
/// the rest, so keys in use survive a flood of keys used once; if every slot was hit, an
/// eighth of the shard goes.
pub struct KeyCache {
    shards: Box<[Shard]>,
    /// Entries per shard at most.
    per_shard: usize,
    /// Moved by every [`Self::clear`]: an answer read from the store before it is not kept.
    generation: AtomicU64,
    epoch: AtomicI64,
}

/// A shard on cache lines of its own: a read lock writes its lock word, and neighbouring
/// shards' words on one line would make cores that read different keys contend.
#[repr(align(64))]
struct Shard(std::sync::RwLock<hashbrown::HashTable<Slot>>);

impl Default for KeyCache {
    fn default() -> Self {
        Self::with_capacity(MAX_ENTRIES)
    }
}

/// The table hash of a key hash: its first eight bytes (uniformly random).
fn table_hash(hash: &KeyHash) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hash.0[..8]);
    u64::from_le_bytes(b)
}

impl KeyCache {
    /// A cache of about `entries` keys.
    pub fn with_capacity(entries: usize) -> Self {
        let per_shard = entries.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| Shard(std::sync::RwLock::new(hashbrown::HashTable::new())))
                .collect(),
            per_shard,
            generation: AtomicU64::new(0),
            epoch: AtomicI64::new(0),
        }
    }

    fn shard(&self, hash: &KeyHash) -> &std::sync::RwLock<hashbrown::HashTable<Slot>> {
        // Bytes other than the table hash's, so that a shard's keys spread over its table.
        &self.shards[usize::from(hash.0[8]) % SHARDS].0
    }

    /// What the cache knows about `hash` at `now`.
    pub fn get(&self, hash: &KeyHash, now: Instant) -> Cached {
        let generation = Generation(self.generation.load(Ordering::Acquire));
        let shard = self
            .shard(hash)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(slot) = shard.find(table_hash(hash), |s| s.hash == *hash) else {
            return Cached::Unknown(generation);
        };
        if !slot.fresh(now) {
            return Cached::Unknown(generation);
        }
        // Read first: a key in use stays marked, and its line is not written on every hit.
        if !slot.used.load(Ordering::Relaxed) {
            slot.used.store(true, Ordering::Relaxed);
        }
        match &slot.rec {
            Some(rec) => Cached::Found(rec.clone()),
            None => Cached::Missing,
        }
    }

    /// Remembers a store answer, read after a lookup returned `Cached::Unknown(generation)`;
    /// dropped if the cache was cleared since (the answer may predate the change that
    /// cleared it).
    pub fn put(&self, hash: KeyHash, rec: Option<Arc<Verified>>, generation: Generation) {
        let at = Instant::now();
        let mut shard = self
            .shard(&hash)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked under the shard's lock: `clear` moves the generation before it empties the
        // shards, so either this sees the move or `clear` empties this shard afterwards.
        if self.generation.load(Ordering::Acquire) != generation.0 {
            return;
        }
        let h = table_hash(&hash);
        if let Some(slot) = shard.find_mut(h, |s| s.hash == hash) {
            slot.at = at;
            slot.rec = rec;
            return;
        }
        if shard.len() >= self.per_shard {
            sweep(&mut shard, self.per_shard);
        }
        let slot = Slot {
            hash,
            at,
            rec,
            used: AtomicBool::new(false),
        };
        shard.insert_unique(h, slot, |s| table_hash(&s.hash));
    }

    /// How many entries the cache holds.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.0.read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (after a change made through this server).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            shard
                .0
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
        }
    }

    /// Notes the database's change epoch; clears the cache when it moved.
    pub fn observe_epoch(&self, epoch: i64) {
        if self.epoch.swap(epoch, Ordering::AcqRel) != epoch {
            self.clear();
        }
    }
}

/// Makes room in a full shard: drops the slots not hit since the last sweep and the expired
/// ones, and unmarks the others; if that frees nothing, drops an eighth of the shard.
fn sweep(shard: &mut hashbrown::HashTable<Slot>, per_shard: usize) {
    let now = Instant::now();
    shard.retain(|s| std::mem::replace(s.used.get_mut(), false) && s.fresh(now));
    if shard.len() >= per_shard {
        // Which eighth does not matter: the table's order is the hashes', so arbitrary.
        let mut left = per_shard.div_ceil(8);
        shard.retain(|_| {
            if left == 0 {
                return true;
            }
            left -= 1;
            false
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes as the server makes them (HMAC output, uniformly spread over the shards).
    fn hash(i: u32) -> KeyHash {
        synaptiq_core::hash::Pepper::new(1, &[7; 32]).hash(&format!("sk_test_{i}"))
    }

    fn unknown(cache: &KeyCache, h: &KeyHash) -> Generation {
        match cache.get(h, Instant::now()) {
            Cached::Unknown(g) => g,
            _ => panic!("{h:?} is cached"),
        }
    }

    #[test]
    fn bounded() {
        let cache = KeyCache::with_capacity(1000);
        for i in 0..20_000u32 {
            let g = unknown(&cache, &hash(i));
            cache.put(hash(i), None, g);
        }
        assert!(cache.len() <= 1024, "{}", cache.len());
        assert!(cache.len() >= 500, "{}", cache.len());
        assert!(matches!(
            cache.get(&hash(19_999), Instant::now()),
            Cached::Missing
        ));
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn entries_in_use_survive_a_flood_of_new_ones() {
        let cache = KeyCache::with_capacity(1000);
        let hot: Vec<KeyHash> = (0..100).map(hash).collect();
        for h in &hot {
            let g = unknown(&cache, h);
            cache.put(*h, None, g);
        }
        // 10,000 hashes seen once, ten times the capacity; the hot ones are used between.
        for round in 0..200u32 {
            for i in 0..50 {
                let h = hash(1_000_000 + round * 50 + i);
                let g = unknown(&cache, &h);
                cache.put(h, None, g);
            }
            for h in &hot {
                assert!(
                    matches!(cache.get(h, Instant::now()), Cached::Missing),
                    "a hot entry was evicted in round {round}"
                );
            }
        }
        assert!(cache.len() <= 1024, "{}", cache.len());
    }

    #[test]
    fn an_answer_read_before_a_clear_is_not_kept() {
        let cache = KeyCache::default();
        let g = unknown(&cache, &hash(1));
        // A key is revoked (and the cache cleared) while its lookup is at the store.
        cache.clear();
        cache.put(hash(1), None, g);
        let g = unknown(&cache, &hash(1));
        cache.put(hash(1), None, g);
        assert!(matches!(
            cache.get(&hash(1), Instant::now()),
            Cached::Missing
        ));
    }
}
