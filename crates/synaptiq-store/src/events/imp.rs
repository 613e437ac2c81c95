//! The audit log, for both backends (see the module docs of `crate::store`).

/// `AuditStore` for `$store`.
macro_rules! impl_audit_store {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL here is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::OrgId;
            use synaptiq_core::scope::Environment;
            use synaptiq_types::pagination::PageRequest;
            use synaptiq_types::time::Timestamp;

            use $crate::db::{count, limit_offset};
            use $crate::error::Result;
            use $crate::events::sql::{AUDIT_COLUMNS, AUDIT_FILTER, audit_from_row};
            use $crate::events::{AuditFilter, AuditStore, EventRecord, NewEvent};

            #[async_trait]
            impl AuditStore for $store {
                async fn record(&self, ev: NewEvent) -> Result<()> {
                    let tx = self.writer().begin().await?;
                    Self::commit_change(tx, std::slice::from_ref(&ev), false).await
                }

                async fn list_audit(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    f: &AuditFilter,
                    page: PageRequest,
                ) -> Result<(Vec<EventRecord>, u64)> {
                    let key_id = f.key_id.as_ref().map(|k| k.as_str().to_owned());
                    let since = f.since.map(Timestamp::millis);
                    let until = f.until.map(Timestamp::millis);
                    let (limit, offset) = limit_offset(page);
                    let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM events WHERE {AUDIT_FILTER}"
                    )))
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .bind(&key_id)
                    .bind(&f.kind)
                    .bind(since)
                    .bind(until)
                    .fetch_one(self.pool())
                    .await?;
                    let rows = sqlx::query(AssertSqlSafe(format!(
                        "SELECT {AUDIT_COLUMNS} FROM events \
                         WHERE {AUDIT_FILTER} ORDER BY created_at DESC, id DESC \
                         LIMIT $7 OFFSET $8"
                    )))
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .bind(&key_id)
                    .bind(&f.kind)
                    .bind(since)
                    .bind(until)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(self.pool())
                    .await?;
                    let events = rows
                        .iter()
                        .map(audit_from_row)
                        .collect::<Result<Vec<_>>>()?;
                    Ok((events, count(total)))
                }
            }
        };
    };
}
pub(crate) use impl_audit_store;
