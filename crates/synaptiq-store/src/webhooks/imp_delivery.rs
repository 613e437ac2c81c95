//! The worker's side of the webhook store — claims, outcomes, endpoint health and pruning —
//! for both backends (see the module docs of `crate::store`).

/// `DeliveryStore` for `$store`, whose sqlx database is `$db`.
macro_rules! impl_delivery_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL below is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::event::EventKind;
            use synaptiq_core::ids::WebhookEndpointId;
            use synaptiq_types::time::Timestamp;

            use $crate::db::json;
            use $crate::error::{Result, StoreError};
            use $crate::events::{Actor, NewEvent, Subject};
            use $crate::webhooks::sql::{
                CLAIM_CANDIDATES, ENDPOINT_COLUMNS, FAIL_PENDING, claimed_from_row,
                endpoint_from_row, skip_list,
            };
            use $crate::webhooks::{
                AttemptOutcome, ClaimedDelivery, DISABLE_AFTER_MS, DeliveryStore, EndpointRecord,
                Next,
            };

            /// `($first, $first+1, …), (…)`: `rows` tuples of `width` placeholders.
            fn values_list(first: usize, width: usize, rows: usize) -> String {
                let tuple = |r: usize| {
                    let cols: Vec<String> =
                        (0..width).map(|c| format!("${}", first + r * width + c)).collect();
                    format!("({})", cols.join(", "))
                };
                (0..rows).map(tuple).collect::<Vec<_>>().join(", ")
            }

            impl $store {
                /// Stores successful attempts inside `tx`: their deliveries in one statement,
                /// then the health of their endpoints (a success ends a run of failures).
                async fn finish_delivered(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    delivered: &[&AttemptOutcome],
                ) -> Result<()> {
                    if delivered.is_empty() {
                        return Ok(());
                    }
                    // VALUES columns are column1… on both backends.
                    let sql = format!(
                        "UPDATE webhook_deliveries SET status = 'delivered', \
                         attempts = v.column3, next_attempt_at = NULL, claimed_until = NULL, \
                         last_attempt_at = v.column4, last_status = v.column5, \
                         last_error = NULL, last_latency_ms = v.column6, \
                         last_response = v.column7 \
                         FROM (VALUES {}) AS v \
                         WHERE webhook_deliveries.endpoint_id = v.column1 \
                         AND webhook_deliveries.event_id = v.column2",
                        values_list(1, 7, delivered.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for o in delivered {
                        q = q
                            .bind(o.endpoint_id.as_str())
                            .bind(&o.event_id)
                            .bind(o.attempts)
                            .bind(o.at.millis())
                            .bind(o.http_status.map(i64::from))
                            .bind(o.latency_ms)
                            .bind(&o.response);
                    }
                    q.execute(&mut *tx).await?;
                    let mut ids: Vec<&str> = delivered.iter().map(|o| o.endpoint_id.as_str()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let sql = format!(
                        "UPDATE webhook_endpoints SET consecutive_failures = 0, \
                         failing_since = NULL WHERE consecutive_failures <> 0 AND id IN ({})",
                        (1..=ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for id in ids {
                        q = q.bind(id);
                    }
                    q.execute(&mut *tx).await?;
                    Ok(())
                }

                /// Applies one attempt's outcome inside `tx`; the endpoint, if this attempt
                /// disables it.
                async fn finish_one(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    o: &AttemptOutcome,
                ) -> Result<Option<EndpointRecord>> {
                    let (status, next_at) = match o.next {
                        Next::Delivered => ("delivered", None),
                        Next::RetryAt(t) => ("pending", Some(t.millis())),
                        Next::GiveUp | Next::Gone => ("failed", None),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = $1, attempts = $2, \
                         next_attempt_at = $3, claimed_until = NULL, last_attempt_at = $4, \
                         last_status = $5, last_error = $6, last_latency_ms = $7, \
                         last_response = $8 WHERE endpoint_id = $9 AND event_id = $10",
                    )
                    .bind(status)
                    .bind(o.attempts)
                    .bind(next_at)
                    .bind(o.at.millis())
                    .bind(o.http_status.map(i64::from))
                    .bind(&o.error)
                    .bind(o.latency_ms)
                    .bind(&o.response)
                    .bind(o.endpoint_id.as_str())
                    .bind(&o.event_id)
                    .execute(&mut *tx)
                    .await?;
                    if o.next == Next::Delivered {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET consecutive_failures = 0, \
                             failing_since = NULL WHERE id = $1 AND consecutive_failures <> 0",
                        )
                        .bind(o.endpoint_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                        return Ok(None);
                    }
                    let sql = format!(
                        "UPDATE webhook_endpoints SET consecutive_failures = \
                         consecutive_failures + 1, failing_since = COALESCE(failing_since, $2) \
                         WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
                    );
                    let Some(row) = sqlx::query(AssertSqlSafe(sql))
                        .bind(o.endpoint_id.as_str())
                        .bind(o.at.millis())
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        return Ok(None); // deleted meanwhile
                    };
                    let mut e = endpoint_from_row(&row)?;
                    if !e.enabled {
                        // Disabled while this attempt was in flight (by hand, or by an earlier
                        // outcome of this batch): no retry is due, as for its other deliveries.
                        sqlx::query(FAIL_PENDING)
                            .bind(e.id.as_str())
                            .execute(&mut *tx)
                            .await?;
                        return Ok(None);
                    }
                    let failing_long = e
                        .failing_since
                        .is_some_and(|t| o.at.millis() - t.millis() >= DISABLE_AFTER_MS);
                    let reason = match o.next {
                        Next::Gone => "gone",
                        _ if failing_long => "failing",
                        _ => return Ok(None),
                    };
                    e.enabled = false;
                    e.disabled_reason = Some(reason.to_owned());
                    e.disabled_at = Some(o.at);
                    e.updated_at = o.at;
                    sqlx::query(
                        "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, \
                         disabled_at = $3, updated_at = $3 WHERE id = $1",
                    )
                    .bind(e.id.as_str())
                    .bind(reason)
                    .bind(o.at.millis())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(FAIL_PENDING)
                        .bind(e.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    let event = NewEvent::new(
                        &e.org_id,
                        e.environment,
                        EventKind::WebhookEndpointDisabled,
                        Subject::Endpoint(e.id.clone()),
                        &Actor::system(None),
                    )
                    .with_data(json(&e.to_wire(o.at))?);
                    Self::record_events_in(&mut *tx, &[event]).await?;
                    Ok(Some(e))
                }
            }

            #[async_trait]
            impl DeliveryStore for $store {
                async fn claim_deliveries(
                    &self,
                    now: Timestamp,
                    lease_until: Timestamp,
                    limit: u32,
                    skip: &[WebhookEndpointId],
                ) -> Result<Vec<ClaimedDelivery>> {
                    let mut tx = self.begin_write().await?;
                    let sql = format!("{CLAIM_CANDIDATES}{}", Self::CLAIM_LOCK);
                    let claimed = async {
                        let rows = sqlx::query(AssertSqlSafe(sql))
                            .bind(now.millis())
                            .bind(skip_list(skip))
                            .bind(i64::from(limit))
                            .fetch_all(&mut *tx)
                            .await?;
                        let claimed = rows
                            .iter()
                            .map(|r| claimed_from_row(r, now))
                            .collect::<Result<Vec<_>>>()?;
                        if !claimed.is_empty() {
                            // One statement for the whole claim: on SQLite every statement is
                            // a trip to the writer thread while the write lock is held.
                            let sql = format!(
                                "UPDATE webhook_deliveries SET claimed_until = $1 \
                                 WHERE (endpoint_id, event_id) IN (VALUES {})",
                                values_list(2, 2, claimed.len())
                            );
                            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(lease_until.millis());
                            for c in &claimed {
                                q = q.bind(c.endpoint_id.as_str()).bind(&c.event_id);
                            }
                            q.execute(&mut *tx).await?;
                        }
                        Ok::<_, StoreError>(claimed)
                    }
                    .await;
                    match claimed {
                        Ok(c) => {
                            tx.commit().await?;
                            Ok(c)
                        }
                        Err(err) => {
                            let _ = tx.rollback().await;
                            Err(err)
                        }
                    }
                }

                async fn deliveries_due(&self, now: Timestamp) -> Result<bool> {
                    let due: Option<i64> = sqlx::query_scalar(
                        "SELECT CAST(1 AS BIGINT) FROM webhook_deliveries \
                         WHERE next_attempt_at IS NOT NULL \
                         AND next_attempt_at <= $1 \
                         AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1",
                    )
                    .bind(now.millis())
                    .fetch_optional(self.pool())
                    .await?;
                    Ok(due.is_some())
                }

                async fn finish_attempts(
                    &self,
                    outcomes: &[AttemptOutcome],
                ) -> Result<Vec<EndpointRecord>> {
                    if outcomes.is_empty() {
                        return Ok(Vec::new());
                    }
                    // Failures one by one, endpoint rows locked in id order (PostgreSQL), so
                    // two nodes finishing batches never wait on each other in opposite orders;
                    // then every success in two statements (the common case: on SQLite each
                    // statement is a trip to the writer thread while the write lock is held).
                    let (delivered, mut failed): (Vec<&AttemptOutcome>, Vec<&AttemptOutcome>) =
                        outcomes.iter().partition(|o| o.next == Next::Delivered);
                    failed.sort_by(|a, b| a.endpoint_id.as_str().cmp(b.endpoint_id.as_str()));
                    let mut tx = self.writer().begin().await?;
                    let done = async {
                        let mut disabled = Vec::new();
                        for o in failed {
                            if let Some(e) = Self::finish_one(&mut *tx, o).await? {
                                disabled.push(e);
                            }
                        }
                        Self::finish_delivered(&mut *tx, &delivered).await?;
                        Ok::<_, StoreError>(disabled)
                    }
                    .await;
                    match done {
                        Ok(d) => {
                            tx.commit().await?;
                            Ok(d)
                        }
                        Err(err) => {
                            let _ = tx.rollback().await;
                            Err(err)
                        }
                    }
                }

                async fn prune_webhook_messages(&self, before: Timestamp) -> Result<u64> {
                    let mut tx = self.writer().begin().await?;
                    let cond = "created_at < $1 AND event_id IN (SELECT id FROM \
                        webhook_messages WHERE created_at < $1) AND NOT EXISTS (SELECT 1 FROM \
                        webhook_deliveries p WHERE p.event_id = webhook_deliveries.event_id \
                        AND p.next_attempt_at IS NOT NULL)";
                    sqlx::query(AssertSqlSafe(format!("DELETE FROM webhook_deliveries WHERE {cond}")))
                        .bind(before.millis())
                        .execute(&mut *tx)
                        .await?;
                    let gone = sqlx::query(
                        "DELETE FROM webhook_messages WHERE created_at < $1 AND NOT EXISTS \
                         (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_messages.id)",
                    )
                    .bind(before.millis())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    Ok(gone)
                }
            }
        };
    };
}
pub(crate) use impl_delivery_store;
