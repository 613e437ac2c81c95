//! Chooses the backend from the database URL's scheme. Unknown schemes are a loud error.

use std::sync::Arc;

use crate::sqlite::SqliteStore;
use crate::traits::Store;

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL's scheme names no supported backend.
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://PATH (PostgreSQL support is planned)"
    )]
    Scheme(String),
    /// The backend refused to open.
    #[error("cannot open database: {0}")]
    Backend(String),
}

/// Opens the store for `url` (`sqlite://path/to/file.db`). Does not run migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = SqliteStore::open(path)
            .await
            .map_err(|e| OpenError::Backend(e.to_string()))?;
        return Ok(Arc::new(store));
    }
    let scheme = url.split(':').next().unwrap_or_default().to_owned();
    Err(OpenError::Scheme(scheme))
}
