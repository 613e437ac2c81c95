//! Webhook signatures (Standard Webhooks 1.0) and the delivery retry schedule.
//!
//! A delivery carries `webhook-id` (the event id, the same on every attempt),
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,` + base64 of
//! HMAC-SHA256(secret, `id.timestamp.body`); during a secret rotation one such entry per
//! secret, space-separated, so a receiver holding either verifies. Secrets are `whsec_` +
//! base64 of 24–64 random bytes. Receivers reject timestamps more than [`TOLERANCE_SECS`] away
//! from their clock, which bounds replays.
//!
//! Written here rather than taken from the `standardwebhooks` crate: that crate signs one
//! secret at a time from a UTF-8 body and reads its clock itself, where the sender needs
//! several secrets, any bytes, and `now` passed in (the rules here take no clock). The crate
//! verifies our signatures, and we verify its, in `tests/webhook_interop.rs`.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from the verifier's clock, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The signature scheme's version tag.
const VERSION: &str = "v1";
/// Random bytes in a generated secret; the range a supplied one may have.
const GENERATED_LEN: usize = 32;
const MIN_LEN: usize = 24;
const MAX_LEN: usize = 64;

/// A webhook signing secret. `Debug` is redacted; [`WebhookSecret::encoded`] is the only way
/// to its text, for the one answer that shows it and for storage. No `PartialEq`: a secret is
/// only ever compared through a signature, in constant time ([`verify`]).
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

/// Why a supplied secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// It does not start with `whsec_`.
    #[error("a webhook secret starts with `whsec_`")]
    Prefix,
    /// What follows the prefix is not standard base64.
    #[error("a webhook secret is `whsec_` followed by standard base64")]
    Base64,
    /// It decodes to fewer than 24 or more than 64 bytes.
    #[error("a webhook secret holds 24 to 64 bytes (this one holds {0})")]
    Length(usize),
}

impl WebhookSecret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; GENERATED_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A secret given as `whsec_` + base64 of 24–64 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let bytes = B64.decode(b64).map_err(|_| SecretError::Base64)?;
        if !(MIN_LEN..=MAX_LEN).contains(&bytes.len()) {
            return Err(SecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The secret as text, `whsec_…`.
    pub fn encoded(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    /// `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("{VERSION},{}", B64.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        #[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

/// The `webhook-signature` header: one signature per secret (the current one first; during a
/// rotation the old one too), space-separated.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect();
    signatures.join(" ")
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `webhook-timestamp` is not an integer.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    Timestamp,
    /// The timestamp is more than [`TOLERANCE_SECS`] from now.
    #[error("webhook-timestamp is more than 5 minutes from now")]
    Stale,
    /// No `v1` signature matches any of the secrets.
    #[error("no signature matches")]
    Signature,
}

/// Verifies a delivery's headers and body against `secrets` at `now` (Unix seconds): passes
/// when any `v1` entry of `signature` matches any secret (compared in constant time).
pub fn verify(
    secrets: &[&WebhookSecret],
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Timestamp)?;
    // `abs_diff`: a hostile timestamp such as i64::MIN must not overflow past this check.
    if now.abs_diff(ts) > TOLERANCE_SECS.unsigned_abs() {
        return Err(VerifyError::Stale);
    }
    let given: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, b64)| B64.decode(b64).ok())
        .collect();
    let matches = secrets.iter().any(|secret| {
        let expected = secret.mac(id, ts, body);
        given
            .iter()
            .any(|g| bool::from(g.as_slice().ct_eq(&expected)))
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Signature)
    }
}

/// When each attempt is made, counted from the event: the first at once, then after these
/// delays between attempts (10 attempts over about 3 days).
pub const SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];
/// The least delay after a `429` or a timeout: the receiver is overloaded.
pub const OVERLOAD_FLOOR: Duration = Duration::from_secs(60);
/// The jitter applied to every delay, ± this fraction.
pub const JITTER: f64 = 0.2;

/// How an attempt failed, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The receiver answered `429` (with its `Retry-After` in seconds, if any).
    TooManyRequests(Option<u64>),
    /// The receiver answered another non-2xx status (with its `Retry-After`, if any).
    Status(Option<u64>),
    /// No answer within the timeout.
    Timeout,
    /// Anything else: DNS, connection, TLS.
    Network,
}

/// The delay before the next attempt after attempt number `attempts` (1 = the first) failed
/// with `failure`, or `None` when that was the last. `jitter` is a uniform draw in [-1, 1]
/// (see [`jitter_draw`]). The scheduled delay, ± 20 %; at least [`OVERLOAD_FLOOR`] after a
/// `429` or a timeout; a `Retry-After` is honoured within [delay, 2 × delay].
pub fn next_delay(attempts: usize, failure: Failure, jitter: f64) -> Option<Duration> {
    let base = *SCHEDULE.get(attempts)?;
    let mut delay = base.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0));
    if matches!(failure, Failure::TooManyRequests(_) | Failure::Timeout) {
        delay = delay.max(OVERLOAD_FLOOR);
    }
    if let Failure::TooManyRequests(Some(secs)) | Failure::Status(Some(secs)) = failure {
        delay = Duration::from_secs(secs).clamp(delay, delay * 2);
    }
    Some(delay)
}

/// A uniform draw in [-1, 1] for [`next_delay`], from the operating system's generator.
pub fn jitter_draw() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX) * 2.0 - 1.0
}

#[cfg(test)]
mod tests;
