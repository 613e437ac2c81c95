//! `synaptiq`: the API server and its operator CLI, in one binary.
//!
//! # Layout
//! - [`cli`]: the clap definitions; every flag also reads a `SYNAPTIQ_*` variable.
//! - [`setup`]: shared startup: data directory, database, pepper.
//! - [`serve`]: `synaptiq serve`, including the first-run bootstrap.
//! - [`admin`]: `org`, `key`, `user` and `migrate`.
//! - [`scan`]: `key check` and `scan` (offline).
//! - [`webhook`]: `worker` (webhook deliveries alone) and `webhook listen`.

mod admin;
mod backup;
mod cli;
mod config_file;
mod scan;
mod serve;
mod setup;
mod webhook;

/// Flags, then `SYNAPTIQ_*` variables, then `synaptiq.toml` (values become flag defaults).
fn parse_cli() -> anyhow::Result<cli::Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = cli::Cli::command();
    if let Some(path) = config_file::locate() {
        cmd = config_file::apply_file(cmd, &path)?;
    }
    let matches = cmd.get_matches();
    Ok(cli::Cli::from_arg_matches(&matches)?)
}

/// mimalloc instead of glibc's malloc: a request makes a few dozen short-lived allocations,
/// and glibc's allocator was a quarter of the instructions of `GET /api/v1/me` (callgrind,
/// docs/performance-history.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // One crypto provider in the whole process (ring), installed before any TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
