//! The worker's DNS resolver: resolves with the system, then drops every address the SSRF
//! guard blocks (`synaptiq_app::webhooks::address::blocked`). reqwest connects only to what
//! this returns, so the address checked is the address connected to: a name that resolves to
//! a public address at creation and to an internal one later (DNS rebinding) is refused at
//! delivery. IP-literal URLs never reach a resolver; `attempt` checks those itself.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use synaptiq_app::webhooks::address::blocked;

/// Why a host did not resolve to a usable address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The lookup failed (no such name, no answer).
    Dns(String),
    /// Every address it resolved to is blocked.
    Blocked,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dns(e) => write!(f, "DNS lookup failed: {e}"),
            Self::Blocked => f.write_str("the host resolves only to blocked addresses"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// The guarded resolver; `allow_private` turns the guard off (development, tests).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Whether internal addresses are allowed.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    Box::new(ResolveError::Dns(e.to_string()))
                },
            )?;
            let usable: Vec<SocketAddr> = found
                .filter(|a| allow_private || !blocked(a.ip()))
                .collect();
            if usable.is_empty() {
                return Err(Box::new(ResolveError::Blocked).into());
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}
