//! Binding and running: TLS setup, listeners, the cache poller, and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use synaptiq_core::hash::Pepper;
use synaptiq_store::Store;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::app::{App, AppState};
use crate::config::{ServerConfig, TlsMode};
use crate::tls::{self, LoadedTls};
use crate::transport::{self, Mode};

/// A server whose sockets are bound, ready to run.
pub struct Bound {
    /// The shared state.
    pub app: AppState,
    /// The HTTPS (or proxied HTTP) address actually bound.
    pub local_addr: SocketAddr,
    /// The plain-HTTP rejection listener's address, if any.
    pub http_addr: Option<SocketAddr>,
    /// TLS details, unless `--tls off`.
    pub tls: Option<LoadedTls>,
    listener: TcpListener,
    http_listener: Option<TcpListener>,
}

/// Loads TLS, binds the listeners and assembles the state.
pub async fn bind(config: ServerConfig, store: Arc<dyn Store>, pepper: Pepper) -> Result<Bound> {
    let tls = match &config.tls {
        TlsMode::Files { cert, key } => Some(tls::load(cert, key, false)?),
        TlsMode::SelfSigned => {
            let (cert, key, generated) = tls::ensure_self_signed(&config.data_dir)?;
            Some(tls::load(&cert, &key, generated)?)
        }
        TlsMode::Off => {
            if config.trusted_proxies.is_empty() {
                bail!(
                    "--tls off needs at least one --trusted-proxy CIDR: the proxy in front must terminate TLS"
                );
            }
            None
        }
    };
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local_addr = listener.local_addr()?;
    let mut config = config;
    if config.public_url.is_empty() {
        config.public_url = crate::config::default_public_url(local_addr);
    }
    let http_listener = match config.http_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let http_addr = http_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let limiter = match &config.redis_url {
        Some(url) => {
            let redis = crate::ratelimit::redis::RedisBuckets::connect(
                url,
                std::time::Duration::from_secs(2),
            )
            .await
            .map_err(|e| anyhow::anyhow!("--redis-url: {e}"))?;
            crate::ratelimit::RateLimiter::new(Some(redis))
        }
        None => crate::ratelimit::RateLimiter::default(),
    };
    let app = App::build_with(store, pepper, config, limiter);
    Ok(Bound {
        app,
        local_addr,
        http_addr,
        tls,
        listener,
        http_listener,
    })
}

impl Bound {
    /// Serves the table's routes and `extra` ones (the dashboard's) until `shutdown`
    /// resolves, then drains in-flight requests.
    pub async fn run(
        self,
        extra: Vec<crate::routes::Route>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let router = crate::stack::router_with(self.app.clone(), extra);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let poller = tokio::spawn(poll_changes(self.app.clone(), rx.clone()));
        let housekeeper = tokio::spawn(housekeeping(self.app.clone(), rx.clone()));
        let prober = tokio::spawn(probe_redis(self.app.clone(), rx.clone()));
        let mode = match &self.tls {
            Some(t) => Mode::Tls(TlsAcceptor::from(t.config.clone())),
            None => Mode::BehindProxy,
        };
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let http_task = self.http_listener.map(|l| {
            let (app, router, stop) = (self.app.clone(), router.clone(), stopped(rx.clone()));
            tokio::spawn(transport::serve(l, Mode::RejectAll, app, router, stop))
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });
        transport::serve(self.listener, mode, self.app.clone(), router, stopped(rx)).await?;
        if let Some(t) = http_task {
            t.await??;
        }
        poller.abort();
        housekeeper.abort();
        prober.abort();
        // Nothing acknowledged is lost: pending last-use facts are written before closing.
        self.app.usage.flush_all(self.app.store.as_ref()).await;
        self.app.store.close().await;
        Ok(())
    }
}

/// Watches the database's change epoch so that changes made by other processes (the CLI,
/// other nodes) reach this node's key cache within one poll interval.
async fn poll_changes(app: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(app.config.cache_poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match app.store.change_epoch().await {
            Ok(epoch) => app.keys.observe_epoch(epoch),
            Err(e) => tracing::debug!(error = %e, "change epoch poll failed"),
        }
    }
}

/// Writes batched last-use facts and records expiries as they happen.
async fn housekeeping(app: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(app.config.housekeeping_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        app.usage.flush(app.store.as_ref()).await;
        app.services.record_expiries().await;
    }
}

/// While Redis is unreachable, probes it every second so global limits resume promptly.
async fn probe_redis(app: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if app.limiter.degraded() {
            app.limiter.probe().await;
        }
    }
}
