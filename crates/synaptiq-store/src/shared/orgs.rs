//! Organizations and dashboard users, for both backends (see the module docs of `shared`).

/// `OrgStore` and `UserStore` for `$store`, whose sqlx database is `$db`.
macro_rules! impl_org_user_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL here is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::{OrgId, UserId};
            use synaptiq_core::plan::Plan;
            use synaptiq_types::time::Timestamp;

            use $crate::model::{OrgRecord, Role, UserRecord};
            use $crate::rows::{org_from_row, user_from_row};
            use $crate::sql::{
                INSERT_ORG, INSERT_USER, ORG_COLUMNS, SET_PLAN, conflict_or, list_users_sql,
                user_by_email_sql,
            };
            use $crate::traits::{OrgStore, Result, UserStore};

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

            #[async_trait]
            impl UserStore for $store {
                async fn create_user(
                    &self,
                    org: &OrgId,
                    email: &str,
                    role: Role,
                    password_hash: &str,
                ) -> Result<UserRecord> {
                    let rec = UserRecord {
                        id: UserId::generate(),
                        org_id: org.clone(),
                        email: email.to_lowercase(),
                        role,
                        password_hash: password_hash.to_owned(),
                        created_at: Timestamp::now(),
                    };
                    sqlx::query(INSERT_USER)
                        .bind(rec.id.as_str())
                        .bind(org.as_str())
                        .bind(&rec.email)
                        .bind(role.as_str())
                        .bind(password_hash)
                        .bind(rec.created_at.millis())
                        .execute(self.writer())
                        .await
                        .map_err(|e| conflict_or(e, "email"))?;
                    Ok(rec)
                }

                async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
                    sqlx::query(AssertSqlSafe(user_by_email_sql()))
                        .bind(email.trim().to_lowercase())
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(user_from_row)
                        .transpose()
                }

                async fn list_users(&self, org: &OrgId) -> Result<Vec<UserRecord>> {
                    sqlx::query(AssertSqlSafe(list_users_sql()))
                        .bind(org.as_str())
                        .fetch_all(self.pool())
                        .await?
                        .iter()
                        .map(user_from_row)
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_org_user_store;
