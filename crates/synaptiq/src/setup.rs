//! Startup shared by every command that touches storage: data directory, database, pepper.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use synaptiq_core::hash::Pepper;
use synaptiq_store::Store;

use crate::cli::Global;

/// The database URL: the flag, or SQLite in the data directory.
pub fn database_url(g: &Global) -> String {
    g.database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", g.data_dir.join("synaptiq.db").display()))
}

/// Creates the data directory (owner-only) if needed.
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Opens the store and applies migrations.
pub async fn open_store(g: &Global) -> Result<Arc<dyn Store>> {
    ensure_data_dir(&g.data_dir)?;
    let store = synaptiq_store::open(&database_url(g)).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// The key pepper: `SYNAPTIQ_KEY_PEPPER` (`v<N>:<64 hex>`), else `<data-dir>/pepper`, created
/// with 0600 permissions on first use. Losing it invalidates every key.
pub fn pepper(g: &Global) -> Result<Pepper> {
    if let Ok(v) = std::env::var("SYNAPTIQ_KEY_PEPPER") {
        return Pepper::decode(&v).context("SYNAPTIQ_KEY_PEPPER");
    }
    let path = g.data_dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => Pepper::decode(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ensure_data_dir(&g.data_dir)?;
            let (pepper, encoded) = Pepper::generate(1).context("OS random generator")?;
            synaptiq_server::tls::write_private(&path, format!("{encoded}\n").as_bytes())?;
            Ok(pepper)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
