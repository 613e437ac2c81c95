//! Rendered lead pages (list and search answers), reused while the leads they show have not
//! changed.
//!
//! Each request first reads the store's lead version for its organization and environment
//! (one indexed row; [`synaptiq_store::LeadStore::lead_version`]), then serves the cached body
//! only if it was rendered under that same version. The version moves in the same transaction
//! as every change to those leads, made by any node or the CLI, and is read before the page is
//! rendered, so a page is never served once something it shows may have changed. A page
//! rendered from a newer state than its version is harmless: the version has moved past it and
//! it is never served again.
//!
//! The cache is bounded by bytes ([`MAX_BYTES`]); least useful pages are evicted first
//! (`quick_cache`, S3-FIFO).
//!
//! Version reads are coalesced ([`VersionReads`]): concurrent requests of one organization
//! and environment share one database read — but only a read that *started after* they
//! arrived, so no request can miss a change committed before it came in.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// The cache key of a page: what it lists (`kind`), whose it is, and the whole query as
/// serialized. Every field of the query type is in the key, so a filter added to the type
/// cannot be left out of it (a forgotten one would serve one filter's page to another).
pub fn key_for<Q: serde::Serialize>(
    kind: &str,
    org: &synaptiq_core::ids::OrgId,
    env: synaptiq_core::scope::Environment,
    query: &Q,
) -> String {
    let mut key = Vec::with_capacity(256);
    key.extend_from_slice(kind.as_bytes());
    key.push(b'|');
    key.extend_from_slice(org.as_str().as_bytes());
    key.push(b'|');
    key.extend_from_slice(env.as_str().as_bytes());
    key.push(b'|');
    // Serialized in place (no second buffer). A query of plain fields always serializes, and
    // into UTF-8; were either ever to fail, the key would be unique to this request (never
    // shared, so never wrong).
    serde_json::to_writer(&mut key, query)
        .ok()
        .and_then(|()| String::from_utf8(key).ok())
        .unwrap_or_else(crate::request_id::current)
}

/// At most this many bytes of cached pages (bodies and keys).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, (i64, Bytes)> for ByBytes {
    fn weight(&self, key: &String, val: &(i64, Bytes)) -> u64 {
        // Body and key bytes, plus the entry's own bookkeeping (version, `Bytes`, `String`).
        (key.len() + val.1.len() + 64) as u64
    }
}

/// Rendered pages by (organization, environment, query), each with its lead version.
pub struct PageCache {
    /// `None`: caching is off.
    map: Option<quick_cache::sync::Cache<String, (i64, Bytes), ByBytes>>,
    /// Coalesced lead-version reads.
    pub versions: VersionReads,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::with_capacity(MAX_BYTES)
    }
}

impl PageCache {
    /// A cache of at most `bytes` (0: nothing is cached).
    pub fn with_capacity(bytes: u64) -> Self {
        // quick_cache sizes its tables from an item estimate: pages of a few kB.
        let items = usize::try_from(bytes / 8192).unwrap_or(usize::MAX).max(16);
        Self {
            map: (bytes > 0)
                .then(|| quick_cache::sync::Cache::with_weighter(items, bytes, ByBytes)),
            versions: VersionReads::default(),
        }
    }

    /// Whether pages are cached at all (`--page-cache-mb 0`: no).
    pub fn enabled(&self) -> bool {
        self.map.is_some()
    }

    /// The page cached under `key` if it was rendered at `version`.
    pub fn get(&self, key: &str, version: i64) -> Option<Bytes> {
        match self.map.as_ref()?.get(key) {
            Some((v, body)) if v == version => Some(body),
            _ => None,
        }
    }

    /// Remembers a page rendered after reading `version`.
    pub fn put(&self, key: String, version: i64, body: Bytes) {
        if let Some(map) = &self.map {
            map.insert(key, (version, body));
        }
    }
}

/// The result of one version read, shared with the requests that wait for it (`None` while
/// it runs; `Some(None)` if it failed: each waiter then reads for itself).
type Shared = watch::Receiver<Option<Option<i64>>>;

/// The reads of one scope: the one running, and the one queued behind it.
#[derive(Default)]
struct Gate {
    running: Option<Shared>,
    queued: Option<Shared>,
}

impl Gate {
    /// Drops reads whose request went away before finishing (client gone, timeout): their
    /// sender is closed and no result will come.
    fn forget_abandoned(&mut self) {
        let dead = |s: &Option<Shared>| {
            s.as_ref()
                .is_some_and(|rx| rx.has_changed().is_err() && rx.borrow().is_none())
        };
        if dead(&self.running) {
            self.running = None;
        }
        if dead(&self.queued) {
            self.queued = None;
        }
    }
}

/// Coalesced reads of lead versions, per (organization, environment).
///
/// A request arriving while no read runs starts one. A request arriving while one runs must
/// not use it (it may have read before a change the request must see): it joins the *queued*
/// read, whose first member waits for the running read to end and then performs it for all.
/// So every request gets a value read after it arrived, and under load one read serves
/// every request that arrived during the previous one.
#[derive(Default)]
pub struct VersionReads {
    gates: Mutex<HashMap<String, Arc<Mutex<Gate>>>>,
}

enum Role {
    /// Perform the read; first wait for `after` (the running read) if given.
    Lead(watch::Sender<Option<Option<i64>>>, Shared, Option<Shared>),
    /// Wait for another request's read.
    Follow(Shared),
}

/// Waits until a shared read has a result; `None` if it failed or was abandoned.
async fn outcome(mut rx: Shared) -> Option<i64> {
    match rx.wait_for(Option::is_some).await {
        Ok(v) => v.flatten(),
        Err(_) => None,
    }
}

impl VersionReads {
    fn gate(&self, scope: &str) -> Option<Arc<Mutex<Gate>>> {
        let mut gates = self.gates.lock().ok()?;
        if gates.len() > 100_000 {
            // Idle gates hold nothing; forgetting them only costs a missed coalescing.
            gates.clear();
        }
        Some(
            gates
                .entry(scope.to_owned())
                .or_insert_with(|| Arc::new(Mutex::new(Gate::default())))
                .clone(),
        )
    }

    /// The current version of `scope`, read by `read` — by this request or shared with
    /// concurrent ones, always from a read that started after this call.
    pub async fn read<F, Fut, E>(&self, scope: &str, read: F) -> Result<i64, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<i64, E>>,
    {
        let Some(gate) = self.gate(scope) else {
            return read().await;
        };
        let role = {
            let Ok(mut g) = gate.lock() else {
                return read().await;
            };
            g.forget_abandoned();
            match (&g.running, &g.queued) {
                (None, _) => {
                    let (tx, rx) = watch::channel(None);
                    g.running = Some(rx.clone());
                    Role::Lead(tx, rx, None)
                }
                (Some(_), Some(queued)) => Role::Follow(queued.clone()),
                (Some(running), None) => {
                    let (tx, rx) = watch::channel(None);
                    let after = running.clone();
                    g.queued = Some(rx.clone());
                    Role::Lead(tx, rx, Some(after))
                }
            }
        };
        match role {
            Role::Follow(rx) => match outcome(rx).await {
                Some(v) => Ok(v),
                None => read().await,
            },
            Role::Lead(tx, mine, after) => {
                if let Some(after) = after {
                    let _ = outcome(after).await;
                    // From here on, newcomers queue behind this read instead of joining it.
                    if let Ok(mut g) = gate.lock()
                        && g.queued.as_ref().is_some_and(|q| q.same_channel(&mine))
                    {
                        g.queued = None;
                        g.running = Some(mine.clone());
                    }
                }
                let result = read().await;
                let _ = tx.send(Some(result.as_ref().ok().copied()));
                if let Ok(mut g) = gate.lock()
                    && g.running.as_ref().is_some_and(|r| r.same_channel(&mine))
                {
                    g.running = None;
                }
                result
            }
        }
    }
}

/// A cached JSON body as the response `axum::Json` would have produced.
pub fn json_response(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_same_version_and_stays_bounded() {
        let cache = PageCache::with_capacity(64 * 1024);
        cache.put("a".into(), 3, Bytes::from_static(b"{}"));
        assert_eq!(cache.get("a", 3).as_deref(), Some(&b"{}"[..]));
        assert!(cache.get("a", 4).is_none(), "a newer version misses");
        assert!(cache.get("b", 3).is_none());
        for i in 0..1000 {
            cache.put(format!("k{i}"), 1, Bytes::from(vec![b' '; 1024]));
        }
        let held = (0..1000)
            .filter(|i| cache.get(&format!("k{i}"), 1).is_some())
            .count();
        assert!(held < 64, "{held} pages of 1 kB in a 64 kB cache");
        let off = PageCache::with_capacity(0);
        off.put("a".into(), 1, Bytes::from_static(b"{}"));
        assert!(off.get("a", 1).is_none());
    }

    /// Requests that arrive while a read runs never get its value; they share the next read.
    #[tokio::test]
    async fn coalesced_reads_start_after_arrival() {
        use std::sync::atomic::{AtomicI64, Ordering};
        let reads = Arc::new(VersionReads::default());
        let count = Arc::new(AtomicI64::new(0));
        let first_may_end = Arc::new(tokio::sync::Semaphore::new(0));
        let read = {
            let (count, first_may_end) = (count.clone(), first_may_end.clone());
            move || {
                let (count, first_may_end) = (count.clone(), first_may_end.clone());
                async move {
                    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                    if n == 1 {
                        first_may_end.acquire().await.expect("open").forget();
                    }
                    Ok::<i64, ()>(n)
                }
            }
        };
        let first = tokio::spawn({
            let (reads, read) = (reads.clone(), read.clone());
            async move { reads.read("org|live", read).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let later: Vec<_> = (0..10)
            .map(|_| {
                let (reads, read) = (reads.clone(), read.clone());
                tokio::spawn(async move { reads.read("org|live", read).await })
            })
            .collect();
        // Another scope is not held up by this one.
        assert_eq!(reads.read("other|live", read.clone()).await, Ok(2));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        first_may_end.add_permits(1);
        assert_eq!(first.await.expect("task"), Ok(1));
        for t in later {
            assert_eq!(t.await.expect("task"), Ok(3), "one read after theirs began");
        }
        assert_eq!(count.load(Ordering::SeqCst), 3);
        // Alone again: a fresh read.
        assert_eq!(reads.read("org|live", read).await, Ok(4));
    }

    #[test]
    fn every_query_field_is_part_of_the_key() {
        use synaptiq_core::ids::OrgId;
        use synaptiq_core::scope::Environment::{Live, Test};
        use synaptiq_types::leads::{LeadListQuery, LeadSortBy, LeadSource, LeadStatus, SortOrder};
        use synaptiq_types::time::Timestamp;
        let org = OrgId::generate();
        let base = LeadListQuery::default();
        let variants = [
            LeadListQuery {
                page: Some(2),
                ..base.clone()
            },
            LeadListQuery {
                limit: Some(10),
                ..base.clone()
            },
            LeadListQuery {
                status: Some(LeadStatus::Qualified),
                ..base.clone()
            },
            LeadListQuery {
                source: Some(LeadSource::Chat),
                ..base.clone()
            },
            LeadListQuery {
                sort_by: Some(LeadSortBy::Score),
                ..base.clone()
            },
            LeadListQuery {
                sort_order: Some(SortOrder::Asc),
                ..base.clone()
            },
            LeadListQuery {
                created_after: Some(Timestamp(1)),
                ..base.clone()
            },
            LeadListQuery {
                created_before: Some(Timestamp(1)),
                ..base.clone()
            },
        ];
        let mut keys = std::collections::HashSet::new();
        assert!(keys.insert(key_for("list", &org, Live, &base)));
        assert!(keys.insert(key_for("list", &org, Test, &base)));
        assert!(keys.insert(key_for("search", &org, Live, &base)));
        assert!(keys.insert(key_for("list", &OrgId::generate(), Live, &base)));
        for v in &variants {
            assert!(
                keys.insert(key_for("list", &org, Live, v)),
                "{v:?} shares a key"
            );
        }
        assert_eq!(
            key_for("list", &org, Live, &base.clone()),
            key_for("list", &org, Live, &base)
        );
    }
}
