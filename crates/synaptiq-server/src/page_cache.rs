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

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// At most this many bytes of cached pages (bodies and keys).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, (i64, Bytes)> for ByBytes {
    fn weight(&self, key: &String, val: &(i64, Bytes)) -> u64 {
        (key.len() + val.1.len() + 64) as u64
    }
}

/// Rendered pages by (organization, environment, query), each with its lead version.
pub struct PageCache {
    /// `None`: caching is off.
    map: Option<quick_cache::sync::Cache<String, (i64, Bytes), ByBytes>>,
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
        }
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
}
