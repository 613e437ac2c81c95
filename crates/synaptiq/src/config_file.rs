//! The optional `synaptiq.toml`: the third source of configuration, after flags and
//! `SYNAPTIQ_*` environment variables.
//!
//! Each key names a flag (`listen = "0.0.0.0:8443"`, `rate-policy = "policy.toml"`,
//! `trusted-proxy = ["10.0.0.0/8"]`). Values become the flags' *defaults*, which clap ranks
//! below the command line and the environment — exactly the precedence the spec asks for. Keys
//! at the top level apply to every command that has such a flag; a `[serve]` table applies to
//! `serve` only. An unknown key is an error naming it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::{Arg, Command};

/// Where the file is looked for: `SYNAPTIQ_CONFIG`, else `./synaptiq.toml` if present.
pub fn locate() -> Option<std::path::PathBuf> {
    match std::env::var_os("SYNAPTIQ_CONFIG") {
        Some(p) => Some(p.into()),
        None => Some(Path::new("synaptiq.toml").to_owned()).filter(|p| p.exists()),
    }
}

fn as_strings(key: &str, v: &toml::Value) -> Result<Vec<String>> {
    Ok(match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| as_strings(key, i).map(|mut v| v.remove(0)))
            .collect::<Result<_>>()?,
        _ => bail!("`{key}` must be a string, number, boolean or array"),
    })
}

fn apply(cmd: Command, table: &toml::Table, strict: bool) -> Result<Command> {
    let mut cmd = cmd;
    for (key, value) in table {
        if value.is_table() {
            continue;
        }
        let id = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
            .map(|a| a.get_id().to_string());
        match id {
            Some(id) => {
                // clap keeps defaults as `&'static str` (without its `string` feature); the
                // file is read once at startup, so leaking these few strings is bounded.
                let values: Vec<&'static str> = as_strings(key, value)?
                    .into_iter()
                    .map(|s| &*Box::leak(s.into_boxed_str()))
                    .collect();
                cmd = cmd.mut_arg(id, |a: Arg| a.default_values(values));
            }
            None if strict => bail!("unknown setting `{key}` in the configuration file"),
            None => {}
        }
    }
    Ok(cmd)
}

/// Applies the file at `path` to the command tree.
pub fn apply_file(cmd: Command, path: &Path) -> Result<Command> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    let known_global = ["data-dir", "database-url"];
    let mut cmd = apply(cmd, &table, false)?;
    if let Some(serve) = table.get("serve").and_then(toml::Value::as_table) {
        let mut err = None;
        cmd = cmd.mut_subcommand("serve", |s| match apply(s.clone(), serve, true) {
            Ok(s) => s,
            Err(e) => {
                err = Some(e);
                s
            }
        });
        if let Some(e) = err {
            return Err(e.context(format!("in [serve] of {}", path.display())));
        }
    }
    let serve_args: Vec<String> = cmd
        .find_subcommand("serve")
        .map(|s| {
            s.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for key in table.keys().filter(|k| !table[k.as_str()].is_table()) {
        if !known_global.contains(&key.as_str()) && !serve_args.iter().any(|a| a == key) {
            bail!("unknown setting `{key}` in {}", path.display());
        }
    }
    // Top-level keys that are `serve` flags apply to `serve`.
    let top: toml::Table = table
        .into_iter()
        .filter(|(k, v)| !v.is_table() && !known_global.contains(&k.as_str()))
        .collect();
    let mut err = None;
    cmd = cmd.mut_subcommand("serve", |s| match apply(s.clone(), &top, false) {
        Ok(s) => s,
        Err(e) => {
            err = Some(e);
            s
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(cmd),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::cli::{Cli, Command as Sub};

    fn parse(file: &str, args: &[&str]) -> Result<Cli> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("synaptiq.toml");
        std::fs::write(&path, file)?;
        let cmd = apply_file(Cli::command(), &path)?;
        let m = cmd.try_get_matches_from(args)?;
        Ok(Cli::from_arg_matches(&m)?)
    }

    #[test]
    fn file_values_are_defaults_below_flags() {
        let cli = parse(
            "data-dir = \"/srv/synaptiq\"\nlisten = \"0.0.0.0:9443\"\n[serve]\nmax-connections = 7\n",
            &["synaptiq", "serve", "--max-connections", "9"],
        )
        .expect("valid");
        assert_eq!(
            cli.global.data_dir,
            std::path::PathBuf::from("/srv/synaptiq")
        );
        let Sub::Serve(s) = cli.command else {
            panic!("serve")
        };
        assert_eq!(s.listen.to_string(), "0.0.0.0:9443");
        assert_eq!(s.max_connections, 9, "the flag wins over the file");
        let cli = parse(
            "[serve]\ntrusted-proxy = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n",
            &["synaptiq", "serve"],
        )
        .expect("valid");
        let Sub::Serve(s) = cli.command else {
            panic!("serve")
        };
        assert_eq!(s.trusted_proxies.len(), 2);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse("lisen = \"x\"\n", &["synaptiq", "serve"]).expect_err("typo");
        assert!(err.to_string().contains("lisen"), "{err}");
        assert!(parse("[serve]\nport = 1\n", &["synaptiq", "serve"]).is_err());
    }
}
