//! Leads: the store's [`LeadRecord`] and the [`LeadStore`] contract. How a new lead is
//! built and how a patch applies are the application layer's rules (`synaptiq-app`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use synaptiq_core::ids::{LeadId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_types::leads::{Lead, LeadListQuery, LeadSource, LeadStatus};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::error::Result;
use crate::events::Actor;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_lead_store;

/// Leads. Emails are unique per (organization, environment), compared case-insensitively.
/// Every change records its `lead.*` event, by `actor`, in its own transaction.
#[async_trait]
pub trait LeadStore {
    /// Stores a new lead (`lead.created`); `Conflict { param: "email", existing_id }` on a
    /// duplicate email.
    async fn create_lead(
        &self,
        org: &OrgId,
        env: Environment,
        lead: &LeadRecord,
        actor: &Actor,
    ) -> Result<()>;
    /// One lead.
    async fn get_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
    ) -> Result<Option<LeadRecord>>;
    /// A number that increases with every change to the leads of `org` in `env` (made in the
    /// same transaction as the change, by any process); 0 before the first lead. Anything
    /// derived from the leads after reading version `v` is current for as long as the version
    /// stays `v`.
    async fn lead_version(&self, org: &OrgId, env: Environment) -> Result<i64>;
    /// [`Self::lead_version`] read on the calling thread without waiting for anything (no
    /// thread hand-off, no lock wait, no network), or `None` when this backend or this moment
    /// cannot (the caller then awaits `lead_version`). Same meaning, same freshness: the read
    /// starts after the call does.
    fn lead_version_now(&self, org: &OrgId, env: Environment) -> Option<i64>;
    /// A filtered, sorted page of leads with the total matching.
    async fn list_leads(
        &self,
        org: &OrgId,
        env: Environment,
        query: &LeadListQuery,
        page: PageRequest,
    ) -> Result<(Vec<LeadRecord>, u64)>;
    /// Leads whose name, email or company contains `q` (case-insensitive), best matches first:
    /// exact email, then prefix matches, then substring matches; newest first within a rank.
    async fn search_leads(
        &self,
        org: &OrgId,
        env: Environment,
        q: &str,
        page: PageRequest,
    ) -> Result<(Vec<LeadRecord>, u64)>;
    /// Reads the lead under a lock, applies `change` to it and stores the result, atomically
    /// (`lead.updated`, and `lead.qualified` or `lead.converted` when the status becomes one
    /// of those); `None` when the lead does not exist in that scope. `change` must not touch
    /// the id.
    async fn update_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        change: &LeadChange<'_>,
        actor: &Actor,
    ) -> Result<Option<LeadRecord>>;
    /// Deletes a lead (`lead.deleted`); `false` when it did not exist in that scope.
    async fn delete_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        actor: &Actor,
    ) -> Result<bool>;
}

/// A change to a lead, applied by [`LeadStore::update_lead`] under the lead's lock. (A type
/// alias: `async_trait` would otherwise tie the closure's argument to the call's lifetime.)
pub type LeadChange<'a> = dyn Fn(&mut LeadRecord) + Send + Sync + 'a;

/// A stored lead.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadRecord {
    /// Its id.
    pub id: LeadId,
    /// Unique per organization and environment (case-insensitively).
    pub email: String,
    /// Full name.
    pub name: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Funnel status.
    pub status: LeadStatus,
    /// Qualification score, 0–100.
    pub score: u8,
    /// How the lead was captured.
    pub source: LeadSource,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Free-form string fields.
    pub custom_fields: BTreeMap<String, String>,
    /// First contact.
    pub first_seen_at: Timestamp,
    /// Last activity.
    pub last_active_at: Timestamp,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl LeadRecord {
    /// The wire form (moves every field; nothing is copied).
    pub fn into_wire(self) -> Lead {
        Lead {
            id: self.id.into(),
            email: self.email,
            name: self.name,
            company: self.company,
            title: self.title,
            phone: self.phone,
            status: self.status,
            score: self.score,
            source: self.source,
            tags: self.tags,
            custom_fields: self.custom_fields,
            first_seen_at: self.first_seen_at,
            last_active_at: self.last_active_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
