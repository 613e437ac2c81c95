//! Lead use cases: each change is stored with its `lead.*` event in one transaction.

use synaptiq_core::ids::{LeadId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_store::{Actor, StoreError};
use synaptiq_types::leads::{CreateLead, Lead, UpdateLead};

use crate::Services;

impl Services {
    /// Creates a lead (`lead.created`).
    pub async fn create_lead(
        &self,
        org: &OrgId,
        env: Environment,
        lead: &CreateLead,
        actor: &Actor,
    ) -> Result<Lead, StoreError> {
        self.store.create_lead(org, env, lead, actor).await
    }

    /// Applies a partial update (`lead.updated`, and `lead.qualified` / `lead.converted` when
    /// the status becomes one of those); `None` when there is no such lead.
    pub async fn update_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        patch: &UpdateLead,
        actor: &Actor,
    ) -> Result<Option<Lead>, StoreError> {
        self.store.update_lead(org, env, id, patch, actor).await
    }

    /// Deletes a lead (`lead.deleted`); `false` when there was none.
    pub async fn delete_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        self.store.delete_lead(org, env, id, actor).await
    }
}
