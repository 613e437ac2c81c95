//! `synaptiq serve`: configuration, first-run bootstrap, and the server until a signal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use synaptiq_app::keys::KeySpec;
use synaptiq_app::{Actor, NoAuthCache, Services};
use synaptiq_core::plan::{Plan, RatePolicy};
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_server::{PlaintextKeyPolicy, ServerConfig, TlsMode};
use synaptiq_store::{Role, Store};

use crate::cli::{Global, LogFormat, PlaintextFlag, ServeArgs, TlsFlag};
use crate::setup;

/// The log filter when `SYNAPTIQ_LOG` is not set. rustls warns about what a *client* did
/// wrong (an IP address sent as SNI, as wrk and some HTTP libraries do): one line per
/// handshake, written by whoever connects, so only its errors are logged by default.
const DEFAULT_LOG: &str = "info,rustls=error";

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNAPTIQ_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn config(g: &Global, a: &ServeArgs) -> Result<ServerConfig> {
    let mut c = ServerConfig::new(g.data_dir.clone());
    c.listen = a.listen;
    c.http_listen = a.http_listen;
    c.tls = match (a.tls, &a.tls_cert, &a.tls_key) {
        (TlsFlag::Off, _, _) => TlsMode::Off,
        (TlsFlag::On, Some(cert), Some(key)) => TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        (TlsFlag::On, _, _) => TlsMode::SelfSigned,
    };
    c.trusted_proxies = a
        .trusted_proxies
        .iter()
        .map(|s| {
            synaptiq_core::net::parse_cidr(s)
                .ok_or_else(|| anyhow!("--trusted-proxy {s:?} is not a CIDR"))
        })
        .collect::<Result<_>>()?;
    // Without --public-url, links name the address actually bound (see `server::bind`).
    c.public_url = a.public_url.clone().unwrap_or_default();
    c.on_plaintext_key = match a.on_plaintext_key {
        PlaintextFlag::Flag => PlaintextKeyPolicy::Flag,
        PlaintextFlag::Revoke => PlaintextKeyPolicy::Revoke,
    };
    c.header_read_timeout = Duration::from_secs(a.header_timeout_secs.max(1));
    // hyper needs an 8 KiB read buffer at least (see `transport`).
    c.header_limit = a.max_header_bytes.clamp(1024, 1024 * 1024);
    c.request_timeout = Duration::from_secs(a.request_timeout_secs.max(1));
    // Never below the SSE keep-alive interval (plus slack), which would end every quiet stream.
    let keep_alive = synaptiq_server::streaming::KEEP_ALIVE.as_secs() + 5;
    c.stream_idle_timeout = Duration::from_secs(a.stream_idle_timeout_secs.max(keep_alive));
    c.max_connections = a.max_connections.max(1);
    c.max_connections_per_ip = a.max_connections_per_ip;
    c.idle_timeout = Duration::from_secs(a.idle_timeout_secs.max(1));
    c.page_cache_bytes = a.page_cache_mb.saturating_mul(1024 * 1024);
    c.redis_url = a.redis_url.clone();
    c.webhooks = a.webhooks.policy();
    if let Some(path) = &a.rate_policy {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        c.rate_policy =
            RatePolicy::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    }
    Ok(c)
}

/// Random printable password for the first owner login.
fn generated_password() -> Result<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("OS random generator: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// On an empty database: organization "Default" (starter), an owner login and a test admin
/// key, printed once.
async fn bootstrap(
    store: &Arc<dyn Store>,
    pepper: &synaptiq_core::hash::Pepper,
    public_url: &str,
    cacert: Option<&str>,
) -> Result<()> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(());
    }
    let org = store.create_org("Default", Plan::Starter).await?;
    let password = generated_password()?;
    let email = "owner@example.com";
    store
        .create_user(
            &org.id,
            email,
            Role::Owner,
            synaptiq_core::password::hash(&password)?.as_str(),
        )
        .await?;
    let spec = KeySpec {
        org_id: org.id.clone(),
        environment: Environment::Test,
        scope: Scope::Admin,
        name: "Default admin key".into(),
        expires_at: None,
        allowed_ips: vec![],
        rotated_from: None,
    };
    let (rec, secret) = Services::new(store.clone(), Arc::new(NoAuthCache))
        .issue_key(pepper, spec, &Actor::local("bootstrap"))
        .await?;
    let cacert = cacert.map(|p| format!(" --cacert {p}")).unwrap_or_default();
    println!(
        "First run: created organization \"Default\" ({}) on the starter plan.",
        org.id
    );
    println!("  Dashboard owner login: {email} / {password}");
    println!("  Test admin API key ({}): {}", rec.id, secret.expose());
    println!("  These are shown once. Try it:");
    println!(
        "  curl{cacert} {public_url}/api/v1/leads -H \"Authorization: Bearer {}\"",
        secret.expose()
    );
    Ok(())
}

/// Registers SIGTERM/SIGINT handlers now (before anything is printed, so a signal sent right
/// after the "listening" line is never lost) and returns the future that resolves on one.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

/// Ctrl-C elsewhere.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Installs the Prometheus recorder and serves `/metrics` on its own (internal) address.
async fn serve_metrics(addr: std::net::SocketAddr) -> Result<()> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| anyhow!("metrics recorder: {e}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-listen {addr}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
    });
    Ok(())
}

/// Runs the server.
pub async fn run(g: &Global, args: ServeArgs) -> Result<ExitCode> {
    init_logging(args.log_format);
    let mut config = config(g, &args)?;
    let store = setup::open_store(g).await?;
    let mut peppers = setup::peppers(g, &store).await?;
    let pepper = peppers.remove(0);
    config.older_peppers = peppers;
    if let Some(addr) = args.metrics_listen {
        serve_metrics(addr).await?;
        println!("Prometheus metrics on http://{addr}/metrics");
    }
    let shutdown = shutdown_signal()?;
    let bound = synaptiq_server::server::bind(config, store.clone(), pepper.clone()).await?;
    let public_url = bound.app.public_url.to_string();
    if let Some(tls) = &bound.tls {
        let verb = if tls.generated {
            "Generated a self-signed"
        } else {
            "Using"
        };
        println!("{verb} TLS certificate: {}", tls.cert_path.display());
        println!("  SHA-256 fingerprint: {}", tls.fingerprint);
    }
    let cacert = bound
        .tls
        .as_ref()
        .filter(|_| matches!(bound.app.config.tls, TlsMode::SelfSigned))
        .map(|t| t.cert_path.display().to_string());
    bootstrap(&store, &pepper, &public_url, cacert.as_deref()).await?;
    let scheme = if bound.tls.is_some() {
        "https"
    } else {
        "http (behind a trusted TLS proxy)"
    };
    println!(
        "Synaptiq listening on {scheme}://{} ({} storage)",
        bound.local_addr,
        store.backend()
    );
    println!("Dashboard: {public_url}/dashboard");
    if let Some(addr) = bound.http_addr {
        println!("Plain HTTP on {addr} answers 403 https_required");
    }
    tracing::info!(addr = %bound.local_addr, "listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = if args.no_webhook_worker {
        None
    } else {
        Some(crate::webhook::spawn_worker(
            store.clone(),
            &args.webhooks,
            stop_rx,
        )?)
    };
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    bound.run(synaptiq_dashboard::routes(), shutdown).await?;
    if let Some(w) = worker {
        let _ = w.await;
    }
    println!("Synaptiq stopped.");
    Ok(ExitCode::SUCCESS)
}
