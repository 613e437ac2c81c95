//! Startup shared by every command that touches storage: data directory, database, pepper.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use synaptiq_app::{NoAuthCache, Services};
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
/// with 0600 permissions when the database has no key it would strand. Checked against the
/// database (`Services::check_pepper`): a node with another pepper than the keys' refuses to
/// run, saying why, instead of refusing every key.
pub async fn pepper(g: &Global, store: &Arc<dyn Store>) -> Result<Pepper> {
    let pepper = match configured_pepper(g)? {
        Some(p) => p,
        None => new_pepper(g, store).await?,
    };
    Services::new(store.clone(), Arc::new(NoAuthCache))
        .check_pepper(&pepper)
        .await?;
    Ok(pepper)
}

/// The pepper from the environment or the data directory; `None` when there is neither.
fn configured_pepper(g: &Global) -> Result<Option<Pepper>> {
    if let Ok(v) = std::env::var("SYNAPTIQ_KEY_PEPPER") {
        return Pepper::decode(&v).context("SYNAPTIQ_KEY_PEPPER").map(Some);
    }
    let path = g.data_dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => Pepper::decode(&text)
            .with_context(|| format!("reading {}", path.display()))
            .map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A new pepper in `<data-dir>/pepper` — unless the database holds keys that need the old
/// one, which a new pepper would silently kill. Its version follows every recorded one, so it
/// never claims the fingerprint of a pepper that came before it.
async fn new_pepper(g: &Global, store: &Arc<dyn Store>) -> Result<Pepper> {
    let path = g.data_dir.join("pepper");
    let versions = store.pepper_versions().await?;
    if let Some(v) = versions.iter().find(|v| v.keys > 0) {
        bail!(
            "the pepper file {} is missing, and this database holds {} usable key(s) hashed \
             under pepper v{}: a new pepper would make every one of them fail. Restore the file \
             from a backup (or set SYNAPTIQ_KEY_PEPPER to that pepper); if those keys are meant \
             to stop working, revoke them first (`synaptiq key revoke`)",
            path.display(),
            v.keys,
            v.version
        );
    }
    let version = versions
        .iter()
        .map(|v| v.version)
        .max()
        .map_or(1, |v| v + 1);
    ensure_data_dir(&g.data_dir)?;
    let (pepper, encoded) = Pepper::generate(version).context("OS random generator")?;
    synaptiq_server::tls::write_private(&path, format!("{encoded}\n").as_bytes())?;
    Ok(pepper)
}
