//! `synaptiq worker` (webhook deliveries without the API) and `synaptiq webhook listen` (a
//! local receiver that verifies and prints deliveries), and the worker `serve` runs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use synaptiq_core::webhook::WebhookSecret;
use synaptiq_store::Store;
use synaptiq_webhooks::{Worker, WorkerConfig};
use tokio::sync::watch;

use crate::cli::{Global, WebhookArgs};
use crate::setup;

/// Starts the delivery worker over `store` until `stop` turns true.
pub fn spawn_worker(
    store: Arc<dyn Store>,
    args: &WebhookArgs,
    stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>> {
    let config = WorkerConfig {
        policy: args.policy(),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(store, config).context("building the webhook HTTP client")?;
    Ok(tokio::spawn(Arc::new(worker).run(stop)))
}

/// `synaptiq worker`: delivers webhooks until SIGTERM/SIGINT.
pub async fn worker(g: &Global, args: &WebhookArgs) -> Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNAPTIQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let store = setup::open_store(g).await?;
    let (tx, rx) = watch::channel(false);
    let handle = spawn_worker(store.clone(), args, rx)?;
    println!(
        "Synaptiq webhook worker running ({} storage)",
        store.backend()
    );
    wait_for_signal().await?;
    let _ = tx.send(true);
    let _ = handle.await;
    store.close().await;
    println!("Webhook worker stopped.");
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
}

/// `synaptiq webhook listen`: receives on 127.0.0.1:`port`, verifies each delivery with the
/// secret and prints it; answers 204 when it verifies, 401 when not.
pub async fn listen(port: u16, secret: Option<String>) -> Result<ExitCode> {
    let secret = match secret {
        Some(s) => {
            WebhookSecret::parse(&s).map_err(|e| anyhow!("--secret: {e}"))?;
            s
        }
        None => {
            let s = WebhookSecret::generate()
                .map_err(|e| anyhow!("OS random generator: {e}"))?
                .encoded();
            println!("Generated a signing secret for this receiver: {s}");
            println!(
                "  Pass it as \"secret\" when you add the endpoint (or restart with --secret)."
            );
            s
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    println!("Listening for webhooks on http://{addr}/ (Ctrl-C to stop).");
    println!(
        "  Add it as an endpoint (the server needs --webhook-allow-http --webhook-allow-private):"
    );
    println!(
        "  curl --cacert synaptiq-data/tls/cert.pem https://127.0.0.1:8443/api/v1/webhooks \\\n    -H \"Authorization: Bearer $SYNAPTIQ_ADMIN_KEY\" -H 'Content-Type: application/json' \\\n    -d '{{\"url\": \"http://{addr}/\", \"events\": [\"*\"], \"secret\": \"{secret}\"}}'"
    );
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let secret = secret.clone();
        async move { receive(&headers, &body, &secret) }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = wait_for_signal().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

fn receive(headers: &HeaderMap, body: &[u8], secret: &str) -> StatusCode {
    match synaptiq_client::webhook::verify(headers, body, secret) {
        Ok(event) => {
            let pretty = serde_json::to_string_pretty(&event.data).unwrap_or_default();
            println!(
                "✓ verified {} {} (version {}, {})\n{pretty}",
                event.kind, event.id, event.version, event.created_at
            );
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            println!("✗ refused {id}: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}
