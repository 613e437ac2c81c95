//! The shared application state.

use std::ops::Deref;
use std::sync::Arc;

use synaptiq_app::{AuthCache, Services};
use synaptiq_core::hash::Pepper;
use synaptiq_store::Store;

use crate::auth::KeyCache;
use crate::config::ServerConfig;
use crate::page_cache::PageCache;
use crate::ratelimit::RateLimiter;
use synaptiq_app::usage::UsageRecorder;

/// Cheap to clone; what handlers receive.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Everything a request may need.
pub struct App {
    /// Storage (SQLite now; PostgreSQL later), never generic.
    pub store: Arc<dyn Store>,
    /// The use cases (keys, leads), over the same store; they clear [`Self::keys`] after
    /// every key change.
    pub services: Services,
    /// The pepper keys are hashed under.
    pub pepper: Pepper,
    /// Verified keys by hash, invalidated by the change epoch and by [`Self::services`].
    pub keys: Arc<KeyCache>,
    /// Per-key rate limits and the failed-authentication throttle.
    pub limiter: RateLimiter,
    /// Last-use facts waiting to be written.
    pub usage: UsageRecorder,
    /// The configuration the server started with.
    pub config: ServerConfig,
    /// The OpenAPI document, rendered once.
    pub openapi: axum::body::Bytes,
    /// `public_url` as shared string for links.
    pub public_url: Arc<str>,
    /// Rendered lead lists and searches, valid while the lead version is unchanged.
    pub pages: PageCache,
    /// Open while storage is known to be down: requests fail fast (`breaker`).
    pub breaker: Arc<crate::breaker::Breaker>,
}

impl App {
    /// Assembles the state with per-process rate limits.
    pub fn build(store: Arc<dyn Store>, pepper: Pepper, config: ServerConfig) -> AppState {
        Self::build_with(store, pepper, config, RateLimiter::default())
    }

    /// Assembles the state with a given limiter (e.g. global through Redis).
    pub fn build_with(
        store: Arc<dyn Store>,
        pepper: Pepper,
        config: ServerConfig,
        limiter: RateLimiter,
    ) -> AppState {
        let public_url: Arc<str> = Arc::from(config.public_url.trim_end_matches('/'));
        let pages = PageCache::with_capacity(config.page_cache_bytes);
        let keys = Arc::new(KeyCache::default());
        let services =
            Services::new(store.clone(), keys.clone()).with_webhook_policy(config.webhooks);
        AppState(Arc::new(App {
            breaker: crate::breaker::Breaker::new(store.clone()),
            store,
            services,
            pepper,
            keys,
            limiter,
            usage: UsageRecorder::default(),
            config,
            openapi: serde_json::to_vec(&crate::openapi::document())
                .unwrap_or_default()
                .into(),
            public_url,
            pages,
        }))
    }
}

impl AuthCache for KeyCache {
    fn invalidate(&self) {
        self.clear();
    }
}
