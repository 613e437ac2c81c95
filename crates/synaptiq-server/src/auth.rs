//! Authentication: Bearer parsing, key verification and its cache.
//!
//! Verification is the hot path: parse and checksum (no allocation), HMAC under the pepper,
//! then an in-memory map from hash to the key's record. The map is emptied whenever the
//! database's change epoch moves (a key revoked or a plan changed by any process), checked
//! every `cache_poll_interval`; changes made through this server also clear it at once.
//! Unknown hashes are remembered for one second so that floods of well-formed unknown keys do
//! not each cost a query, yet a key created by the CLI works within a second.
//!
//! The map is bounded (our own sharded table with second-chance eviction, see [`KeyCache`]):
//! with a million keys in use, memory stays flat and the keys in use stay cached; the others
//! cost one indexed lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use synaptiq_core::hash::KeyHash;
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;
use synaptiq_types::error::UNAUTHORIZED_MESSAGE;

use crate::error::ApiError;

/// How long an unknown hash is remembered.
const NEGATIVE_TTL: Duration = Duration::from_secs(1);
/// How long a found key is trusted without re-reading it (besides epoch invalidation).
const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// At most this many keys (and remembered unknown hashes) are cached; ~1.5 KB each.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// Header present but not one well-formed Bearer key, or an unknown key.
    Invalid,
    /// The key expired (or its rotation grace ended).
    Expired,
    /// The key was revoked.
    Revoked,
}

impl AuthFailure {
    /// The 401 response, with the RFC 6750 challenge.
    pub fn to_error(self) -> ApiError {
        let message = match self {
            AuthFailure::Missing | AuthFailure::Invalid => UNAUTHORIZED_MESSAGE,
            AuthFailure::Expired => {
                "This API key has expired. Use its replacement or create a new key in the dashboard."
            }
            AuthFailure::Revoked => {
                "This API key has been revoked. Use its replacement or create a new key in the dashboard."
            }
        };
        let challenge = match self {
            AuthFailure::Missing => r#"Bearer realm="synaptiq""#,
            _ => r#"Bearer realm="synaptiq", error="invalid_token""#,
        };
        ApiError::new(ErrorCode::Unauthorized, message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )
    }
}

/// Extracts the token of the one `Authorization: Bearer <token>` header.
///
/// The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces separate it from the
/// token; the token is the rest of the value and must not contain spaces. Two headers, another
/// scheme, or a non-ASCII value are refused.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthFailure::Missing);
    };
    if values.next().is_some() {
        return Err(AuthFailure::Invalid);
    }
    // Bytes, not `to_str` + `split_once` + `contains`: this runs on every request.
    let bytes = value.as_bytes();
    let space = bytes
        .iter()
        .position(|&b| b == b' ')
        .ok_or(AuthFailure::Invalid)?;
    if !bytes[..space].eq_ignore_ascii_case(b"bearer") {
        return Err(AuthFailure::Invalid);
    }
    let rest = &bytes[space..];
    let token = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    // A token is visible ASCII: no spaces, tabs, controls or non-ASCII bytes.
    if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(AuthFailure::Invalid);
    }
    std::str::from_utf8(token).map_err(|_| AuthFailure::Invalid)
}

/// A verified key as the cache holds it: the stored record plus what every request of the key
/// needs, worked out once when the key is loaded rather than per request.
///
/// Laid out for the request path (`repr(C)`, cache-line aligned): behind the `Arc`'s counts
/// come the slots, the limits, the `/me` template and the allow-list, then the record, whose
/// key starts with the fields every request reads — three adjacent cache lines in all, where the
/// compiler's own order spread them over the whole record.
#[repr(C, align(64))]
pub struct Verified {
    /// Its local rate-limit buckets (shared with the limiter's map of owners).
    pub(crate) buckets: crate::ratelimit::Slot,
    /// Its pending usage (shared with the usage recorder).
    pub(crate) usage: crate::usage::Slot,
    /// Its limits under the server's rate policy: (per minute, per day).
    pub limits: (u32, Option<u32>),
    /// Its `GET /api/v1/me` answer around the per-request fields, made on first use.
    me: std::sync::OnceLock<Option<crate::routes::me::MeTemplate>>,
    /// The key's allow-list, parsed (empty = anywhere).
    pub allowed_ips: Vec<ipnet::IpNet>,
    /// The key and its organization.
    pub record: AuthRecord,
}

impl Verified {
    /// Prepares `record` for the hot path of `app`: its limits under the server's rate policy,
    /// and the key's rate-limit and usage state, held here so that a request reaches them
    /// without a lookup by key id (they outlive this record in `app`'s maps).
    pub fn new(record: AuthRecord, app: &crate::app::App) -> Self {
        let limits = crate::guard::key_limits(&app.config.rate_policy, &record);
        let buckets = app.limiter.key_slot(record.key.id.as_str());
        let usage = app.usage.slot(record.key.id.as_str());
        let allowed_ips = record
            .key
            .allowed_ips
            .iter()
            .filter_map(|c| synaptiq_core::net::parse_cidr(c))
            .collect();
        Self {
            record,
            allowed_ips,
            limits,
            me: std::sync::OnceLock::new(),
            buckets,
            usage,
        }
    }

    /// Starts loading the memory that a request of this key reads after the cache lookup:
    /// the record's fields that the guard checks, the rate-limit and usage slots, and the
    /// start of the `/me` template if it was made. With many keys in use these are cache
    /// misses. Read here, by plain loads with nothing in between, the CPU waits for them
    /// together; read where they are used, each waits behind the locks and reference counts
    /// of the path before it (an atomic read-modify-write lets no later load pass it), so the
    /// misses add up. Paired runs with 10,000 random keys: 1–3% less CPU per request.
    #[inline]
    pub(crate) fn touch(&self) {
        use std::hint::black_box;
        black_box(Arc::strong_count(&self.buckets));
        black_box(Arc::strong_count(&self.usage));
        black_box((
            self.allowed_ips.len(),
            self.record.key.id.as_str().len(),
            self.record.key.rotated_to.is_some(),
            self.record.key.scope,
        ));
        if let Some(Some(t)) = self.me.get() {
            black_box(t.first_byte());
        }
    }

    /// The key's `GET /api/v1/me` template (`None` if it could not be made).
    pub fn me_template(&self) -> Option<&crate::routes::me::MeTemplate> {
        self.me
            .get_or_init(|| crate::routes::me::MeTemplate::new(&self.record))
            .as_ref()
    }
}

impl std::ops::Deref for Verified {
    type Target = AuthRecord;

    fn deref(&self) -> &AuthRecord {
        &self.record
    }
}

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

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("ascii"),
            );
        }
        h
    }

    /// What a request reads of a cached key lies in the first three cache lines of its `Arc`
    /// allocation (two counts, then `Verified`): see `Verified`'s layout.
    #[test]
    fn the_hot_fields_of_a_cached_key_share_three_cache_lines() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Verified>(), 64);
        let counts = 2 * size_of::<usize>();
        let key = offset_of!(Verified, record) + offset_of!(AuthRecord, key);
        let ends = [
            offset_of!(Verified, buckets) + size_of::<crate::ratelimit::Slot>(),
            offset_of!(Verified, usage) + size_of::<crate::usage::Slot>(),
            offset_of!(Verified, limits) + size_of::<(u32, Option<u32>)>(),
            offset_of!(Verified, me)
                + size_of::<std::sync::OnceLock<Option<crate::routes::me::MeTemplate>>>(),
            offset_of!(Verified, allowed_ips) + size_of::<Vec<ipnet::IpNet>>(),
            key + offset_of!(synaptiq_store::KeyRecord, id)
                + size_of::<synaptiq_core::ids::KeyId>(),
            key + offset_of!(synaptiq_store::KeyRecord, revoked_at)
                + size_of::<Option<synaptiq_types::time::Timestamp>>(),
            key + offset_of!(synaptiq_store::KeyRecord, expires_at)
                + size_of::<Option<synaptiq_types::time::Timestamp>>(),
            key + offset_of!(synaptiq_store::KeyRecord, rotated_to)
                + size_of::<Option<synaptiq_core::ids::KeyId>>(),
            key + offset_of!(synaptiq_store::KeyRecord, scope) + 1,
        ];
        let last = ends.iter().max().copied().unwrap_or_default() + counts;
        assert!(
            last <= 3 * 64,
            "hot fields end at byte {last} of the allocation"
        );
        assert!(
            size_of::<Verified>() > 3 * 64,
            "the record itself is larger"
        );
    }

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

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthFailure::Missing));
        assert_eq!(bearer_token(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["BEARER   abc"])), Ok("abc"));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer a b",
            "Bearerabc",
            "Token abc",
            "Bearer a\tb",
            "Bearer abc\t",
            "Bearer \tabc",
            "Bearer abé",
            "\tBearer abc",
        ] {
            assert_eq!(
                bearer_token(&headers(&[bad])),
                Err(AuthFailure::Invalid),
                "{bad:?}"
            );
        }
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer a"])),
            Err(AuthFailure::Invalid)
        );
    }
}
