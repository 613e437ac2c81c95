//! API keys, for both backends (see the module docs of `crate::store`). Where SQLite's single
//! writer serializes for free, PostgreSQL takes row locks: rotation locks the old key before
//! reading its status, the expiry sweep skips rows another sweeper holds, and usage batches
//! lock keys in id order.

/// `KeyStore` for `$store`, whose sqlx database is `$db`.
macro_rules! impl_key_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL below is assembled only from constants and closed enums; values
            // are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::event::EventKind;
            use synaptiq_core::hash::KeyHash;
            use synaptiq_core::ids::{KeyId, OrgId};
            use synaptiq_core::scope::{Environment, KeyStatus};
            use synaptiq_types::pagination::PageRequest;
            use synaptiq_types::time::Timestamp;

            use $crate::db::{conflict_or, corrupt, count, limit_offset};
            use $crate::error::Result;
            use $crate::events::{Actor, NewEvent, Subject};
            use $crate::keys::sql::{
                DELETE_KEY, INSERT_KEY, KEY_COLUMNS, auth_from_row, fetch_key_sql,
                find_by_hash_sql, inserted, key_from_row, key_list_filter, mark_exposed_sql,
                revoke_sql, rotate_old_sql, update_key_sql,
            };
            use $crate::keys::{AuthRecord, KeyRecord, KeyStore, NewKey, RotateOutcome, UsageFact};

            type Conn = <$db as sqlx::Database>::Connection;

            async fn insert_key_in(
                conn: &mut Conn,
                key: NewKey,
                now: Timestamp,
            ) -> Result<KeyRecord> {
                let id = KeyId::generate();
                let ips =
                    serde_json::to_string(&key.allowed_ips).map_err(|_| corrupt("allowed_ips"))?;
                sqlx::query(INSERT_KEY)
                    .bind(id.as_str())
                    .bind(key.org_id.as_str())
                    .bind(key.environment.as_str())
                    .bind(&key.name)
                    .bind(key.scope.as_str())
                    .bind(&key.hash.0[..])
                    .bind(i32::from(key.pepper_version))
                    .bind(&key.hint)
                    .bind(&ips)
                    .bind(now.millis())
                    .bind(key.expires_at.map(Timestamp::millis))
                    .bind(key.rotated_from.as_ref().map(|k| k.as_str().to_owned()))
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| conflict_or(e, "key"))?;
                Ok(inserted(id, key, now))
            }

            /// One key; `lock` is appended to the query (`""`, or the backend's `LOCK_ROW`).
            async fn fetch_key_in(
                conn: &mut Conn,
                org: &OrgId,
                env: Environment,
                id: &KeyId,
                lock: &str,
            ) -> Result<Option<KeyRecord>> {
                sqlx::query(AssertSqlSafe(format!("{}{lock}", fetch_key_sql())))
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
                    .as_ref()
                    .map(key_from_row)
                    .transpose()
            }

            /// Ends a change to one key made in `tx`: rolled back with `None` when no row
            /// matched; else the key, recorded with its event (and the change epoch bumped
            /// when `bump`: authentication caches the key), committed.
            async fn finish_key_change(
                tx: sqlx::Transaction<'static, $db>,
                row: Option<<$db as sqlx::Database>::Row>,
                kind: EventKind,
                actor: &Actor,
                bump: bool,
            ) -> Result<Option<KeyRecord>> {
                let Some(row) = row else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let key = match key_from_row(&row) {
                    Ok(k) => k,
                    Err(e) => {
                        let _ = tx.rollback().await;
                        return Err(e);
                    }
                };
                let event = NewEvent::about_key(&key, kind, actor);
                <$store>::commit_change(tx, &[event], bump).await?;
                Ok(Some(key))
            }

            #[async_trait]
            impl KeyStore for $store {
                async fn insert_key(&self, key: NewKey, actor: &Actor) -> Result<KeyRecord> {
                    let mut tx = self.writer().begin().await?;
                    let k = match insert_key_in(&mut tx, key, Timestamp::now()).await {
                        Ok(k) => k,
                        Err(e) => {
                            let _ = tx.rollback().await;
                            return Err(e);
                        }
                    };
                    let event = NewEvent::about_key(&k, EventKind::KeyCreated, actor);
                    Self::commit_change(tx, &[event], false).await?;
                    Ok(k)
                }

                async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<AuthRecord>> {
                    sqlx::query(AssertSqlSafe(find_by_hash_sql()))
                        .bind(&hash.0[..])
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(auth_from_row)
                        .transpose()
                }

                async fn get_key(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &KeyId,
                ) -> Result<Option<KeyRecord>> {
                    let mut conn = self.pool().acquire().await?;
                    fetch_key_in(&mut conn, org, env, id, "").await
                }

                async fn list_keys(
                    &self,
                    org: &OrgId,
                    env: Option<Environment>,
                    status: Option<KeyStatus>,
                    now: Timestamp,
                    page: PageRequest,
                ) -> Result<(Vec<KeyRecord>, u64)> {
                    let env = env.map(Environment::as_str);
                    let filter = key_list_filter(status);
                    let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM api_keys k WHERE {filter}"
                    )))
                    .bind(org.as_str())
                    .bind(env)
                    .bind(now.millis())
                    .fetch_one(self.pool())
                    .await?;
                    let (limit, offset) = limit_offset(page);
                    let sql = format!(
                        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE {filter} \
                         ORDER BY k.created_at DESC, k.id DESC LIMIT $4 OFFSET $5"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(org.as_str())
                        .bind(env)
                        .bind(now.millis())
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(self.pool())
                        .await?;
                    let keys = rows.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
                    Ok((keys, count(total)))
                }

                async fn revoke_key(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &KeyId,
                    now: Timestamp,
                    actor: &Actor,
                ) -> Result<Option<KeyRecord>> {
                    let mut tx = self.writer().begin().await?;
                    let row = sqlx::query(AssertSqlSafe(revoke_sql()))
                        .bind(now.millis())
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    finish_key_change(tx, row, EventKind::KeyRevoked, actor, true).await
                }

                async fn rotate_key(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &KeyId,
                    replacement: NewKey,
                    deadline: Timestamp,
                    now: Timestamp,
                    actor: &Actor,
                ) -> Result<RotateOutcome> {
                    // The lock is taken before the old key's status is read (SQLite: the write
                    // lock, from the first statement; PostgreSQL: the old key's row lock), so
                    // a concurrent rotation, revocation or deletion either finished before
                    // (and is seen) or waits for this one.
                    let mut tx = self.begin_write().await?;
                    let Some(old) = fetch_key_in(&mut tx, org, env, id, Self::LOCK_ROW).await?
                    else {
                        tx.rollback().await?;
                        return Ok(RotateOutcome::NotFound);
                    };
                    let status = old.status(now);
                    if !status.usable() {
                        tx.rollback().await?;
                        return Ok(RotateOutcome::NotUsable(status));
                    }
                    let new = insert_key_in(&mut tx, replacement, now).await?;
                    let Some(row) = sqlx::query(AssertSqlSafe(rotate_old_sql()))
                        .bind(new.id.as_str())
                        .bind(deadline.millis())
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .bind(now.millis())
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        let what = format!("rotated key vanished under {}", Self::LOCK_HELD);
                        return Err(corrupt(&what));
                    };
                    let old = key_from_row(&row)?;
                    let events = [
                        NewEvent::about_key(&new, EventKind::KeyCreated, actor),
                        NewEvent::about_key(&old, EventKind::KeyRotated, actor),
                    ];
                    Self::commit_change(tx, &events, true).await?;
                    Ok(RotateOutcome::Rotated {
                        old: Box::new(old),
                        new: Box::new(new),
                    })
                }

                async fn update_key(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &KeyId,
                    name: Option<&str>,
                    allowed_ips: Option<&[String]>,
                    actor: &Actor,
                ) -> Result<Option<KeyRecord>> {
                    let ips = allowed_ips
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(|_| corrupt("allowed_ips"))?;
                    let mut tx = self.writer().begin().await?;
                    let row = sqlx::query(AssertSqlSafe(update_key_sql()))
                        .bind(name)
                        .bind(ips)
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    finish_key_change(tx, row, EventKind::KeyUpdated, actor, true).await
                }

                async fn delete_key(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &KeyId,
                    now: Timestamp,
                    actor: &Actor,
                ) -> Result<bool> {
                    let mut tx = self.writer().begin().await?;
                    let changed = sqlx::query(DELETE_KEY)
                        .bind(now.millis())
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if changed == 0 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    let event = NewEvent::new(
                        org,
                        env,
                        EventKind::KeyDeleted,
                        Subject::Key(id.clone()),
                        actor,
                    );
                    Self::commit_change(tx, &[event], true).await?;
                    Ok(true)
                }

                async fn sweep_expired(&self, now: Timestamp) -> Result<Vec<KeyRecord>> {
                    let mut tx = self.writer().begin().await?;
                    let swept = sqlx::query(AssertSqlSafe(Self::sweep_expired_sql()))
                        .bind(now.millis())
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(Into::into)
                        .and_then(|rows| rows.iter().map(key_from_row).collect::<Result<Vec<_>>>());
                    let keys = match swept {
                        Ok(keys) => keys,
                        Err(e) => {
                            let _ = tx.rollback().await;
                            return Err(e);
                        }
                    };
                    let system = Actor::system(None);
                    let events: Vec<NewEvent> = keys
                        .iter()
                        .map(|k| NewEvent::about_key(k, EventKind::KeyExpired, &system))
                        .collect();
                    Self::commit_change(tx, &events, false).await?;
                    Ok(keys)
                }

                async fn record_usage(&self, batch: &[UsageFact]) -> Result<()> {
                    if batch.is_empty() {
                        return Ok(());
                    }
                    let facts = $crate::batch::newest_per_key(batch);
                    let mut tx = self.writer().begin().await?;
                    for chunk in $crate::batch::split(&facts, $crate::batch::FACTS_PER_STATEMENT) {
                        let sql =
                            $crate::batch::record_usage_statement(Self::PLACEHOLDERS, chunk.len());
                        // Few recurring shapes (`batch::split`): kept prepared.
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for fact in chunk {
                            q = q
                                .bind(fact.at.millis())
                                .bind(&fact.ip)
                                .bind(fact.user_agent.as_deref())
                                .bind(fact.key_id.as_str());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn locate_key(&self, id: &KeyId) -> Result<Option<(OrgId, Environment)>> {
                    let row: Option<(String, String)> =
                        sqlx::query_as("SELECT org_id, environment FROM api_keys WHERE id = $1")
                            .bind(id.as_str())
                            .fetch_optional(self.pool())
                            .await?;
                    row.map(|(o, e)| {
                        Ok((
                            OrgId::parse(&o).map_err(|_| corrupt("api_keys.org_id"))?,
                            Environment::parse(&e)
                                .ok_or_else(|| corrupt("api_keys.environment"))?,
                        ))
                    })
                    .transpose()
                }

                async fn mark_exposed(
                    &self,
                    hash: &KeyHash,
                    now: Timestamp,
                    actor: &Actor,
                ) -> Result<Option<KeyRecord>> {
                    let mut tx = self.writer().begin().await?;
                    let row = sqlx::query(AssertSqlSafe(mark_exposed_sql()))
                        .bind(now.millis())
                        .bind(&hash.0[..])
                        .fetch_optional(&mut *tx)
                        .await?;
                    // Exposure changes nothing authentication caches: no epoch bump.
                    finish_key_change(tx, row, EventKind::KeyExposed, actor, false).await
                }

                async fn change_epoch(&self) -> Result<i64> {
                    Ok(
                        sqlx::query_scalar("SELECT epoch FROM change_epoch WHERE id = 1")
                            .fetch_one(self.pool())
                            .await?,
                    )
                }
            }
        };
    };
}
pub(crate) use impl_key_store;
