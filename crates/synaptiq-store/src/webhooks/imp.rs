//! Webhook endpoints and deliveries, for both backends (see the module docs of `crate::store`).

/// `WebhookStore` for `$store`, whose sqlx database is `$db`.
macro_rules! impl_webhook_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL below is assembled only from constants; values are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::event::EventKind;
            use synaptiq_core::ids::{EventId, OrgId, WebhookEndpointId};
            use synaptiq_core::scope::Environment;
            use synaptiq_types::pagination::PageRequest;
            use synaptiq_types::time::Timestamp;
            use synaptiq_types::webhooks::DeliveryStatus;

            use $crate::db::{count, json, limit_offset};
            use $crate::error::{Result, StoreError};
            use $crate::events::{Actor, NewEvent, Subject};
            use $crate::webhooks::sql::{
                CLAIM_CANDIDATES, DELIVERY_COLUMNS, DELIVERY_FILTER, ENDPOINT_COLUMNS,
                FAIL_PENDING, INSERT_ENDPOINT, UPDATE_ENDPOINT, claimed_from_row,
                delivery_from_row, endpoint_from_row, endpoint_sql, skip_list,
            };
            use $crate::webhooks::{
                AttemptOutcome, ClaimedDelivery, DISABLE_AFTER_MS, DeliveryRecord,
                EndpointChange, EndpointRecord, Next, WebhookStore,
            };

            /// Binds the sixteen values of an endpoint ([`INSERT_ENDPOINT`],
            /// [`UPDATE_ENDPOINT`]) in [`ENDPOINT_COLUMNS`] order.
            fn bind_endpoint<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                e: &'q EndpointRecord,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                let (old, until) = match &e.previous_secret {
                    Some((s, t)) => (Some(s.encoded()), Some(t.millis())),
                    None => (None, None),
                };
                q.bind(e.id.as_str())
                    .bind(e.org_id.as_str())
                    .bind(e.environment.as_str())
                    .bind(&e.url)
                    .bind(&e.description)
                    .bind(e.events.to_column())
                    .bind(e.secret.encoded())
                    .bind(old)
                    .bind(until)
                    .bind(e.enabled)
                    .bind(&e.disabled_reason)
                    .bind(e.disabled_at.map(Timestamp::millis))
                    .bind(e.consecutive_failures)
                    .bind(e.failing_since.map(Timestamp::millis))
                    .bind(e.created_at.millis())
                    .bind(e.updated_at.millis())
            }

            /// One delivery of an endpoint.
            async fn delivery(
                store: &$store,
                endpoint: &WebhookEndpointId,
                event: &str,
            ) -> Result<Option<DeliveryRecord>> {
                let sql = format!(
                    "SELECT {DELIVERY_COLUMNS} {DELIVERY_FILTER} AND d.event_id = $3"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(endpoint.as_str())
                    .bind(None::<String>)
                    .bind(event)
                    .fetch_optional(store.writer())
                    .await?
                    .as_ref()
                    .map(delivery_from_row)
                    .transpose()
            }

            impl $store {
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
                    let failing_long = e
                        .failing_since
                        .is_some_and(|t| o.at.millis() - t.millis() >= DISABLE_AFTER_MS);
                    let reason = match o.next {
                        Next::Gone => "gone",
                        _ if failing_long => "failing",
                        _ => return Ok(None),
                    };
                    if !e.enabled {
                        return Ok(None);
                    }
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
            impl WebhookStore for $store {
                async fn create_endpoint(&self, endpoint: &EndpointRecord) -> Result<()> {
                    bind_endpoint(sqlx::query(INSERT_ENDPOINT), endpoint)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }

                async fn get_endpoint(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                ) -> Result<Option<EndpointRecord>> {
                    sqlx::query(AssertSqlSafe(endpoint_sql()))
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(endpoint_from_row)
                        .transpose()
                }

                async fn list_endpoints(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    page: PageRequest,
                ) -> Result<(Vec<EndpointRecord>, u64)> {
                    let total: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM webhook_endpoints \
                         WHERE org_id = $1 AND environment = $2",
                    )
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .fetch_one(self.pool())
                    .await?;
                    let (limit, offset) = limit_offset(page);
                    let sql = format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
                         WHERE org_id = $1 AND environment = $2 \
                         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(self.pool())
                        .await?;
                    let list = rows.iter().map(endpoint_from_row).collect::<Result<_>>()?;
                    Ok((list, count(total)))
                }

                async fn update_endpoint(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                    change: &EndpointChange<'_>,
                ) -> Result<Option<EndpointRecord>> {
                    let mut tx = self.begin_write().await?;
                    let sql = format!("{}{}", endpoint_sql(), Self::LOCK_ROW);
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(row) = row else {
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    let mut e = endpoint_from_row(&row)?;
                    let was_enabled = e.enabled;
                    change(&mut e);
                    let done = async {
                        bind_endpoint(sqlx::query(UPDATE_ENDPOINT), &e)
                            .execute(&mut *tx)
                            .await?;
                        if was_enabled && !e.enabled {
                            sqlx::query(FAIL_PENDING)
                                .bind(e.id.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        Ok::<(), StoreError>(())
                    }
                    .await;
                    if let Err(err) = done {
                        let _ = tx.rollback().await;
                        return Err(err);
                    }
                    tx.commit().await?;
                    Ok(Some(e))
                }

                async fn delete_endpoint(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                ) -> Result<bool> {
                    let mut tx = self.writer().begin().await?;
                    let gone = sqlx::query(
                        "DELETE FROM webhook_endpoints \
                         WHERE org_id = $1 AND environment = $2 AND id = $3",
                    )
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    // Its deliveries go by ON DELETE CASCADE; said here too, in case a
                    // connection runs without foreign keys.
                    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(gone == 1)
                }

                async fn list_deliveries(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                    status: Option<DeliveryStatus>,
                    page: PageRequest,
                ) -> Result<Option<(Vec<DeliveryRecord>, u64)>> {
                    if self.get_endpoint(org, env, id).await?.is_none() {
                        return Ok(None);
                    }
                    let status = status.map(DeliveryStatus::as_str);
                    let total: i64 =
                        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) {DELIVERY_FILTER}")))
                            .bind(id.as_str())
                            .bind(status)
                            .fetch_one(self.pool())
                            .await?;
                    let (limit, offset) = limit_offset(page);
                    let sql = format!(
                        "SELECT {DELIVERY_COLUMNS} {DELIVERY_FILTER} \
                         ORDER BY d.created_at DESC, d.event_id DESC LIMIT $3 OFFSET $4"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(id.as_str())
                        .bind(status)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(self.pool())
                        .await?;
                    let list = rows.iter().map(delivery_from_row).collect::<Result<_>>()?;
                    Ok(Some((list, count(total))))
                }

                async fn redeliver(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                    event: &EventId,
                    now: Timestamp,
                ) -> Result<Option<DeliveryRecord>> {
                    if self.get_endpoint(org, env, id).await?.is_none() {
                        return Ok(None);
                    }
                    let changed = sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
                         next_attempt_at = $3, claimed_until = NULL \
                         WHERE endpoint_id = $1 AND event_id = $2",
                    )
                    .bind(id.as_str())
                    .bind(event.as_str())
                    .bind(now.millis())
                    .execute(self.writer())
                    .await?
                    .rows_affected();
                    if changed == 0 {
                        return Ok(None);
                    }
                    delivery(self, id, event.as_str()).await
                }

                async fn recover(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &WebhookEndpointId,
                    since: Timestamp,
                    now: Timestamp,
                ) -> Result<Option<u64>> {
                    if self.get_endpoint(org, env, id).await?.is_none() {
                        return Ok(None);
                    }
                    Ok(Some(sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
                         next_attempt_at = $3, claimed_until = NULL \
                         WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2",
                    )
                    .bind(id.as_str())
                    .bind(since.millis())
                    .bind(now.millis())
                    .execute(self.writer())
                    .await?
                    .rows_affected()))
                }

                async fn send_test(
                    &self,
                    e: &EndpointRecord,
                    actor: &Actor,
                    now: Timestamp,
                ) -> Result<DeliveryRecord> {
                    let event = EventId::generate();
                    let data = serde_json::json!({
                        "endpointId": e.id.as_str(),
                        "message": "A test delivery from Synaptiq: your endpoint receives and verifies webhooks.",
                        "requestedBy": actor.id,
                    });
                    let mut tx = self.writer().begin().await?;
                    let done = async {
                        sqlx::query(
                            "INSERT INTO webhook_messages (id, org_id, environment, type, \
                             subject_id, version, data, created_at) \
                             VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
                        )
                        .bind(event.as_str())
                        .bind(e.org_id.as_str())
                        .bind(e.environment.as_str())
                        .bind(EventKind::WebhookTest.as_str())
                        .bind(e.id.as_str())
                        .bind(data.to_string())
                        .bind(now.millis())
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, \
                             attempts, next_attempt_at, created_at) \
                             VALUES ($1, $2, 'pending', 0, $3, $3)",
                        )
                        .bind(e.id.as_str())
                        .bind(event.as_str())
                        .bind(now.millis())
                        .execute(&mut *tx)
                        .await?;
                        Ok::<(), StoreError>(())
                    }
                    .await;
                    if let Err(err) = done {
                        let _ = tx.rollback().await;
                        return Err(err);
                    }
                    tx.commit().await?;
                    delivery(self, &e.id, event.as_str())
                        .await?
                        .ok_or_else(|| StoreError::Internal("test delivery vanished".into()))
                }

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
                        for c in &claimed {
                            sqlx::query(
                                "UPDATE webhook_deliveries SET claimed_until = $1 \
                                 WHERE endpoint_id = $2 AND event_id = $3",
                            )
                            .bind(lease_until.millis())
                            .bind(c.endpoint_id.as_str())
                            .bind(&c.event_id)
                            .execute(&mut *tx)
                            .await?;
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
                        "SELECT 1 FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL \
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
                    // Endpoint rows are locked in id order (PostgreSQL), so two nodes
                    // finishing batches never wait on each other in opposite orders.
                    let mut sorted: Vec<&AttemptOutcome> = outcomes.iter().collect();
                    sorted.sort_by(|a, b| a.endpoint_id.as_str().cmp(b.endpoint_id.as_str()));
                    let mut tx = self.writer().begin().await?;
                    let done = async {
                        let mut disabled = Vec::new();
                        for o in sorted {
                            if let Some(e) = Self::finish_one(&mut *tx, o).await? {
                                disabled.push(e);
                            }
                        }
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
pub(crate) use impl_webhook_store;
