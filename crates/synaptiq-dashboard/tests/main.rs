//! The dashboard's tests, through the product's router (the server's test harness).
//!
//! One test binary for the crate (one link instead of one per file); each file of this
//! directory is a module.

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

#[path = "../../synaptiq-server/tests/common/mod.rs"]
mod common;
mod dashboard;
mod dashboard_keys;
mod dashboard_pages;
mod dashboard_webhook_actions;
mod dashboard_webhooks;
