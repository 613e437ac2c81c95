//! `synaptiq`: the API server and its operator CLI, in one binary.
//!
//! # Layout
//! - [`cli`]: the clap definitions; every flag also reads a `SYNAPTIQ_*` variable.
//! - [`setup`]: shared startup: data directory, database, pepper.
//! - [`serve`]: `synaptiq serve`, including the first-run bootstrap.
//! - [`admin`]: `org`, `key`, `user` and `migrate`.
//! - [`scan`]: `key check` and `scan` (offline).

mod admin;
mod cli;
mod scan;
mod serve;
mod setup;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // One crypto provider in the whole process (ring), installed before any TLS use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
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
