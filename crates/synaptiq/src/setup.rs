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

/// The current key pepper (new keys are hashed under it).
pub async fn pepper(g: &Global, store: &Arc<dyn Store>) -> Result<Pepper> {
    let mut all = peppers(g, store).await?;
    Ok(all.swap_remove(0))
}

/// The key peppers, current first: `SYNAPTIQ_KEY_PEPPER` (`v<N>:<64 hex>`, several separated
/// by commas during a rotation), else `<data-dir>/pepper` (one per line), created with 0600
/// permissions when the database has no key it would strand. Checked against the database
/// (`Services::check_pepper`): a node without the peppers its keys need refuses to run,
/// saying why, instead of refusing every key.
pub async fn peppers(g: &Global, store: &Arc<dyn Store>) -> Result<Vec<Pepper>> {
    let peppers = match configured_peppers(g)? {
        Some(p) => p,
        None => vec![new_pepper(g, store).await?],
    };
    Services::new(store.clone(), Arc::new(NoAuthCache))
        .check_pepper(&peppers)
        .await?;
    Ok(peppers)
}

/// `synaptiq pepper-status`: each version the database knows, its usable keys, and whether
/// this node has it (current, older, or missing) with a matching fingerprint. A rotation is
/// done when the older versions show 0 keys: then they can be dropped from the list.
pub async fn pepper_status(g: &Global, json: bool) -> Result<std::process::ExitCode> {
    let store = open_store(g).await?;
    let mine = configured_peppers(g)?.unwrap_or_default();
    let rows: Vec<serde_json::Value> = store
        .pepper_versions()
        .await?
        .into_iter()
        .map(|v| {
            let here = mine.iter().position(|p| p.version() == v.version);
            let here = match (here, &v.fingerprint) {
                (None, _) => "missing",
                (Some(i), Some(f)) if *f != mine[i].fingerprint() => "mismatch",
                (Some(0), _) => "current",
                (Some(_), _) => "older",
            };
            serde_json::json!({
                "version": v.version,
                "fingerprint": v.fingerprint.map(|f| format!("{}…", &f[..8.min(f.len())])),
                "usableKeys": v.keys,
                "thisNode": here,
            })
        })
        .collect();
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<8} {:<12} {:>11}  this node",
            "version", "fingerprint", "usable keys"
        );
        for r in &rows {
            let version = format!("v{}", r["version"].as_u64().unwrap_or_default());
            println!(
                "{version:<8} {:<12} {:>11}  {}",
                r["fingerprint"].as_str().unwrap_or("-"),
                r["usableKeys"].as_u64().unwrap_or_default(),
                r["thisNode"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The peppers from the environment or the data directory; `None` when there are neither.
fn configured_peppers(g: &Global) -> Result<Option<Vec<Pepper>>> {
    if let Ok(v) = std::env::var("SYNAPTIQ_KEY_PEPPER") {
        return Pepper::decode_list(&v)
            .context("SYNAPTIQ_KEY_PEPPER")
            .map(Some);
    }
    let path = g.data_dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => Pepper::decode_list(&text)
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
