//! End-to-end tests: the real binary over real TLS, with its CLI.
//!
//! One test binary for the crate (one link instead of one per file); each file of this
//! directory is a module.

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

mod common;
mod e2e_backup;
mod e2e_cli;
mod e2e_client;
mod e2e_errors;
mod e2e_multinode;
mod e2e_pepper;
mod e2e_ratelimit;
mod e2e_transport;
