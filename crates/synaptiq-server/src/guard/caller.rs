//! Who is calling: the client address the transport saw and the verified caller, each in a
//! task-local for the request's duration (see `context::RequestContext` to carry them into
//! spawned tasks).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use synaptiq_types::time::Timestamp;

use crate::auth::Verified;
use crate::error::ApiError;
use crate::ratelimit::Verdict;

/// The client's address as the transport saw it (after trusted-proxy resolution).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

tokio::task_local! {
    /// The client address of the request being served, set by the transport around the
    /// request's future ([`ClientAddr::scope`]). A task-local rather than a request extension:
    /// the first extension allocates the request's extension map (≈ 470 instructions and an
    /// allocation per request, docs/performance-history.md). With HTTP/2 each stream's future is
    /// scoped on its own.
    static CLIENT: ClientAddr;
}

impl ClientAddr {
    /// Runs `request` (the future answering one request) with this as its client address.
    pub fn scope<F: Future>(self, request: F) -> impl Future<Output = F::Output> {
        CLIENT.scope(self, request)
    }

    /// The client address of the request being served, if any.
    pub fn current() -> Option<ClientAddr> {
        CLIENT.try_with(|c| *c).ok()
    }

    /// The client address of the request being served (`0.0.0.0` outside [`Self::scope`]).
    pub fn current_ip() -> IpAddr {
        CLIENT
            .try_with(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct Caller {
    /// The key and its organization (and what the hot path prepared from them).
    pub auth: Arc<Verified>,
    /// The per-minute rate-limit verdict of this request.
    pub verdict: Verdict,
    /// The client's address.
    pub ip: IpAddr,
    /// The time the guard judged the key at.
    pub now: Timestamp,
}

impl Caller {
    /// The audit actor: the calling key and the client address.
    pub fn actor(&self) -> synaptiq_app::Actor {
        synaptiq_app::Actor {
            id: self.auth.key.id.to_string(),
            ip: Some(self.ip.to_string()),
        }
    }
}

tokio::task_local! {
    /// The caller of the request being handled, set by [`guard`] around the handler. A
    /// task-local rather than a request extension: extensions allocate a map per request.
    static CALLER: Caller;
}

impl Caller {
    /// The caller of the request being handled, if a key was verified.
    pub fn current() -> Option<Caller> {
        CALLER.try_with(Caller::clone).ok()
    }

    /// Runs `inner` with this as its caller.
    pub fn scope<F: Future>(self, inner: F) -> impl Future<Output = F::Output> {
        CALLER.scope(self, inner)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, ApiError> {
        CALLER
            .try_with(Caller::clone)
            .map_err(|_| ApiError::internal("handler needs a caller but its route is public"))
    }
}
