//! Chooses the backend from the database URL's scheme. Unknown schemes are a loud error.
//!
//! | URL | backend |
//! |---|---|
//! | `sqlite://path/to/file.db`, `sqlite:file.db` | SQLite; the file is created if missing, but only in a directory that exists |
//! | `postgres://user:password@host:5432/db`, `postgresql://…` | PostgreSQL (sqlx's URL parameters, e.g. `sslmode`, `options`) |
//!
//! Pool settings come from [`OpenOptions`] (defaults: 10 connections, 5 s acquire timeout) and
//! can be set per URL with query parameters, which are taken out before the URL reaches the
//! driver:
//!
//! - `max_connections=N`: the most connections the pool opens (1–1000);
//! - `acquire_timeout=S`: how many seconds a query waits for a connection, including opening a
//!   new one (1–3600); past it the store answers `Unavailable`;
//! - `target_session_attrs=read-write|any` (PostgreSQL): with `read-write`, a connection to a
//!   server in read-only mode (a hot standby after a failover moved the DNS name) is refused
//!   and retried, as libpq does. sqlx 0.9 has no such option, hence this check.
//!
//! For example `postgres://synaptiq@db.internal/synaptiq?max_connections=20&acquire_timeout=2`.
//! Error messages never repeat the URL, so a password in it cannot reach a log.

use std::sync::Arc;
use std::time::Duration;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::store::Store;

/// Why a database could not be opened. No variant carries the URL.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL's scheme names no supported backend.
    #[error("unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    Scheme(String),
    /// The backend refused to open.
    #[error("cannot open database: {0}")]
    Backend(String),
    /// The URL is malformed or one of its pool parameters is invalid.
    #[error("invalid database URL: {0}")]
    Url(String),
}

/// Connection pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// The most connections the pool keeps open.
    pub max_connections: u32,
    /// How long a query waits for a free connection (including opening a new one) before the
    /// store reports `Unavailable`.
    pub acquire_timeout: Duration,
    /// PostgreSQL: refuse connections to a read-only server (`target_session_attrs=read-write`).
    pub read_write_only: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            read_write_only: false,
        }
    }
}

/// Opens the store for `url` with default pool settings (overridable in the URL). Does not
/// run migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_with(url, OpenOptions::default()).await
}

/// Opens the store for `url`; pool parameters in the URL override `defaults`. Does not run
/// migrations.
pub async fn open_with(url: &str, defaults: OpenOptions) -> Result<Arc<dyn Store>, OpenError> {
    let (url, options) = pool_params(url, defaults)?;
    let backend = |e: sqlx::Error| OpenError::Backend(e.to_string());
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = SqliteStore::open_with(path, &options)
            .await
            .map_err(backend)?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::open_with(&url, &options).await.map_err(backend)?;
        return Ok(Arc::new(store));
    }
    Err(scheme_error(&url))
}

/// The error for a URL no backend claims: names its scheme when it has a well-formed one,
/// and repeats nothing otherwise (a string without a scheme may be a bare password).
fn scheme_error(url: &str) -> OpenError {
    let scheme = url.split(':').next().unwrap_or_default();
    let well_formed = url.contains(':')
        && scheme.len() <= 32
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if well_formed {
        OpenError::Scheme(scheme.to_owned())
    } else {
        OpenError::Url(
            "expected sqlite://PATH or postgres://USER@HOST/DB (the value is not shown)".to_owned(),
        )
    }
}

/// Takes `max_connections` and `acquire_timeout` out of the URL's query, returning the URL
/// the driver sees and the resulting options.
fn pool_params(url: &str, defaults: OpenOptions) -> Result<(String, OpenOptions), OpenError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), defaults));
    };
    let mut options = defaults;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "max_connections" => {
                options.max_connections = bounded(key, value, 1, 1000)?;
            }
            "acquire_timeout" => {
                options.acquire_timeout = Duration::from_secs(bounded(key, value, 1, 3600)?.into());
            }
            "target_session_attrs" => {
                options.read_write_only = match value {
                    "read-write" => true,
                    "any" => false,
                    _ => {
                        return Err(OpenError::Url(
                            "target_session_attrs must be read-write or any".to_owned(),
                        ));
                    }
                };
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, options))
}

fn bounded(key: &str, value: &str, min: u32, max: u32) -> Result<u32, OpenError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| OpenError::Url(format!("{key} must be a whole number from {min} to {max}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(url: &str) -> Result<(String, OpenOptions), OpenError> {
        pool_params(url, OpenOptions::default())
    }

    #[test]
    fn pool_parameters_are_taken_out_of_the_url() {
        let (url, o) =
            params("postgres://u:p@h/db?sslmode=disable&max_connections=3&acquire_timeout=2")
                .expect("valid");
        assert_eq!(url, "postgres://u:p@h/db?sslmode=disable");
        assert_eq!(o.max_connections, 3);
        assert_eq!(o.acquire_timeout, Duration::from_secs(2));
        let (url, o) = params("postgres://h/db?max_connections=7").expect("valid");
        assert_eq!(url, "postgres://h/db");
        assert_eq!(o.max_connections, 7);
        assert_eq!(o.acquire_timeout, Duration::from_secs(5));
        let (url, o) = params("sqlite://a.db").expect("valid");
        assert_eq!((url.as_str(), o), ("sqlite://a.db", OpenOptions::default()));
    }

    #[test]
    fn bad_pool_parameters_are_loud_and_never_echo_the_url() {
        for url in [
            "postgres://u:hunter2@h/db?max_connections=0",
            "postgres://u:hunter2@h/db?max_connections=lots",
            "postgres://u:hunter2@h/db?acquire_timeout=-1",
            "postgres://u:hunter2@h/db?acquire_timeout=99999",
        ] {
            let msg = params(url).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(msg.starts_with("invalid database URL: "), "{url}: {msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
    }

    #[test]
    fn unknown_schemes_name_the_scheme_only() {
        let msg = scheme_error("mysql://root:hunter2@h/db").to_string();
        assert!(msg.contains("\"mysql\""), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        for url in ["hunter2", "postgres//u:hunter2@h/db", "user@hunter2:5432"] {
            let msg = scheme_error(url).to_string();
            assert!(!msg.contains("hunter2"), "{url}: {msg}");
        }
    }
}
