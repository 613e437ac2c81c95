//! The rules of Synaptiq, without I/O.
//!
//! # Layout
//! - [`ids`]: prefixed ULID identifiers (`org_…`, `key_…`, `lead_…`) as newtypes.
//! - [`key`]: the API key format (`sk_live_`/`sk_test_` + 30 random + 6 checksum, base62),
//!   generation, parsing, display hints, and the redacted [`key::ApiKeySecret`].
//! - [`hash`]: the server pepper and the HMAC-SHA256 [`hash::KeyHash`] stored instead of a key.
//! - [`scope`]: scopes, environments and which scope a request needs.
//! - [`plan`]: organization plans and the rate policy table of the seed.
//! - [`event`]: every kind of domain event and its wire name (`key.created`), once.
//! - [`gcra`]: the arithmetic of the generic cell rate algorithm (rate limiting).
//! - [`net`]: IP allow-lists.
//! - [`password`]: argon2id hashing and verification of dashboard passwords.
//! - [`webhook`]: webhook secrets, Standard Webhooks signatures and the retry schedule.
//!
//! Nothing here touches the network, a database, a clock or async runtimes: callers pass
//! `now` in, which keeps every rule testable.

pub mod event;
pub mod gcra;
pub mod hash;
pub mod ids;
pub mod key;
pub mod net;
pub mod password;
pub mod plan;
pub mod scope;
pub mod short_key;
pub mod webhook;
