//! The delivery loop. Claims due deliveries in batches (a lease per row, so each is in
//! flight on one node), runs each attempt as its own task, and writes outcomes in batches
//! (one transaction for many attempts). Each endpoint has a lane: at most
//! [`WorkerConfig::per_endpoint`] attempts in flight and [`WorkerConfig::per_endpoint_queued`]
//! claimed; an endpoint at its bound is left out of the next claims, so a slow or dead
//! receiver holds only its own lane while every other endpoint's deliveries go on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use synaptiq_app::webhooks::WebhookPolicy;
use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_store::{AttemptOutcome, ClaimedDelivery, Store, StoreError};
use synaptiq_types::time::Timestamp;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::attempt::attempt;
use crate::resolver::GuardedResolver;

/// The time the worker goes by; tests pass one they control.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The worker's limits.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// What URLs may reach.
    pub policy: WebhookPolicy,
    /// Per attempt, connection to last byte kept.
    pub timeout: Duration,
    /// How long a claim holds a delivery; a node that dies mid-attempt leaves it to others
    /// after this.
    pub lease: Duration,
    /// Most deliveries per claim.
    pub batch: u32,
    /// Most attempts in flight to one endpoint.
    pub per_endpoint: usize,
    /// Most deliveries of one endpoint claimed (in flight or waiting for its lane).
    pub per_endpoint_queued: usize,
    /// Most deliveries claimed in all.
    pub max_claimed: usize,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
    /// How long payloads are kept.
    pub retention: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            policy: WebhookPolicy::default(),
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            batch: 64,
            per_endpoint: 8,
            per_endpoint_queued: 16,
            max_claimed: 1024,
            poll: Duration::from_millis(200),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// One endpoint's lane.
struct Lane {
    claimed: usize,
    sending: Arc<Semaphore>,
}

/// The delivery worker.
pub struct Worker {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: WorkerConfig,
    clock: Clock,
    lanes: Mutex<HashMap<WebhookEndpointId, Lane, foldhash::fast::RandomState>>,
    claimed: AtomicUsize,
    /// Woken when a lane frees up.
    freed: Notify,
}

/// The HTTP client of deliveries: no redirects, no proxies, the guarded resolver, the
/// attempt timeout.
pub fn http_client(config: &WorkerConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.policy.allow_private,
        }))
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Synaptiq-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl Worker {
    /// A worker over `store`.
    pub fn new(store: Arc<dyn Store>, config: WorkerConfig) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: http_client(&config)?,
            store,
            config,
            clock: Arc::new(Timestamp::now),
            lanes: Mutex::default(),
            claimed: AtomicUsize::new(0),
            freed: Notify::new(),
        })
    }

    /// This worker going by `clock` (tests).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// This worker with `client` (tests that trust their own certificate authority).
    pub fn with_client(self, client: reqwest::Client) -> Self {
        Self { client, ..self }
    }

    /// Delivers until `stop` turns true, then lets the attempts in flight finish (at most
    /// the attempt timeout) and writes their outcomes.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let (tx, rx) = mpsc::channel::<AttemptOutcome>(4096);
        let writer = tokio::spawn(write_outcomes(self.store.clone(), rx));
        let mut last_prune: Option<Timestamp> = None;
        while !*stop.borrow() {
            let now = (self.clock)();
            if last_prune.is_none_or(|t| now.millis() - t.millis() > 3_600_000) {
                self.prune(now).await;
                last_prune = Some(now);
            }
            let claimed = match self.claim(now).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook claim failed");
                    Vec::new()
                }
            };
            let full = claimed.len() >= self.config.batch as usize;
            for d in claimed {
                self.clone().spawn(d, tx.clone());
            }
            if !full {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll) => {}
                    _ = stop.changed() => {}
                }
            } else if self.claimed.load(Ordering::Relaxed) >= self.config.max_claimed {
                tokio::select! {
                    _ = self.freed.notified() => {}
                    _ = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
        let deadline = tokio::time::Instant::now() + self.config.timeout + Duration::from_secs(1);
        while self.claimed.load(Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(tx);
        let _ = writer.await;
    }

    /// Claims what is due at `now` and fits the lanes.
    async fn claim(&self, now: Timestamp) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let room = self
            .config
            .max_claimed
            .saturating_sub(self.claimed.load(Ordering::Relaxed));
        if room == 0 || !self.store.deliveries_due(now).await? {
            return Ok(Vec::new());
        }
        let skip: Vec<WebhookEndpointId> = self
            .lock_lanes()
            .iter()
            .filter(|(_, l)| l.claimed >= self.config.per_endpoint_queued)
            .map(|(id, _)| id.clone())
            .collect();
        let limit = u32::try_from(room)
            .unwrap_or(u32::MAX)
            .min(self.config.batch);
        let lease = Timestamp(now.millis() + millis(self.config.lease));
        self.store.claim_deliveries(now, lease, limit, &skip).await
    }

    fn lock_lanes(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<WebhookEndpointId, Lane, foldhash::fast::RandomState>>
    {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one attempt in its endpoint's lane and sends its outcome to the writer.
    fn spawn(self: Arc<Self>, d: ClaimedDelivery, out: mpsc::Sender<AttemptOutcome>) {
        let sending = {
            let mut lanes = self.lock_lanes();
            let lane = lanes.entry(d.endpoint_id.clone()).or_insert_with(|| Lane {
                claimed: 0,
                sending: Arc::new(Semaphore::new(self.config.per_endpoint)),
            });
            lane.claimed += 1;
            lane.sending.clone()
        };
        self.claimed.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let outcome = match sending.acquire().await {
                Ok(_permit) => {
                    let o = attempt(
                        &self.client,
                        &d,
                        (self.clock)(),
                        self.config.policy.allow_private,
                    )
                    .await;
                    Some(o)
                }
                Err(_) => None,
            };
            if let Some(o) = outcome {
                let _ = out.send(o).await;
            }
            {
                let mut lanes = self.lock_lanes();
                if let Some(lane) = lanes.get_mut(&d.endpoint_id) {
                    lane.claimed = lane.claimed.saturating_sub(1);
                    if lane.claimed == 0 {
                        lanes.remove(&d.endpoint_id);
                    }
                }
            }
            self.claimed.fetch_sub(1, Ordering::Relaxed);
            self.freed.notify_one();
        });
    }

    /// Claims everything due at the clock's `now`, attempts it, and stores the outcomes
    /// before returning them (tests drive the schedule with this and a clock they control).
    pub async fn deliver_due(&self) -> Result<Vec<AttemptOutcome>, StoreError> {
        let now = (self.clock)();
        let mut outcomes = Vec::new();
        loop {
            let claimed = self.claim(now).await?;
            if claimed.is_empty() {
                break;
            }
            let mut set = tokio::task::JoinSet::new();
            for d in claimed {
                let (client, allow) = (self.client.clone(), self.config.policy.allow_private);
                set.spawn(async move { attempt(&client, &d, now, allow).await });
            }
            let done: Vec<AttemptOutcome> = set.join_all().await;
            self.store.finish_attempts(&done).await?;
            outcomes.extend(done);
        }
        Ok(outcomes)
    }

    async fn prune(&self, now: Timestamp) {
        let before = Timestamp(now.millis() - millis(self.config.retention));
        match self.store.prune_webhook_messages(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "pruned webhook payloads past retention"),
            Err(e) => tracing::warn!(error = %e, "webhook prune failed"),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Writes outcomes in batches: one transaction for whatever has arrived (up to 256). A batch
/// that cannot be written is retried; if the database stays away its rows keep their claims
/// until the lease lapses and are delivered again (at least once).
async fn write_outcomes(store: Arc<dyn Store>, mut rx: mpsc::Receiver<AttemptOutcome>) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut tries = 0;
        loop {
            match store.finish_attempts(&batch).await {
                Ok(disabled) => {
                    for e in disabled {
                        tracing::warn!(
                            endpoint = %e.id,
                            reason = e.disabled_reason.as_deref().unwrap_or("?"),
                            "webhook endpoint disabled"
                        );
                    }
                    break;
                }
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "storing webhook outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, n = batch.len(), "webhook outcomes lost; the deliveries will be retried after their lease");
                    break;
                }
            }
        }
        batch.clear();
    }
}
