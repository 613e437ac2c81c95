//! The use cases of Synaptiq, without HTTP: issuing, rotating, revoking, updating, deleting,
//! expiring and flagging keys, and changing leads. The API routes, the dashboard and the CLI
//! all call these, so a rule lives here once.
//!
//! # Layout
//! - [`Services`]: the store and the process's authentication cache, which every key change
//!   invalidates through one hook ([`AuthCache`]) instead of at each call site.
//! - [`keys`]: key use cases; the only place a plain key exists (between generation and the
//!   response that shows it once).
//! - [`leads`]: lead use cases.
//! - [`audit`]: the audit log with its keys and actors named.
//! - [`sessions`]: dashboard sign-in and sign-out.
//! - [`webhooks`]: webhook endpoints, their URL and address rules, the event catalogue.
//!
//! Every change is recorded by the store together with its event, in one transaction
//! (`synaptiq_store::NewEvent`); the [`Actor`] passed here is who the event names.

use std::sync::Arc;

use synaptiq_store::Store;

pub mod audit;
pub mod keys;
pub mod leads;
pub mod peppers;
pub mod sessions;
pub mod usage;
pub mod webhooks;

pub use synaptiq_store::Actor;

/// A cache in this process of facts authentication reads (the server's key cache). Told after
/// every change that may alter what a key may do; other processes learn of it through the
/// store's change epoch.
pub trait AuthCache: Send + Sync {
    /// Forgets everything cached.
    fn invalidate(&self);
}

/// For processes that cache nothing (the CLI).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuthCache;

impl AuthCache for NoAuthCache {
    fn invalidate(&self) {}
}

/// What the use cases need: cheap to clone.
#[derive(Clone)]
pub struct Services {
    store: Arc<dyn Store>,
    auth_cache: Arc<dyn AuthCache>,
    /// What webhook URLs may reach.
    webhooks: webhooks::WebhookPolicy,
}

impl Services {
    /// The use cases over `store`, invalidating `auth_cache` after key changes.
    pub fn new(store: Arc<dyn Store>, auth_cache: Arc<dyn AuthCache>) -> Self {
        Self {
            store,
            auth_cache,
            webhooks: webhooks::WebhookPolicy::default(),
        }
    }

    /// These services with the operator's webhook policy (default: https to public
    /// addresses only).
    pub fn with_webhook_policy(self, webhooks: webhooks::WebhookPolicy) -> Self {
        Self { webhooks, ..self }
    }

    /// Called after every change authentication depends on.
    fn auth_changed(&self) {
        self.auth_cache.invalidate();
    }
}
