//! `synaptiq backup` and `synaptiq restore`: the SQLite database copied consistently while the
//! server runs, and put back while it does not. PostgreSQL has `pg_dump` and `pg_restore`
//! (`docs/RELIABILITY.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cli::Global;
use crate::setup;

const POSTGRES: &str = "this database is PostgreSQL: back it up with `pg_dump --format=custom \
    --file=FILE URL` (consistent while the server runs) and restore it with `pg_restore \
    --clean --dbname=URL FILE`";

/// The SQLite file of `g`'s database URL, or why there is none.
fn sqlite_path(g: &Global) -> Result<PathBuf> {
    let url = setup::database_url(g);
    let Some(rest) = url.strip_prefix("sqlite://") else {
        bail!("{POSTGRES}");
    };
    let file = rest.split('?').next().unwrap_or_default();
    if file.is_empty() || file == ":memory:" {
        bail!("no database file in {url:?}");
    }
    Ok(PathBuf::from(file))
}

/// `synaptiq backup --to FILE`.
pub async fn backup(g: &Global, to: &Path) -> Result<ExitCode> {
    let db = sqlite_path(g)?;
    if !db.exists() {
        bail!("no database at {}", db.display());
    }
    if to.exists() {
        bail!("{} exists: a backup never overwrites a file", to.display());
    }
    let target = to.to_str().context("the backup path must be UTF-8")?;
    let store = synaptiq_store::open(&setup::database_url(g)).await?;
    let began = Instant::now();
    let done = store.backup_to(target).await;
    store.close().await;
    done.with_context(|| format!("writing {}", to.display()))?;
    // It holds key hashes and password hashes: owner-only, like the data directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))?;
    }
    let bytes = std::fs::metadata(to)?.len();
    println!(
        "backup written to {} ({bytes} bytes in {} ms): every change committed before it began.",
        to.display(),
        began.elapsed().as_millis()
    );
    println!(
        "It holds key hashes, not keys: keep the pepper ({}, or SYNAPTIQ_KEY_PEPPER) too, stored \
         apart from the backup.",
        g.data_dir.join("pepper").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `synaptiq restore --from FILE [--force]`: copies the backup beside the database, checks it
/// opens as a Synaptiq database, then moves it into place (removing the old WAL).
pub async fn restore(g: &Global, from: &Path, force: bool) -> Result<ExitCode> {
    let db = sqlite_path(g)?;
    if !from.is_file() {
        bail!("no backup at {}", from.display());
    }
    if db.exists() && !force {
        bail!(
            "{} exists: stop the server, then run `synaptiq restore --from {} --force` to \
             replace it",
            db.display(),
            from.display()
        );
    }
    setup::ensure_data_dir(db.parent().unwrap_or(Path::new(".")))?;
    let staged = db.with_extension("db.restoring");
    std::fs::copy(from, &staged)
        .with_context(|| format!("copying {} to {}", from.display(), staged.display()))?;
    let check = async {
        let store = synaptiq_store::open(&format!("sqlite://{}", staged.display())).await?;
        let orgs = store.list_orgs().await;
        store.close().await;
        anyhow::Ok(orgs?.len())
    };
    let orgs = match check.await {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e.context(format!("{} is not a Synaptiq database", from.display())));
        }
    };
    std::fs::File::open(&staged)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&staged, &db)?;
    if let Some(dir) = db.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    println!(
        "restored {} into {} ({orgs} organization(s)); start the server with the pepper of the \
         data directory it was taken from.",
        from.display(),
        db.display()
    );
    Ok(ExitCode::SUCCESS)
}
