//! The embedded SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! `synchronous = FULL` so an acknowledged write survives a crash or power loss.
//!
//! The trait implementations are shared with PostgreSQL (`crate::shared`); this module holds
//! what differs: opening the file and the hooks (SQLite's single writer instead of row locks).
//!
//! Two pools: readers (WAL: many at once) and one writer connection. SQLite admits one writer
//! at a time; with several connections writing, the losers sleep in the busy handler (1, 2,
//! 5, 10… ms) and retry, which at 64 concurrent POSTs gave a p99 of 545 ms (issue 7). With one
//! writer connection, writes queue in the pool's FIFO instead and each waits only for the
//! writes ahead of it. The busy timeout still covers other processes (the CLI).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::batch::Placeholders;
use crate::open::OpenOptions;
use crate::sql::{KEY_COLUMNS_BARE, SWEEP_DUE, SearchIndex};
use crate::traits::Result;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

crate::shared::impl_store!(SqliteStore, Sqlite, MIGRATOR);

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`, with default pool settings.
    pub async fn open(path: &str) -> std::result::Result<Self, sqlx::Error> {
        Self::open_with(path, &OpenOptions::default()).await
    }

    /// Opens (creating if missing) the database file at `path` (optionally followed by
    /// sqlx's `?mode=…` parameters). The file is created only in an existing directory: a
    /// mistyped path is an error, never a fresh empty database somewhere else.
    pub async fn open_with(
        path: &str,
        options: &OpenOptions,
    ) -> std::result::Result<Self, sqlx::Error> {
        check_path(path)?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(opts.clone())
            .await?;
        if path.split('?').next() == Some(":memory:") {
            // Each connection to `:memory:` is a database of its own: one pool for everything.
            return Ok(Self {
                pool: writer.clone(),
                writer,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(opts)
            .await?;
        Ok(Self { pool, writer })
    }
}

/// Hooks for the shared implementations (`crate::shared`).
impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    /// No row locks: the transaction from [`Self::begin_write`] holds the write lock.
    const LOCK_ROW: &'static str = "";
    /// Searches of 3 or more characters take their candidates from the FTS5 trigram table
    /// `leads_search` (migration 0004).
    const SEARCH_INDEX: SearchIndex = SearchIndex::Fts5;
    /// Anonymous `?` in long multi-row statements (see `batch`).
    pub(crate) const PLACEHOLDERS: Placeholders = Placeholders::Anonymous;
    const LOCK_HELD: &'static str = "the write lock";

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The one writer connection.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A transaction that holds the write lock from its first statement. A deferred
    /// transaction that reads before it writes fails with `SQLITE_BUSY_SNAPSHOT` (which the
    /// busy timeout does not retry) when another connection commits in between.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// One UPDATE … RETURNING: SQLite's single writer hands each row to one caller.
    fn sweep_expired_sql() -> String {
        format!(
            "UPDATE api_keys SET expiry_recorded_at = $1 WHERE {SWEEP_DUE} \
             RETURNING {KEY_COLUMNS_BARE}"
        )
    }
}

/// Refuses an empty path (SQLite would open a throwaway temporary database) and a path whose
/// directory does not exist.
fn check_path(path: &str) -> std::result::Result<(), sqlx::Error> {
    let file = path.split('?').next().unwrap_or_default();
    if file == ":memory:" {
        return Ok(());
    }
    if file.is_empty() {
        return Err(sqlx::Error::Configuration(
            "empty SQLite path: use sqlite://path/to/file.db".into(),
        ));
    }
    match Path::new(file).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(sqlx::Error::Configuration(
                format!("directory {} does not exist", dir.display()).into(),
            ))
        }
        _ => Ok(()),
    }
}
