//! Authentication: Bearer parsing, key verification and its cache.
//!
//! Verification is the hot path: parse and checksum (no allocation), HMAC under the pepper,
//! then an in-memory map from hash to the key's record. The map is emptied whenever the
//! database's change epoch moves (a key revoked or a plan changed by any process), checked
//! every `cache_poll_interval`; changes made through this server also clear it at once.
//! Unknown hashes are remembered for one second so that floods of well-formed unknown keys do
//! not each cost a query, yet a key created by the CLI works within a second.
//!
//! The map is bounded (our own sharded table with second-chance eviction, see [`KeyCache`]):
//! with a million keys in use, memory stays flat and the keys in use stay cached; the others
//! cost one indexed lookup.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use synaptiq_store::AuthRecord;
use synaptiq_types::ErrorCode;
use synaptiq_types::error::UNAUTHORIZED_MESSAGE;

use crate::error::ApiError;

mod cache;
pub use cache::{Cached, Generation, KeyCache};

/// How long an unknown hash is remembered.
const NEGATIVE_TTL: Duration = Duration::from_secs(1);
/// How long a found key is trusted without re-reading it (besides epoch invalidation).
const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// At most this many keys (and remembered unknown hashes) are cached; ~1.5 KB each.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// Header present but not one well-formed Bearer key, or an unknown key.
    Invalid,
    /// The key expired (or its rotation grace ended).
    Expired,
    /// The key was revoked.
    Revoked,
}

impl AuthFailure {
    /// The 401 response, with the RFC 6750 challenge.
    pub fn to_error(self) -> ApiError {
        let message = match self {
            AuthFailure::Missing | AuthFailure::Invalid => UNAUTHORIZED_MESSAGE,
            AuthFailure::Expired => {
                "This API key has expired. Use its replacement or create a new key in the dashboard."
            }
            AuthFailure::Revoked => {
                "This API key has been revoked. Use its replacement or create a new key in the dashboard."
            }
        };
        let challenge = match self {
            AuthFailure::Missing => r#"Bearer realm="synaptiq""#,
            _ => r#"Bearer realm="synaptiq", error="invalid_token""#,
        };
        ApiError::new(ErrorCode::Unauthorized, message).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )
    }
}

/// Extracts the token of the one `Authorization: Bearer <token>` header.
///
/// The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces separate it from the
/// token; the token is the rest of the value and must not contain spaces. Two headers, another
/// scheme, or a non-ASCII value are refused.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthFailure::Missing);
    };
    if values.next().is_some() {
        return Err(AuthFailure::Invalid);
    }
    // Bytes, not `to_str` + `split_once` + `contains`: this runs on every request.
    let bytes = value.as_bytes();
    let space = bytes
        .iter()
        .position(|&b| b == b' ')
        .ok_or(AuthFailure::Invalid)?;
    if !bytes[..space].eq_ignore_ascii_case(b"bearer") {
        return Err(AuthFailure::Invalid);
    }
    let rest = &bytes[space..];
    let token = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    // A token is visible ASCII: no spaces, tabs, controls or non-ASCII bytes.
    if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(AuthFailure::Invalid);
    }
    std::str::from_utf8(token).map_err(|_| AuthFailure::Invalid)
}

/// What every request reads of its key, copied out of the store's record when the key is
/// loaded so that it sits beside the slots in the first cache lines of the entry (the store's
/// records keep their natural layout; a `repr(C)` record ordered for this cache was a
/// performance detail leaking into the store).
#[derive(Debug, Clone)]
pub struct HotKey {
    /// The key's id (the rate limiter's owner name).
    pub id: synaptiq_core::ids::KeyId,
    /// Expiry or end of rotation grace.
    pub expires_at: Option<synaptiq_types::time::Timestamp>,
    /// Its scope.
    pub scope: synaptiq_core::scope::Scope,
    revoked: bool,
    rotated: bool,
}

impl HotKey {
    fn of(key: &synaptiq_store::KeyRecord) -> Self {
        Self {
            id: key.id.clone(),
            expires_at: key.expires_at,
            scope: key.scope,
            revoked: key.revoked_at.is_some(),
            rotated: key.rotated_to.is_some(),
        }
    }

    /// The key's status at `now` (as [`synaptiq_store::KeyRecord::status`]).
    pub fn status(&self, now: synaptiq_types::time::Timestamp) -> synaptiq_core::scope::KeyStatus {
        synaptiq_core::scope::KeyStatus::derive(
            self.revoked,
            self.expires_at.map(synaptiq_types::time::Timestamp::millis),
            self.rotated,
            now.millis(),
        )
    }
}

/// A verified key as the cache holds it: the stored record plus what every request of the key
/// needs, worked out once when the key is loaded rather than per request.
///
/// Laid out for the request path (`repr(C)`, cache-line aligned): behind the `Arc`'s counts
/// come the slots, the limits, the hot copy of the key, the `/me` slot and the allow-list —
/// the first three cache lines — then the record, which the request path does not read.
#[repr(C, align(64))]
pub struct Verified {
    /// Its local rate-limit buckets (shared with the limiter's map of owners).
    pub(crate) buckets: crate::ratelimit::Slot,
    /// Its pending usage (shared with the usage recorder).
    pub(crate) usage: synaptiq_app::usage::Slot,
    /// Its limits under the server's rate policy: (per minute, per day).
    pub limits: (u32, Option<u32>),
    /// What every request reads of the key.
    pub hot: HotKey,
    /// Whatever `GET /api/v1/me` keeps per key (its route owns the contents).
    pub(crate) me: crate::routes::me::MeSlot,
    /// The key's allow-list, parsed (empty = anywhere).
    pub allowed_ips: Vec<ipnet::IpNet>,
    /// The key and its organization.
    pub record: AuthRecord,
}

impl Verified {
    /// Prepares `record` for the hot path of `app`: its limits under the server's rate policy,
    /// and the key's rate-limit and usage state, held here so that a request reaches them
    /// without a lookup by key id (they outlive this record in `app`'s maps).
    pub fn new(record: AuthRecord, app: &crate::app::App) -> Self {
        let limits = crate::guard::key_limits(&app.config.rate_policy, &record);
        let buckets = app.limiter.key_slot(record.key.id.as_str());
        let usage = app.usage.slot(record.key.id.as_str());
        let allowed_ips = record
            .key
            .allowed_ips
            .iter()
            .filter_map(|c| synaptiq_core::net::parse_cidr(c))
            .collect();
        Self {
            hot: HotKey::of(&record.key),
            record,
            allowed_ips,
            limits,
            me: crate::routes::me::MeSlot::default(),
            buckets,
            usage,
        }
    }

    /// Starts loading the memory that a request of this key reads after the cache lookup:
    /// the hot copy of the key, the rate-limit and usage slots, and what the `/me` slot
    /// holds. With many keys in use these are cache misses. Read here, by plain loads with
    /// nothing in between, the CPU waits for them together; read where they are used, each
    /// waits behind the locks and reference counts of the path before it (an atomic
    /// read-modify-write lets no later load pass it), so the misses add up. Paired runs with
    /// 10,000 random keys: 1–3% less CPU per request.
    #[inline]
    pub(crate) fn touch(&self) {
        use std::hint::black_box;
        black_box(Arc::strong_count(&self.buckets));
        black_box(Arc::strong_count(&self.usage));
        black_box((
            self.allowed_ips.len(),
            self.hot.id.as_str().len(),
            self.hot.scope,
        ));
        self.me.touch();
    }
}

impl std::ops::Deref for Verified {
    type Target = AuthRecord;

    fn deref(&self) -> &AuthRecord {
        &self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).expect("ascii"),
            );
        }
        h
    }

    /// What a request reads of a cached key lies in the first three cache lines of its `Arc`
    /// allocation (two counts, then `Verified`): see `Verified`'s layout.
    #[test]
    fn the_hot_fields_of_a_cached_key_share_three_cache_lines() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Verified>(), 64);
        let counts = 2 * size_of::<usize>();
        let ends = [
            offset_of!(Verified, buckets) + size_of::<crate::ratelimit::Slot>(),
            offset_of!(Verified, usage) + size_of::<synaptiq_app::usage::Slot>(),
            offset_of!(Verified, limits) + size_of::<(u32, Option<u32>)>(),
            offset_of!(Verified, hot) + size_of::<HotKey>(),
            offset_of!(Verified, me) + size_of::<crate::routes::me::MeSlot>(),
            offset_of!(Verified, allowed_ips) + size_of::<Vec<ipnet::IpNet>>(),
        ];
        let last = ends.iter().max().copied().unwrap_or_default() + counts;
        assert!(
            last <= 3 * 64,
            "hot fields end at byte {last} of the allocation"
        );
        assert_eq!(
            offset_of!(Verified, record),
            ends.iter()
                .max()
                .copied()
                .unwrap_or_default()
                .next_multiple_of(8),
            "the record comes last"
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&headers(&[])), Err(AuthFailure::Missing));
        assert_eq!(bearer_token(&headers(&["Bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["bearer abc"])), Ok("abc"));
        assert_eq!(bearer_token(&headers(&["BEARER   abc"])), Ok("abc"));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer a b",
            "Bearerabc",
            "Token abc",
            "Bearer a\tb",
            "Bearer abc\t",
            "Bearer \tabc",
            "Bearer abé",
            "\tBearer abc",
        ] {
            assert_eq!(
                bearer_token(&headers(&[bad])),
                Err(AuthFailure::Invalid),
                "{bad:?}"
            );
        }
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer a"])),
            Err(AuthFailure::Invalid)
        );
    }
}
