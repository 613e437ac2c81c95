//! Offline commands: `key check` and `scan`. No database, no network.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use synaptiq_core::key;

/// `synaptiq key check KEY`: exit 0 when well-formed, 1 otherwise.
pub fn check(arg: &str) -> Result<ExitCode> {
    let mut input = arg.to_owned();
    if arg == "-" {
        input.clear();
        std::io::stdin().read_to_string(&mut input)?;
    }
    let input = input.trim();
    match key::parse(input) {
        Ok(k) => {
            println!(
                "valid {} key {} (format and checksum OK; not checked against any database)",
                k.environment(),
                k.hint()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid key: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name == ".git" || name == "target" || name == "node_modules" {
                continue;
            }
            walk(&p, out);
        }
    } else {
        out.push(path.to_owned());
    }
}

/// `synaptiq scan PATH…`: prints each key found (masked) as `file:line: hint`; exit 1 if any.
pub fn scan(paths: &[PathBuf]) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
        walk(p, &mut files);
    }
    let mut found = 0usize;
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (lineno, line) in text.lines().enumerate() {
            for range in key::find_keys(line) {
                let k = &line[range];
                let hint = key::parse(k).map(|p| p.hint()).unwrap_or_default();
                println!("{}:{}: Synaptiq API key {hint}", file.display(), lineno + 1);
                found += 1;
            }
        }
    }
    if found > 0 {
        eprintln!(
            "{found} Synaptiq API key(s) found in {} file(s) scanned. Revoke them and remove them from the files.",
            files.len()
        );
        Ok(ExitCode::FAILURE)
    } else {
        eprintln!("no Synaptiq API keys found in {} file(s)", files.len());
        Ok(ExitCode::SUCCESS)
    }
}
