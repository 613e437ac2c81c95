//! The PostgreSQL backend: the same SQL as SQLite (`src/sql.rs`) and the same trait
//! implementations (`crate::store`), plus row locks where SQLite relies on its single writer
//! (rotation, lead updates, the expiry sweep). This module holds what differs: connecting
//! and the hooks.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment;

use crate::batch::Placeholders;
use crate::error::Result;
use crate::keys::sql::{KEY_COLUMNS_BARE, SWEEP_DUE};
use crate::leads::sql::SearchIndex;
use crate::open::OpenOptions;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

crate::store::impl_store!(PgStore, Postgres, MIGRATOR);

impl PgStore {
    /// Connects to `url` (`postgres://…`, sqlx's parameters allowed) and checks one
    /// connection, with default pool settings.
    pub async fn open(url: &str) -> std::result::Result<Self, sqlx::Error> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// Connects to `url` with `options`' pool settings and checks one connection.
    pub async fn open_with(
        url: &str,
        options: &OpenOptions,
    ) -> std::result::Result<Self, sqlx::Error> {
        let connect = PgConnectOptions::from_str(url)?;
        // A direct first connection says why it failed (refused, unknown database, bad
        // password); a pool would only report that it timed out.
        let first = tokio::time::timeout(
            options.acquire_timeout,
            PgConnection::connect_with(&connect),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
        let mut first = first;
        if options.read_write_only {
            refuse_read_only(&mut first).await?;
        }
        first.close().await?;
        let read_write_only = options.read_write_only;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if read_write_only {
                        refuse_read_only(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy_with(connect);
        Ok(Self { pool })
    }
}

/// `target_session_attrs=read-write`: a server in read-only mode (a standby) is refused.
async fn refuse_read_only(conn: &mut PgConnection) -> std::result::Result<(), sqlx::Error> {
    let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
        .fetch_one(&mut *conn)
        .await?;
    if read_only == "on" {
        return Err(sqlx::Error::Configuration(
            "the PostgreSQL server is read-only and target_session_attrs=read-write was asked"
                .into(),
        ));
    }
    Ok(())
}

/// Hooks for the shared implementations (`crate::store`).
impl PgStore {
    const BACKEND: &'static str = "postgres";
    /// Appended to a read inside [`Self::begin_write`]: locks the row until the transaction
    /// ends.
    const LOCK_ROW: &'static str = " FOR UPDATE";
    /// Searches of 3 or more characters use the `pg_trgm` GIN indexes on the searched
    /// expressions (migration 0004) through the `LIKE` conditions themselves.
    const SEARCH_INDEX: SearchIndex = SearchIndex::Like;
    pub(crate) const PLACEHOLDERS: Placeholders = Placeholders::Numbered;
    /// A claim locks its deliveries and skips those another node is claiming.
    const CLAIM_LOCK: &'static str = " FOR UPDATE OF d SKIP LOCKED";
    const LOCK_HELD: &'static str = "its row lock";
    /// The extended protocol takes one statement per message (with parameters).
    const ONE_MESSAGE_CHANGES: bool = false;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every read is a network round trip: always awaited.
    fn read_lead_version_now(&self, _org: &OrgId, _env: Environment) -> Option<i64> {
        None
    }

    /// Writes use the same pool (row locks, not a single writer).
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// PostgreSQL has its own consistent online backups.
    async fn backup_into(&self, _path: &str) -> Result<()> {
        Err(crate::error::StoreError::Internal(
            "PostgreSQL databases are backed up with `pg_dump --format=custom` (consistent \
             while the server runs) and restored with `pg_restore`"
                .into(),
        ))
    }

    /// A plain transaction: its reads lock their rows with [`Self::LOCK_ROW`].
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Rows another transaction holds (another sweeper, a rotation) are left for the next
    /// sweep instead of waited on, so concurrent sweepers neither block nor deadlock; the
    /// outer condition is re-checked on the latest row version, so a row swept and committed
    /// meanwhile is never returned twice.
    fn sweep_expired_sql() -> String {
        format!(
            "UPDATE api_keys SET expiry_recorded_at = $1 WHERE {SWEEP_DUE} AND id IN \
               (SELECT id FROM api_keys WHERE {SWEEP_DUE} ORDER BY id FOR UPDATE SKIP LOCKED) \
             RETURNING {KEY_COLUMNS_BARE}"
        )
    }
}
