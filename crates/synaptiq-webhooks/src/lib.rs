//! Synaptiq's webhook delivery worker. The changes of the API write their deliveries into the
//! outbox in their own transactions (`synaptiq-store`); this crate delivers them:
//!
//! - [`worker`]: claims due deliveries (each in flight on one node), runs attempts in
//!   per-endpoint lanes, writes outcomes in batches;
//! - [`attempt`]: one signed POST (Standard Webhooks headers, 15 s, no redirects) and the
//!   schedule's answer to it;
//! - [`resolver`]: the SSRF guard at connection time (the address checked is the address
//!   connected to).
//!
//! `synaptiq serve` runs the worker beside the API; `synaptiq worker` runs it alone.

pub mod attempt;
pub mod resolver;
pub mod worker;

pub use worker::{Clock, Worker, WorkerConfig};
