//! The audit log as people read it: who acted (a dashboard user by email, an API key by name
//! and hint, the operator CLI) on which key.

use std::collections::HashMap;

use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment;
use synaptiq_store::{AuditFilter, KeyRecord, StoreError};
use synaptiq_types::audit::AuditEvent;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::Services;

/// One event, its key and actor named.
pub struct AuditEntry {
    /// The event as stored.
    pub event: AuditEvent,
    /// The key acted on, `name (hint)` (its id if it is gone); empty when none.
    pub key: String,
    /// Who acted: an email, `API key name (hint)`, `Operator CLI`, or the stored actor.
    pub actor: String,
}

/// A page of the audit log and the keys it may be filtered by.
pub struct AuditView {
    /// The page, newest first.
    pub entries: Vec<AuditEntry>,
    /// Events matching the filter.
    pub total: u64,
    /// Every key of the organization in that environment, newest first.
    pub keys: Vec<KeyRecord>,
}

/// How a key is named to people: `name (hint)`.
pub fn key_label(k: &KeyRecord) -> String {
    format!("{} ({})", k.name, k.hint)
}

impl Services {
    /// A page of the audit log of `org` in `env`, keys and actors named.
    pub async fn audit_view(
        &self,
        org: &OrgId,
        env: Environment,
        filter: &AuditFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<AuditView, StoreError> {
        let (events, total) = self.store.list_audit(org, env, filter, page).await?;
        let keys = self.all_keys(org, env, now).await?;
        let key_names: HashMap<String, String> = keys
            .iter()
            .map(|k| (k.id.to_string(), key_label(k)))
            .collect();
        let users: HashMap<String, String> = self
            .store
            .list_users(org)
            .await?
            .into_iter()
            .map(|u| (u.id.to_string(), u.email))
            .collect();
        let actor = |a: &str| -> String {
            if let Some(email) = users.get(a) {
                email.clone()
            } else if let Some(k) = key_names.get(a) {
                format!("API key {k}")
            } else if a == "cli" {
                "Operator CLI".to_owned()
            } else {
                a.to_owned()
            }
        };
        let entries = events
            .into_iter()
            .map(|event| AuditEntry {
                key: event
                    .key_id
                    .as_deref()
                    .map(|id| key_names.get(id).cloned().unwrap_or_else(|| id.to_owned()))
                    .unwrap_or_default(),
                actor: actor(&event.actor),
                event: event.into_wire(),
            })
            .collect();
        Ok(AuditView {
            entries,
            total,
            keys,
        })
    }
}
