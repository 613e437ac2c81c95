//! The seeded directory's private files: the pepper and the key lists (mode 0600).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use synaptiq_core::hash::Pepper;

pub(crate) fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub(crate) fn pepper(dir: &Path) -> Result<Pepper> {
    let path = dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => Pepper::decode(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (p, encoded) = Pepper::generate(1).context("OS random generator")?;
            write_private(&path, &format!("{encoded}\n"))?;
            Ok(p)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
