//! Hourly usage counters, for both backends (see the module docs of `crate::store`).

/// `UsageStore` for `$store`.
macro_rules! impl_usage_store {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL here is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::OrgId;
            use synaptiq_core::scope::Environment;
            use synaptiq_types::time::Timestamp;

            use $crate::error::{Result, StoreError};
            use $crate::usage::sql::{USAGE_COUNTS, usage_from_row};
            use $crate::usage::{UsageCount, UsageStore};

            /// Counters are BIGINT; a count past `i64::MAX` is a bug, not traffic.
            fn signed(n: u64) -> Result<i64> {
                i64::try_from(n).map_err(|_| StoreError::Internal("usage counter overflow".into()))
            }

            #[async_trait]
            impl UsageStore for $store {
                async fn record_usage_counts(&self, batch: &[UsageCount]) -> Result<()> {
                    if batch.is_empty() {
                        return Ok(());
                    }
                    // One order for every writer, so concurrent flushes from several nodes
                    // never lock the same rows in opposite orders (PostgreSQL deadlocks).
                    let mut rows: Vec<&UsageCount> = batch.iter().collect();
                    rows.sort_by(|a, b| (&a.key_id, a.hour).cmp(&(&b.key_id, b.hour)));
                    // One statement per chunk, not per row (see `batch`); the same (key,
                    // hour) twice in one statement would fail on PostgreSQL, so duplicates
                    // are summed first: (the first row, the sums of its four counters), without
                    // copying any row's strings.
                    let mut merged: Vec<(&UsageCount, [u64; 4])> = Vec::with_capacity(rows.len());
                    for c in rows {
                        let n = [c.ok, c.client_error, c.rate_limited, c.server_error];
                        match merged.last_mut() {
                            Some((m, sum)) if m.key_id == c.key_id && m.hour == c.hour => {
                                for (s, n) in sum.iter_mut().zip(n) {
                                    *s += n;
                                }
                            }
                            _ => merged.push((c, n)),
                        }
                    }
                    let mut tx = self.writer().begin().await?;
                    for chunk in $crate::batch::split(&merged, $crate::batch::COUNTS_PER_STATEMENT)
                    {
                        let sql = $crate::batch::upsert_usage_counts_statement(
                            Self::PLACEHOLDERS,
                            chunk.len(),
                        );
                        // Few recurring shapes (`batch::split`): kept prepared.
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for (c, [ok, client_error, rate_limited, server_error]) in chunk {
                            q = q
                                .bind(c.key_id.as_str())
                                .bind(c.org_id.as_str())
                                .bind(c.environment.as_str())
                                .bind(c.hour.millis())
                                .bind(signed(*ok)?)
                                .bind(signed(*client_error)?)
                                .bind(signed(*rate_limited)?)
                                .bind(signed(*server_error)?);
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn usage_counts(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    since: Timestamp,
                ) -> Result<Vec<UsageCount>> {
                    let first_hour = since.millis().div_euclid(3_600_000) * 3_600_000;
                    sqlx::query(USAGE_COUNTS)
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(first_hour)
                        .fetch_all(self.pool())
                        .await?
                        .iter()
                        .map(usage_from_row)
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_usage_store;
