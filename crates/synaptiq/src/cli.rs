//! Command-line interface. Flags first, then `SYNAPTIQ_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Synaptiq API server and operator CLI.
#[derive(Debug, Parser)]
#[command(name = "synaptiq", version, about)]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Data directory: SQLite database, TLS certificate, key pepper.
    #[arg(
        long,
        env = "SYNAPTIQ_DATA_DIR",
        default_value = "./synaptiq-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL; defaults to sqlite://<data-dir>/synaptiq.db.
    #[arg(
        long,
        env = "SYNAPTIQ_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS server (creates a starter organization and key on an empty database).
    Serve(ServeArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Apply database migrations.
    Migrate,
    /// Key peppers: how many usable keys each version still hashes, and which this node has.
    PepperStatus {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent copy of the SQLite database to FILE, while the server runs.
    Backup {
        /// The backup file to create (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the SQLite database with a backup (stop the server first).
    Restore {
        /// The backup file (made by `synaptiq backup`).
        #[arg(long)]
        from: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
    },
    /// Run the webhook delivery worker alone (for operators who run it apart from `serve`;
    /// start `serve` with --no-webhook-worker then).
    Worker(WebhookArgs),
    /// Webhook tools for developers.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Find Synaptiq keys with valid checksums in files (exit 1 when any is found).
    Scan {
        /// Files or directories to scan.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// TLS mode of `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsFlag {
    /// TLS on (self-signed unless --tls-cert/--tls-key).
    On,
    /// No TLS: only behind a --trusted-proxy that terminates it.
    Off,
}

/// What to do with a key sent over plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlaintextFlag {
    /// Mark it exposed.
    Flag,
    /// Revoke it.
    Revoke,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `synaptiq serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS listen address.
    #[arg(long, env = "SYNAPTIQ_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Also listen for plain HTTP, answering every request with 403 https_required.
    #[arg(long, env = "SYNAPTIQ_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// TLS on or off (off requires --trusted-proxy).
    #[arg(long, env = "SYNAPTIQ_TLS", value_enum, default_value = "on")]
    pub tls: TlsFlag,
    /// Certificate chain (PEM); default: a self-signed certificate in <data-dir>/tls.
    #[arg(long, env = "SYNAPTIQ_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM).
    #[arg(long, env = "SYNAPTIQ_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CIDR of a proxy whose X-Forwarded-For/-Proto are trusted (repeatable).
    #[arg(
        long = "trusted-proxy",
        env = "SYNAPTIQ_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Public base URL used in links (doc_url); default https://<listen>.
    #[arg(long, env = "SYNAPTIQ_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// What to do with a key seen over plain HTTP.
    #[arg(
        long,
        env = "SYNAPTIQ_ON_PLAINTEXT_KEY",
        value_enum,
        default_value = "flag"
    )]
    pub on_plaintext_key: PlaintextFlag,
    /// Redis URL: makes rate limits global across server processes.
    #[arg(long, env = "SYNAPTIQ_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Address for Prometheus metrics (`/metrics`, plain HTTP); off by default.
    #[arg(long, env = "SYNAPTIQ_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Rate policy file (TOML); default: the seed's table.
    #[arg(long, env = "SYNAPTIQ_RATE_POLICY")]
    pub rate_policy: Option<PathBuf>,
    /// Largest request head in bytes (header names and values, plus 32 per field): `431` above.
    #[arg(long, env = "SYNAPTIQ_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
    /// Seconds allowed to send a request head.
    #[arg(long, env = "SYNAPTIQ_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds allowed for a whole request.
    #[arg(long, env = "SYNAPTIQ_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Seconds a streamed answer (server-sent events) may go without sending anything (at
    /// least 20: event streams send a keep-alive every 15).
    #[arg(long, env = "SYNAPTIQ_STREAM_IDLE_TIMEOUT", default_value_t = 60)]
    pub stream_idle_timeout_secs: u64,
    /// Concurrent connections.
    #[arg(long, env = "SYNAPTIQ_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Concurrent connections from one client address (0: no cap). Behind a proxy (`--tls
    /// off`) every connection is the proxy's, and this cap does not apply.
    #[arg(long, env = "SYNAPTIQ_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// Seconds a connection may stay without a request before it is closed (HTTP/2: GOAWAY).
    #[arg(long, env = "SYNAPTIQ_IDLE_TIMEOUT", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Memory for cached lead lists and searches, in MiB (0 turns the cache off). A cached
    /// answer is reused only while the organization's leads are unchanged.
    #[arg(long, env = "SYNAPTIQ_PAGE_CACHE_MB", default_value_t = 64)]
    pub page_cache_mb: u64,
    /// Log format.
    #[arg(long, env = "SYNAPTIQ_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// What webhooks may reach.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Do not deliver webhooks from this process (a `synaptiq worker` does).
    #[arg(long, env = "SYNAPTIQ_NO_WEBHOOK_WORKER")]
    pub no_webhook_worker: bool,
}

/// What webhook URLs may reach (shared by `serve` and `worker`).
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Allow plain http:// webhook URLs (development only).
    #[arg(long, env = "SYNAPTIQ_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,
    /// Allow webhooks to loopback, private and link-local addresses (development and tests:
    /// a receiver on 127.0.0.1 needs it). Off, such addresses are refused when an endpoint is
    /// added and again at every delivery.
    #[arg(long, env = "SYNAPTIQ_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
}

impl WebhookArgs {
    /// As the application's policy.
    pub fn policy(&self) -> synaptiq_app::webhooks::WebhookPolicy {
        synaptiq_app::webhooks::WebhookPolicy {
            allow_http: self.webhook_allow_http,
            allow_private: self.webhook_allow_private,
        }
    }
}

/// `synaptiq webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// A local receiver: verifies each delivery's signature and prints it.
    Listen {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// The endpoint's secret (`whsec_…`); without it one is generated and printed, to
        /// pass as `secret` when you add the endpoint.
        #[arg(long, env = "SYNAPTIQ_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
}

/// `synaptiq org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// starter, pro or enterprise.
        #[arg(long, default_value = "starter")]
        plan: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change an organization's plan (takes effect in running servers within 2 s).
    SetPlan {
        /// Organization id.
        org: String,
        /// starter, pro or enterprise.
        plan: String,
    },
}

/// `synaptiq key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key and print it (the secret is shown once).
    Create {
        /// Organization id.
        #[arg(long)]
        org: String,
        /// read, write or admin.
        #[arg(long)]
        scope: String,
        /// live or test.
        #[arg(long)]
        env: String,
        /// A label.
        #[arg(long, default_value = "CLI key")]
        name: String,
        /// Expiry (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
        /// Print the API's JSON (including `secret`).
        #[arg(long)]
        json: bool,
    },
    /// List an organization's keys.
    List {
        /// Organization id.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rotate a key: a new key now, the old one valid for a grace period.
    Rotate {
        /// Key id.
        id: String,
        /// Grace period in seconds (0–604800).
        #[arg(long, default_value_t = 86_400)]
        grace: i64,
    },
    /// Revoke a key now (running servers refuse it within 2 s).
    Revoke {
        /// Key id.
        id: String,
    },
    /// Check a key's format and checksum offline (no database).
    Check {
        /// The key (or "-" to read it from stdin, keeping it out of shell history).
        key: String,
    },
}

/// `synaptiq user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a dashboard user; the password is read from stdin.
    Create {
        /// Organization id.
        #[arg(long)]
        org: String,
        /// Login email.
        #[arg(long)]
        email: String,
        /// owner, admin or viewer.
        #[arg(long)]
        role: String,
    },
}

/// Dispatches a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => crate::serve::run(&cli.global, args).await,
        Command::Org(cmd) => crate::admin::org(&cli.global, cmd).await,
        Command::Key(KeyCommand::Check { key }) => crate::scan::check(&key),
        Command::Key(cmd) => crate::admin::key(&cli.global, cmd).await,
        Command::User(cmd) => crate::admin::user(&cli.global, cmd).await,
        Command::Migrate => crate::admin::migrate(&cli.global).await,
        Command::PepperStatus { json } => crate::setup::pepper_status(&cli.global, json).await,
        Command::Backup { to } => crate::backup::backup(&cli.global, &to).await,
        Command::Restore { from, force } => crate::backup::restore(&cli.global, &from, force).await,
        Command::Scan { paths } => crate::scan::scan(&paths),
        Command::Worker(args) => crate::webhook::worker(&cli.global, &args).await,
        Command::Webhook(WebhookCommand::Listen { port, secret }) => {
            crate::webhook::listen(port, secret).await
        }
    }
}
