//! Server configuration: plain data, validated by the binary at startup and passed in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// How TLS is provided.
#[derive(Debug, Clone)]
pub enum TlsMode {
    /// Certificate and key PEM files given by the operator.
    Files {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM).
        key: PathBuf,
    },
    /// A self-signed certificate generated into `<data-dir>/tls/` on first start.
    SelfSigned,
    /// No TLS: a TLS-terminating proxy in `trusted_proxies` sits in front.
    Off,
}

/// What to do with a key seen over plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaintextKeyPolicy {
    /// Mark it exposed (audit event), keep it working.
    Flag,
    /// Revoke it.
    Revoke,
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTPS listen address.
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener that answers every request with `https_required`.
    pub http_listen: Option<SocketAddr>,
    /// TLS source.
    pub tls: TlsMode,
    /// Data directory (self-signed certificate, pepper, SQLite file).
    pub data_dir: PathBuf,
    /// Proxies whose `X-Forwarded-For`/`X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Base URL for links in responses (`doc_url`, `Link`); empty: `https://<bound address>`.
    pub public_url: String,
    /// Time allowed to send the request head (slowloris guard).
    pub header_read_timeout: Duration,
    /// Time allowed for a whole request (until its answer's head; a streamed body has
    /// [`Self::stream_idle_timeout`] instead).
    pub request_timeout: Duration,
    /// A streaming route's body ends after this long without sending anything.
    pub stream_idle_timeout: Duration,
    /// Peppers of a rotation in progress, besides the current one: a key not found under the
    /// current pepper is looked for under these, and re-hashed under the current one when
    /// found (`guard::authenticate`).
    pub older_peppers: Vec<synaptiq_core::hash::Pepper>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Largest accepted request head: the bytes of every header name and value plus 32 per
    /// field (HTTP/2's accounting, RFC 9113 §6.5.2), over which a request gets `431`.
    pub header_limit: usize,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Concurrent connections from one client address (direct connections; 0: no cap).
    pub max_connections_per_ip: usize,
    /// A connection with no request for this long is closed (HTTP/2 with GOAWAY).
    pub idle_timeout: Duration,
    /// Memory for rendered lead lists and searches (0: none cached).
    pub page_cache_bytes: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Policy for keys seen over plain HTTP.
    pub on_plaintext_key: PlaintextKeyPolicy,
    /// Requests per minute by scope and plan, and the failed-authentication throttle.
    pub rate_policy: synaptiq_core::plan::RatePolicy,
    /// Redis URL for global rate limits (`None`: per-process limits).
    pub redis_url: Option<String>,
    /// How often the key cache checks the database for changes made elsewhere.
    pub cache_poll_interval: Duration,
    /// How often last-use facts are written and expired keys are swept.
    pub housekeeping_interval: Duration,
    /// What webhook URLs may reach (`--webhook-allow-http`, `--webhook-allow-private`).
    pub webhooks: synaptiq_app::webhooks::WebhookPolicy,
}

impl ServerConfig {
    /// Defaults for a data directory (the values `synaptiq serve` uses without flags).
    pub fn new(data_dir: PathBuf) -> Self {
        let listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8443));
        Self {
            listen,
            http_listen: None,
            tls: TlsMode::SelfSigned,
            data_dir,
            trusted_proxies: Vec::new(),
            public_url: default_public_url(listen),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            stream_idle_timeout: Duration::from_secs(60),
            older_peppers: Vec::new(),
            body_limit: 1024 * 1024,
            header_limit: 32 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            idle_timeout: Duration::from_secs(60),
            page_cache_bytes: crate::page_cache::MAX_BYTES,
            shutdown_grace: Duration::from_secs(30),
            on_plaintext_key: PlaintextKeyPolicy::Flag,
            cache_poll_interval: Duration::from_millis(500),
            redis_url: None,
            housekeeping_interval: Duration::from_secs(5),
            rate_policy: synaptiq_core::plan::RatePolicy::default(),
            webhooks: synaptiq_app::webhooks::WebhookPolicy::default(),
        }
    }
}

/// `https://<listen>`, with `localhost` for an unspecified address.
pub fn default_public_url(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("https://localhost:{}", listen.port())
    } else if listen.is_ipv6() {
        format!("https://[{}]:{}", listen.ip(), listen.port())
    } else {
        format!("https://{listen}")
    }
}
