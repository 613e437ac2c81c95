//! Organizations: the tenants every other record belongs to.

use async_trait::async_trait;
use synaptiq_core::ids::OrgId;
use synaptiq_core::plan::Plan;
use synaptiq_types::me::Organization;
use synaptiq_types::time::Timestamp;

use crate::error::Result;

mod imp;
pub(crate) mod sql;
pub(crate) use imp::impl_org_store;

/// Organizations.
#[async_trait]
pub trait OrgStore {
    /// Creates an organization.
    async fn create_org(&self, name: &str, plan: Plan) -> Result<OrgRecord>;
    /// One organization, or `None`.
    async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>>;
    /// All organizations, oldest first.
    async fn list_orgs(&self) -> Result<Vec<OrgRecord>>;
    /// Changes the plan; bumps the change epoch. `false` when the organization does not exist.
    async fn set_plan(&self, id: &OrgId, plan: Plan) -> Result<bool>;
}

/// An organization.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgRecord {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Plan, which sets its keys' rate limits.
    pub plan: Plan,
    /// Creation time.
    pub created_at: Timestamp,
}

impl OrgRecord {
    /// The wire form.
    pub fn to_wire(&self) -> Organization {
        Organization {
            id: self.id.to_string(),
            name: self.name.clone(),
            plan: self.plan.as_str().to_owned(),
            created_at: self.created_at,
        }
    }
}
