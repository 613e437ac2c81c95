//! Leads, for both backends (see the module docs of `crate::store`).

/// `LeadStore` for `$store`, whose sqlx database is `$db`.
macro_rules! impl_lead_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            // Dynamic SQL below is assembled only from constants and closed enums; values
            // are bound.
            use sqlx::AssertSqlSafe;
            use synaptiq_core::event::EventKind;
            use synaptiq_core::ids::{AuditEventId, EventId, LeadId, OrgId};
            use synaptiq_core::scope::Environment;
            use synaptiq_types::leads::{LeadListQuery, LeadStatus};
            use synaptiq_types::pagination::PageRequest;
            use synaptiq_types::time::Timestamp;

            use $crate::db::{ListConn, conflict_or, count, json};
            use $crate::error::{Result, StoreError};
            use $crate::events::sql::insert_event_from;
            use $crate::events::{Actor, NewEvent, Subject};
            use $crate::leads::sql::{
                Arg, Built, DELETE_LEAD, INSERT_LEAD, LEAD_BY_EMAIL, UPDATE_LEAD, fetch_lead_sql,
                lead_count_sql, lead_from_row, lead_page_sql, search_count_sql, search_page_sql,
                search_patterns,
            };
            use $crate::leads::{LeadChange, LeadRecord, LeadStore};
            use $crate::webhooks::sql::outbox_from;

            /// Turns a unique violation on the email into a `Conflict` naming the lead that
            /// holds it.
            async fn email_conflict(
                store: &$store,
                e: sqlx::Error,
                org: &OrgId,
                env: Environment,
                email: &str,
            ) -> StoreError {
                match conflict_or(e, "email") {
                    StoreError::Conflict { param, .. } => StoreError::Conflict {
                        param,
                        existing_id: sqlx::query_scalar(LEAD_BY_EMAIL)
                            .bind(org.as_str())
                            .bind(env.as_str())
                            .bind(email.to_lowercase())
                            .fetch_optional(store.pool())
                            .await
                            .ok()
                            .flatten(),
                    },
                    other => other,
                }
            }

            /// Runs a count and a page statement built at run time, binding each one's
            /// arguments in placeholder order; `persistent: false` plans them afresh each time.
            async fn total_and_page(
                store: &$store,
                count_sql: Built<'_>,
                page_sql: Built<'_>,
                persistent: bool,
            ) -> Result<(Vec<LeadRecord>, u64)> {
                let mut count_query =
                    sqlx::query_scalar(AssertSqlSafe(count_sql.sql)).persistent(persistent);
                for arg in &count_sql.args {
                    count_query = match *arg {
                        Arg::Text(v) => count_query.bind(v),
                        Arg::Int(v) => count_query.bind(v),
                    };
                }
                let total: i64 = count_query.fetch_one(store.pool()).await?;
                let mut page_query =
                    sqlx::query(AssertSqlSafe(page_sql.sql)).persistent(persistent);
                for arg in &page_sql.args {
                    page_query = match *arg {
                        Arg::Text(v) => page_query.bind(v),
                        Arg::Int(v) => page_query.bind(v),
                    };
                }
                let rows = page_query.fetch_all(store.pool()).await?;
                let leads = rows.iter().map(lead_from_row).collect::<Result<Vec<_>>>()?;
                Ok((leads, count(total)))
            }

            /// The event `kind` about lead `id`, by `actor`, with `data` (the lead as the API
            /// shows it after the change) for webhooks.
            fn lead_event(
                org: &OrgId,
                env: Environment,
                id: &LeadId,
                kind: EventKind,
                actor: &Actor,
                data: String,
            ) -> NewEvent {
                NewEvent::new(org, env, kind, Subject::Lead(id.clone()), actor).with_data(data)
            }

            /// Binds the eighteen values of [`INSERT_LEAD`] to `q`.
            fn bind_lead<'q>(
                q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                org: &'q OrgId,
                env: Environment,
                lead: &'q LeadRecord,
                tags: String,
                custom: String,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                q.bind(lead.id.as_str())
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .bind(&lead.email)
                    .bind(lead.email.to_lowercase())
                    .bind(&lead.name)
                    .bind(&lead.company)
                    .bind(&lead.title)
                    .bind(&lead.phone)
                    .bind(lead.status.as_str())
                    .bind(i32::from(lead.score))
                    .bind(lead.source.as_str())
                    .bind(tags)
                    .bind(custom)
                    .bind(lead.first_seen_at.millis())
                    .bind(lead.last_active_at.millis())
                    .bind(lead.created_at.millis())
                    .bind(lead.updated_at.millis())
            }

            #[async_trait]
            impl LeadStore for $store {
                async fn create_lead(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    lead: &LeadRecord,
                    actor: &Actor,
                ) -> Result<()> {
                    let (tags, custom) = (json(&lead.tags)?, json(&lead.custom_fields)?);
                    let data = json(&lead.clone().into_wire())?;
                    let event = lead_event(org, env, &lead.id, EventKind::LeadCreated, actor, data);
                    if Self::ONE_MESSAGE_CHANGES {
                        // The whole transaction as one statement list: one trip to SQLite's
                        // writer thread instead of seven (BEGIN, lead, event, the three
                        // outbox statements, COMMIT).
                        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                            format!(
                                "BEGIN IMMEDIATE; {INSERT_LEAD}; {}; {}; COMMIT",
                                insert_event_from(19),
                                outbox_from(29).join("; ")
                            )
                        });
                        let id = AuditEventId::generate();
                        let evt = EventId::of(&id);
                        let now = Timestamp::now();
                        let q = bind_lead(sqlx::query(SQL.as_str()), org, env, lead, tags, custom);
                        let q = Self::bind_event(q, &event, &id, now);
                        let q = Self::bind_outbox(q, &event, &evt, now);
                        let mut conn = ListConn::new(self.writer().acquire().await?);
                        if let Err(e) = q.execute(conn.conn()).await {
                            // The list stopped at the failing statement, possibly inside
                            // the transaction. If this ROLLBACK fails (harmlessly when there
                            // was none: `BEGIN` itself failed), the connection is closed
                            // rather than pooled, in case a transaction is still open.
                            match sqlx::query("ROLLBACK").execute(conn.conn()).await {
                                Ok(_) => conn.done(),
                                Err(_) => drop(conn),
                            }
                            return Err(email_conflict(self, e, org, env, &lead.email).await);
                        }
                        conn.done();
                        return Ok(());
                    }
                    let mut tx = self.writer().begin().await?;
                    let res = bind_lead(sqlx::query(INSERT_LEAD), org, env, lead, tags, custom)
                        .execute(&mut *tx)
                        .await;
                    if let Err(e) = res {
                        tx.rollback().await?;
                        return Err(email_conflict(self, e, org, env, &lead.email).await);
                    }
                    Self::commit_change(tx, &[event], false).await
                }

                async fn get_lead(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &LeadId,
                ) -> Result<Option<LeadRecord>> {
                    sqlx::query(AssertSqlSafe(fetch_lead_sql()))
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(self.pool())
                        .await?
                        .as_ref()
                        .map(lead_from_row)
                        .transpose()
                }

                async fn list_leads(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    q: &LeadListQuery,
                    page: PageRequest,
                ) -> Result<(Vec<LeadRecord>, u64)> {
                    // Both statements hold only the conditions `q` has (see `lead_count_sql`
                    // and `lead_page_sql`); their arguments are bound in placeholder order.
                    total_and_page(
                        self,
                        lead_count_sql(org.as_str(), env.as_str(), q),
                        lead_page_sql(org.as_str(), env.as_str(), q, page),
                        true,
                    )
                    .await
                }

                async fn search_leads(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    q: &str,
                    page: PageRequest,
                ) -> Result<(Vec<LeadRecord>, u64)> {
                    // Not kept prepared: planned for each needle. A cached generic plan (which
                    // PostgreSQL adopts after a few runs) cannot tell a short needle, best
                    // scanned, from a long one, best looked up in the trigram indexes.
                    let patterns = search_patterns(q, Self::SEARCH_INDEX);
                    total_and_page(
                        self,
                        search_count_sql(org.as_str(), env.as_str(), &patterns),
                        search_page_sql(org.as_str(), env.as_str(), &patterns, page),
                        false,
                    )
                    .await
                }

                async fn update_lead(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &LeadId,
                    change: &LeadChange<'_>,
                    actor: &Actor,
                ) -> Result<Option<LeadRecord>> {
                    // Read-modify-write under a lock (SQLite: the write lock; PostgreSQL: the
                    // lead's row lock): concurrent patches apply one after another.
                    let mut tx = self.begin_write().await?;
                    let sql = format!("{}{}", fetch_lead_sql(), Self::LOCK_ROW);
                    let Some(row) = sqlx::query(AssertSqlSafe(sql))
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    let mut lead = lead_from_row(&row)?;
                    let before = lead.status;
                    change(&mut lead);
                    let res = sqlx::query(UPDATE_LEAD)
                        .bind(&lead.email)
                        .bind(lead.email.to_lowercase())
                        .bind(&lead.name)
                        .bind(&lead.company)
                        .bind(&lead.title)
                        .bind(&lead.phone)
                        .bind(lead.status.as_str())
                        .bind(i32::from(lead.score))
                        .bind(json(&lead.tags)?)
                        .bind(json(&lead.custom_fields)?)
                        .bind(lead.updated_at.millis())
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await;
                    if let Err(e) = res {
                        // Roll back (releasing the lock) before looking up the lead in the way.
                        tx.rollback().await?;
                        return Err(email_conflict(self, e, org, env, &lead.email).await);
                    }
                    let data = json(&lead.clone().into_wire())?;
                    let mut events = vec![lead_event(
                        org,
                        env,
                        id,
                        EventKind::LeadUpdated,
                        actor,
                        data.clone(),
                    )];
                    let reached = match lead.status {
                        LeadStatus::Qualified => Some(EventKind::LeadQualified),
                        LeadStatus::Converted => Some(EventKind::LeadConverted),
                        _ => None,
                    };
                    if let Some(kind) = reached.filter(|_| lead.status != before) {
                        events.push(lead_event(org, env, id, kind, actor, data));
                    }
                    Self::commit_change(tx, &events, false).await?;
                    Ok(Some(lead))
                }

                async fn delete_lead(
                    &self,
                    org: &OrgId,
                    env: Environment,
                    id: &LeadId,
                    actor: &Actor,
                ) -> Result<bool> {
                    let mut tx = self.writer().begin().await?;
                    let deleted = sqlx::query(DELETE_LEAD)
                        .bind(org.as_str())
                        .bind(env.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if deleted != 1 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    let data = serde_json::json!({"id": id.as_str(), "deleted": true});
                    let event = lead_event(
                        org,
                        env,
                        id,
                        EventKind::LeadDeleted,
                        actor,
                        data.to_string(),
                    );
                    Self::commit_change(tx, &[event], false).await?;
                    Ok(true)
                }

                async fn lead_version(&self, org: &OrgId, env: Environment) -> Result<i64> {
                    let v: Option<i64> = sqlx::query_scalar(
                        "SELECT version FROM lead_versions WHERE org_id = $1 AND environment = $2",
                    )
                    .bind(org.as_str())
                    .bind(env.as_str())
                    .fetch_optional(self.pool())
                    .await?;
                    Ok(v.unwrap_or(0))
                }

                fn lead_version_now(&self, org: &OrgId, env: Environment) -> Option<i64> {
                    self.read_lead_version_now(org, env)
                }
            }
        };
    };
}
pub(crate) use impl_lead_store;
