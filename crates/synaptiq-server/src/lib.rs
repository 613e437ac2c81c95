//! The Synaptiq HTTPS server.
//!
//! # Layout
//! - [`config`]: the server's configuration, as plain data.
//! - [`app`]: `AppState(Arc<App>)`, the state every handler shares.
//! - [`transport`]: the accept loop: TLS (rustls), plain-HTTP rejection, timeouts, connection
//!   cap, graceful shutdown. [`tls`]: certificates.
//! - [`stack`]: the one middleware stack (request id, headers, limits, authentication).
//! - [`auth`]: Bearer parsing, key verification and its cache, scope checks.
//! - [`ratelimit`]: per-key GCRA buckets and the failed-authentication throttle.
//! - [`routes`]: every route with its required scope (one table), one file per resource.
//! - [`extract`]: JSON body and query extractors that speak our error envelope.
//! - [`keys`]: issuing and rotating keys (the only place a plain key exists).
//! - [`usage`]: last-use facts, batched. [`exposure`]: the plain-HTTP tripwire.
//! - [`server`]: binding, background tasks (cache poller, usage flusher, expiry sweep).
//! - [`error`]: `ApiError`, the only error type of the HTTP layer.
//! - [`request_id`]: request ids and the headers every response carries.
//! - [`openapi`], [`docs`]: the OpenAPI document and the documentation pages.
//!
//! A request flows: transport → stack (request id → limits → authenticate → scope → rate
//! limit) → handler → store.

pub mod app;
pub mod auth;
pub mod breaker;
pub mod config;
pub mod context;
pub mod docs;
pub mod error;
pub mod exposure;
pub mod extract;
pub mod guard;
pub mod hygiene;
pub mod openapi;
pub mod page_cache;
pub mod ratelimit;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod stack;
pub mod streaming;
pub mod tls;
pub mod transport;

pub use app::{App, AppState};
pub use config::{PlaintextKeyPolicy, ServerConfig, TlsMode};
