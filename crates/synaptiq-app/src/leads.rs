//! Lead use cases: what a new lead holds, how a patch applies; each change is stored with its
//! `lead.*` event in one transaction.

use synaptiq_core::ids::{LeadId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_store::{Actor, LeadRecord, StoreError};
use synaptiq_types::leads::{CreateLead, Lead, LeadSource, LeadStatus, UpdateLead};
use synaptiq_types::time::Timestamp;

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
        let record = new_lead(lead, Timestamp::now());
        self.store.create_lead(org, env, &record, actor).await?;
        Ok(record.into_wire())
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
        let change = |lead: &mut LeadRecord| apply_patch(lead, patch, Timestamp::now());
        let updated = self.store.update_lead(org, env, id, &change, actor).await?;
        Ok(updated.map(LeadRecord::into_wire))
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

/// The lead `create_lead` stores for `new` at `now`: status `new` and score 0 unless given,
/// source `api`, every time `now`.
fn new_lead(new: &CreateLead, now: Timestamp) -> LeadRecord {
    LeadRecord {
        id: LeadId::generate(),
        email: new.email.clone(),
        name: new.name.clone(),
        company: new.company.clone(),
        title: new.title.clone(),
        phone: new.phone.clone(),
        status: new.status.unwrap_or(LeadStatus::New),
        score: new.score.unwrap_or(0),
        source: LeadSource::Api,
        tags: new.tags.clone().unwrap_or_default(),
        custom_fields: new.custom_fields.clone().unwrap_or_default(),
        first_seen_at: now,
        last_active_at: now,
        created_at: now,
        updated_at: now,
    }
}

/// Applies `patch` to `lead`: present fields change, `Some(None)` clears an optional text
/// field, and `updated_at` never moves backwards.
fn apply_patch(lead: &mut LeadRecord, patch: &UpdateLead, now: Timestamp) {
    if let Some(e) = &patch.email {
        lead.email.clone_from(e);
    }
    for (field, value) in [
        (&mut lead.name, &patch.name),
        (&mut lead.company, &patch.company),
        (&mut lead.title, &patch.title),
        (&mut lead.phone, &patch.phone),
    ] {
        if let Some(v) = value {
            field.clone_from(v);
        }
    }
    if let Some(t) = &patch.tags {
        lead.tags.clone_from(t);
    }
    if let Some(c) = &patch.custom_fields {
        lead.custom_fields.clone_from(c);
    }
    lead.status = patch.status.unwrap_or(lead.status);
    lead.score = patch.score.unwrap_or(lead.score);
    lead.updated_at = now.max(lead.updated_at);
}
