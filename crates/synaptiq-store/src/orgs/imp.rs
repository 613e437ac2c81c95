//! Organizations, for both backends (see the module docs of `crate::store`).

/// `OrgStore` for `$store`.
macro_rules! impl_org_store {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL here is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::OrgId;
            use synaptiq_core::plan::Plan;
            use synaptiq_types::time::Timestamp;

            use $crate::error::Result;
            use $crate::orgs::sql::{INSERT_ORG, ORG_COLUMNS, SET_PLAN, org_from_row};
            use $crate::orgs::{OrgRecord, OrgStore};

            #[async_trait]
            impl OrgStore for $store {
                async fn create_org(&self, name: &str, plan: Plan) -> Result<OrgRecord> {
                    let rec = OrgRecord {
                        id: OrgId::generate(),
                        name: name.to_owned(),
                        plan,
                        created_at: Timestamp::now(),
                    };
                    sqlx::query(INSERT_ORG)
                        .bind(rec.id.as_str())
                        .bind(&rec.name)
                        .bind(plan.as_str())
                        .bind(rec.created_at.millis())
                        .execute(self.writer())
                        .await?;
                    Ok(rec)
                }

                async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>> {
                    let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(id.as_str())
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(org_from_row)
                        .transpose()
                }

                async fn list_orgs(&self) -> Result<Vec<OrgRecord>> {
                    let sql =
                        format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY created_at, id");
                    sqlx::query(AssertSqlSafe(sql))
                        .fetch_all(self.pool())
                        .await?
                        .iter()
                        .map(org_from_row)
                        .collect()
                }

                async fn set_plan(&self, id: &OrgId, plan: Plan) -> Result<bool> {
                    let mut tx = self.writer().begin().await?;
                    let done = sqlx::query(SET_PLAN)
                        .bind(plan.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        == 1;
                    Self::bump_epoch(&mut tx).await?;
                    tx.commit().await?;
                    Ok(done)
                }
            }
        };
    };
}
pub(crate) use impl_org_store;
