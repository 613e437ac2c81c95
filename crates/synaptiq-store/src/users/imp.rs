//! Dashboard users and sessions, for both backends (see the module docs of `crate::store`).

/// `UserStore` and `SessionStore` for `$store`.
macro_rules! impl_user_store {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL here is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::{OrgId, UserId};
            use synaptiq_types::time::Timestamp;

            use $crate::db::conflict_or;
            use $crate::error::Result;
            use $crate::users::sql::{
                DELETE_EXPIRED_SESSIONS, DELETE_SESSION, INSERT_SESSION, INSERT_USER,
                find_session_sql, list_users_sql, session_from_row, user_by_email_sql,
                user_from_row,
            };
            use $crate::users::{
                NewSession, Role, SessionHash, SessionRecord, SessionStore, UserRecord, UserStore,
            };

            #[async_trait]
            impl SessionStore for $store {
                async fn create_session(&self, s: NewSession) -> Result<()> {
                    sqlx::query(INSERT_SESSION)
                        .bind(s.id_hash.0.as_slice())
                        .bind(s.user_id.as_str())
                        .bind(s.created_at.millis())
                        .bind(s.expires_at.millis())
                        .bind(s.ip)
                        .bind(s.user_agent)
                        .execute(self.writer())
                        .await
                        .map_err(|e| conflict_or(e, "session"))?;
                    Ok(())
                }

                async fn find_session(
                    &self,
                    id_hash: &SessionHash,
                    now: Timestamp,
                ) -> Result<Option<SessionRecord>> {
                    sqlx::query(AssertSqlSafe(find_session_sql()))
                        .bind(id_hash.0.as_slice())
                        .bind(now.millis())
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(session_from_row)
                        .transpose()
                }

                async fn delete_session(&self, id_hash: &SessionHash) -> Result<bool> {
                    let done = sqlx::query(DELETE_SESSION)
                        .bind(id_hash.0.as_slice())
                        .execute(self.writer())
                        .await?
                        .rows_affected();
                    Ok(done > 0)
                }

                async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
                    Ok(sqlx::query(DELETE_EXPIRED_SESSIONS)
                        .bind(now.millis())
                        .execute(self.writer())
                        .await?
                        .rows_affected())
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
pub(crate) use impl_user_store;
