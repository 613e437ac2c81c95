//! Fail fast while storage is down (issue 24). The first request that finds the database
//! unreachable trips the breaker (`guard` sees its [`StorageDown`] answer); while it is open,
//! every request gets at most [`FAST_FAIL`] to answer (`stack::limits`) — those served from
//! memory (cached keys, `/api/v1/me`, `/healthz`) still do, those that need the database get
//! `503` at once instead of each waiting out the pool's acquire timeout. A background probe
//! pings the database every [`PROBE_EVERY`] and closes the breaker when it answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use synaptiq_store::Store;

/// How long a request may take while the breaker is open.
pub const FAST_FAIL: Duration = Duration::from_millis(50);
/// How often the probe pings the database while the breaker is open.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// How long one probe waits for its ping.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Marks an answer given because storage was unreachable (a response extension).
#[derive(Debug, Clone, Copy)]
pub struct StorageDown;

/// Whether storage is known to be down.
pub struct Breaker {
    open: AtomicBool,
    store: Arc<dyn Store>,
}

impl Breaker {
    /// A closed breaker over `store`.
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicBool::new(false),
            store,
        })
    }

    /// Whether requests should fail fast now.
    #[inline]
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Opens the breaker (once) and starts the probe that will close it.
    pub fn trip(self: &Arc<Self>) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("storage unreachable: answering 503 at once until it returns");
        let breaker = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if let Ok(Ok(())) = tokio::time::timeout(PROBE_TIMEOUT, breaker.store.ping()).await
                {
                    breaker.open.store(false, Ordering::Release);
                    tracing::info!("storage reachable again");
                    return;
                }
            }
        });
    }
}
