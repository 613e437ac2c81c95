//! The delivery worker against real receivers on loopback and a real SQLite store: what a
//! receiver gets (verified by the Standard Webhooks reference library), the retry schedule
//! and endpoint states driven by a clock the test controls, the SSRF guard at delivery time,
//! redirects, and lanes (a slow endpoint does not hold up another).

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

mod harness;
mod receive;
mod schedule;
