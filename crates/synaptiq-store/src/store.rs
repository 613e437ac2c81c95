//! [`Store`], everything the server needs from storage, and [`impl_store!`], which implements
//! every resource's trait for one backend.
//!
//! Each resource folder (`orgs/`, `users/`, `keys/`, `peppers/`, `usage/`, `leads/`, `events/`, `webhooks/`) holds its
//! trait and records (`mod.rs`), its SQL and row mapping (`sql.rs`) and its implementation
//! (`imp.rs`), written once as a macro both backends expand. Each such macro expands to `impl …Store for $store`, given the store type and its sqlx
//! database. sqlx runtime queries are source-identical on SQLite and PostgreSQL, so one body
//! serves both; a macro is used because the generic alternative (functions over
//! `D: sqlx::Database`) needs `for<'q> D::Arguments<'q>: IntoArguments<…>`, `Encode`/`Type`
//! and `Executor` bounds on every function, which are far worse to read than the queries.
//!
//! What differs between the backends stays in their own module, as inherent hooks the
//! expanded code calls:
//! - `fn pool(&self) -> &Pool<DB>` for reads and `fn writer(&self) -> &Pool<DB>` for every
//!   statement that writes (SQLite: one connection, so writers queue instead of sleeping in
//!   the busy handler; PostgreSQL: the same pool);
//! - `async fn begin_write(&self) -> Result<Transaction<'static, DB>>`: a transaction for a
//!   read-then-write (SQLite: `BEGIN IMMEDIATE`, taking the database write lock at once;
//!   PostgreSQL: a plain `BEGIN`, the reads lock their rows instead);
//! - Every early return inside a transaction rolls back explicitly: a dropped sqlx transaction
//!   is rolled back only when its connection is next used, holding its row locks until then.
//! - `const LOCK_ROW: &str`: appended to a read inside `begin_write` (`""` or `" FOR UPDATE"`);
//! - `const LOCK_HELD: &str`: names that lock in an error message;
//! - `const ONE_MESSAGE_CHANGES: bool`: whether a change whose statements need no answers in
//!   between goes to the database as one statement list with its `BEGIN`/`COMMIT` (SQLite:
//!   one trip to the writer thread; PostgreSQL: no, one statement per message);
//! - `const SEARCH_INDEX: SearchIndex`: how a lead search of 3 or more characters finds its
//!   candidates (SQLite: an FTS5 trigram table; PostgreSQL: `pg_trgm` indexes);
//! - `fn sweep_expired_sql() -> String`: the expiry sweep (PostgreSQL skips locked rows);
//! - `const BACKEND: &str` and `static MIGRATOR`: the backend's name and its migrations.
//!
//! Each macro wraps its expansion in `const _: () = { … };` so that its `use` lines and
//! helper functions stay local to one backend's expansion.

use async_trait::async_trait;

use crate::error::Result;
use crate::events::AuditStore;
use crate::keys::KeyStore;
use crate::leads::LeadStore;
use crate::orgs::OrgStore;
use crate::peppers::PepperStore;
use crate::usage::UsageStore;
use crate::users::{SessionStore, UserStore};
use crate::webhooks::{DeliveryStore, WebhookStore};

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    OrgStore
    + KeyStore
    + PepperStore
    + LeadStore
    + UserStore
    + SessionStore
    + UsageStore
    + AuditStore
    + WebhookStore
    + DeliveryStore
    + Send
    + Sync
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// Writes a consistent copy of the whole database to `path` (a file that must not exist)
    /// while the database stays in use (SQLite: `VACUUM INTO`, one read transaction: every
    /// change committed before it began, none after). PostgreSQL: an error saying to use
    /// `pg_dump`.
    async fn backup_to(&self, path: &str) -> Result<()>;
    /// Closes the pool, waiting for in-flight queries.
    async fn close(&self);
    /// The backend's name, for logs (`sqlite`).
    fn backend(&self) -> &'static str;
}

/// Every storage trait for `$store`, whose sqlx database is `$db`; `$migrator` is its
/// `sqlx::migrate::Migrator`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $migrator:path) => {
        $crate::orgs::impl_org_store!($store);
        $crate::users::impl_user_store!($store);
        $crate::keys::impl_key_store!($store, $db);
        $crate::peppers::impl_pepper_store!($store);
        $crate::usage::impl_usage_store!($store);
        $crate::leads::impl_lead_store!($store, $db);
        $crate::events::impl_audit_store!($store);
        $crate::webhooks::impl_webhook_store!($store, $db);
        $crate::webhooks::impl_delivery_store!($store, $db);

        const _: () = {
            use async_trait::async_trait;

            use sqlx::AssertSqlSafe;
            use synaptiq_core::ids::{AuditEventId, EventId};
            use synaptiq_types::time::Timestamp;

            use $crate::db::BUMP_EPOCH;
            use $crate::error::{Result, StoreError};
            use $crate::events::NewEvent;
            use $crate::events::sql::INSERT_EVENT;
            use $crate::webhooks::sql::outbox_from;

            /// The outbox statements, numbered from `$1`.
            static OUTBOX: std::sync::LazyLock<[String; 3]> =
                std::sync::LazyLock::new(|| outbox_from(1));
            use $crate::store::Store;

            impl $store {
                /// Bumps the change epoch inside `tx`. On PostgreSQL every change takes this
                /// row lock last, after its own row locks, so two changes never wait on each
                /// other in opposite orders.
                pub(crate) async fn bump_epoch(
                    tx: &mut <$db as sqlx::Database>::Connection,
                ) -> Result<()> {
                    sqlx::query(BUMP_EPOCH).execute(&mut *tx).await?;
                    Ok(())
                }

                /// Ends the transaction of a change: records its `events`, bumps the change
                /// epoch when `bump` (taken last, as everywhere), and commits. On any error
                /// it rolls back before returning, so no transaction — nor its row locks —
                /// is left to a pooled connection.
                pub(crate) async fn commit_change(
                    mut tx: sqlx::Transaction<'static, $db>,
                    events: &[NewEvent],
                    bump: bool,
                ) -> Result<()> {
                    let done = async {
                        Self::record_events_in(&mut tx, events).await?;
                        if bump {
                            Self::bump_epoch(&mut tx).await?;
                        }
                        Ok::<(), StoreError>(())
                    }
                    .await;
                    match done {
                        Ok(()) => Ok(tx.commit().await?),
                        Err(e) => {
                            let _ = tx.rollback().await;
                            Err(e)
                        }
                    }
                }

                /// Records `events` inside `tx`, the transaction of the change they describe,
                /// so the change and its events commit or vanish together. Their ids ascend
                /// in the order given and they share one time, so a listing newest first
                /// shows the last one first.
                pub(crate) async fn record_events_in(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    events: &[NewEvent],
                ) -> Result<()> {
                    let now = Timestamp::now();
                    for ev in events {
                        // Ids made one after another ascend (`AuditEventId::generate`).
                        let id = AuditEventId::generate();
                        Self::bind_event(sqlx::query(INSERT_EVENT), ev, &id, now)
                            .execute(&mut *tx)
                            .await?;
                        if ev.for_webhooks().is_some() {
                            let evt = EventId::of(&id);
                            for sql in OUTBOX.iter() {
                                Self::bind_outbox(
                                    sqlx::query(AssertSqlSafe(sql.as_str())),
                                    ev,
                                    &evt,
                                    now,
                                )
                                .execute(&mut *tx)
                                .await?;
                            }
                        }
                    }
                    Ok(())
                }

                /// Binds the seven values of the outbox statements (`outbox_from`) after
                /// `q`'s own.
                pub(crate) fn bind_outbox<'q>(
                    q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                    ev: &'q NewEvent,
                    evt: &'q EventId,
                    now: Timestamp,
                ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                    q.bind(evt.as_str())
                        .bind(ev.org_id.as_str())
                        .bind(ev.environment.as_str())
                        .bind(ev.kind.as_str())
                        .bind(ev.subject.id())
                        .bind(ev.for_webhooks().unwrap_or("null"))
                        .bind(now.millis())
                }

                /// Binds the ten values of an event insert ([`INSERT_EVENT`]) after `q`'s own.
                pub(crate) fn bind_event<'q>(
                    q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                    ev: &'q NewEvent,
                    id: &'q AuditEventId,
                    now: Timestamp,
                ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                    q.bind(id.as_str())
                        .bind(ev.org_id.as_str())
                        .bind(ev.environment.as_str())
                        .bind(ev.kind.as_str())
                        .bind(&ev.actor.id)
                        .bind(ev.subject.key_id().map(|k| k.as_str()))
                        .bind(ev.subject.id())
                        .bind(ev.actor.ip.as_deref())
                        .bind(now.millis())
                        .bind(ev.kind.audited())
                }
            }

            #[async_trait]
            impl Store for $store {
                async fn migrate(&self) -> Result<()> {
                    $migrator
                        .run(self.writer())
                        .await
                        .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
                }

                async fn ping(&self) -> Result<()> {
                    sqlx::query("SELECT 1").execute(self.pool()).await?;
                    Ok(())
                }

                async fn backup_to(&self, path: &str) -> Result<()> {
                    self.backup_into(path).await
                }

                async fn close(&self) {
                    self.pool().close().await;
                    self.writer().close().await;
                }

                fn backend(&self) -> &'static str {
                    Self::BACKEND
                }
            }
        };
    };
}
pub(crate) use impl_store;
