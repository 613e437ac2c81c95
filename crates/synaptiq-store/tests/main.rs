//! The store's tests: the conformance suite on both backends, errors and opening.
//!
//! One test binary for the crate (one link instead of one per file); each file of this
//! directory is a module.

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

mod conformance;
mod errors;
mod open;
