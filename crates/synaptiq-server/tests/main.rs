//! The server's black-box tests: the real router and stack, in process, on SQLite (or PostgreSQL with SYNAPTIQ_TEST_BACKEND=postgres).
//!
//! One test binary for the crate (one link instead of one per file); each file of this
//! directory is a module.

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

mod auth;
mod common;
mod conformance;
mod contract;
mod error_envelope;
mod fuzz_corpus;
mod keys;
mod leads;
mod ratelimit;
mod streaming;
