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

            use $crate::db::{count, limit_offset};
            use $crate::error::{Result, StoreError};
            use $crate::events::Actor;
            use $crate::webhooks::sql::{
                DELIVERY_COLUMNS, DELIVERY_FILTER, ENDPOINT_COLUMNS, FAIL_PENDING,
                INSERT_ENDPOINT, UPDATE_ENDPOINT, delivery_from_row, endpoint_from_row,
                endpoint_sql,
            };
            use $crate::webhooks::{DeliveryRecord, EndpointChange, EndpointRecord, WebhookStore};

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
                    // connection runs without foreign keys. Only when the endpoint was this
                    // organization's and environment's.
                    if gone == 1 {
                        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                            .bind(id.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
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
                    // A delivery a worker holds (an attempt in flight) is left to it: taking
                    // it back here could send it twice at once. It is returned as it is.
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
                         next_attempt_at = $3, claimed_until = NULL \
                         WHERE endpoint_id = $1 AND event_id = $2 \
                         AND (claimed_until IS NULL OR claimed_until < $3)",
                    )
                    .bind(id.as_str())
                    .bind(event.as_str())
                    .bind(now.millis())
                    .execute(self.writer())
                    .await?;
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

            }
        };
    };
}
pub(crate) use impl_webhook_store;
