//! The request context made explicit: the request id, the caller and the client address.
//!
//! Within a request these live in task-locals (cheap, and every error body finds its request
//! id), but task-locals do not cross `tokio::spawn`: work a request starts in a task of its
//! own — a streamed answer's producer, a turn that must finish after the client left — takes
//! a [`RequestContext`] along and runs in it ([`RequestContext::spawn`]), so its errors, logs
//! and events name the same request, caller and address.

use std::future::Future;
use std::net::SocketAddr;

use tracing::Instrument;

use crate::guard::{Caller, ClientAddr};
use crate::request_id::{self, RequestCtx};

/// What a request's work needs to know of the request.
#[derive(Clone, Default)]
pub struct RequestContext {
    ids: Option<RequestCtx>,
    client: Option<ClientAddr>,
    caller: Option<Caller>,
}

impl RequestContext {
    /// The context of the request being served (empty parts outside one).
    pub fn current() -> Self {
        Self {
            ids: request_id::captured(),
            client: ClientAddr::current(),
            caller: Caller::current(),
        }
    }

    /// The request id, if there is a request.
    pub fn request_id(&self) -> Option<&str> {
        self.ids.as_ref().map(RequestCtx::id)
    }

    /// The verified caller, if the route takes a key.
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The client's address, if known.
    pub fn client(&self) -> Option<SocketAddr> {
        self.client.map(|c| c.0)
    }

    /// Runs `work` inside this context: [`request_id::current`], [`Caller`] and
    /// [`ClientAddr::current_ip`] answer as in the request itself, and log lines carry the
    /// request id (a `request` span).
    pub fn scope<F>(self, work: F) -> impl Future<Output = F::Output> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let span = match self.request_id() {
            Some(id) => tracing::info_span!("request", request_id = %id),
            None => tracing::Span::none(),
        };
        async move {
            let work = async move {
                match self.caller {
                    Some(caller) => caller.scope(work).await,
                    None => work.await,
                }
            };
            let work = async move {
                match self.client {
                    Some(client) => client.scope(work).await,
                    None => work.await,
                }
            };
            match self.ids {
                Some(ids) => request_id::within(ids, work).await,
                None => work.await,
            }
        }
        .instrument(span)
    }

    /// Spawns `work` as a task of its own, inside this context ([`Self::scope`]).
    pub fn spawn<F>(self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(self.scope(work))
    }
}
