//! The embedded SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! `synchronous = FULL` so an acknowledged write survives a crash or power loss.
//!
//! The trait implementations are shared with PostgreSQL (`crate::store`); this module holds
//! what differs: opening the file and the hooks (SQLite's single writer instead of row locks).
//!
//! Two pools: readers (WAL: many at once) and one writer connection. SQLite admits one writer
//! at a time; with several connections writing, the losers sleep in the busy handler (1, 2,
//! 5, 10… ms) and retry, which at 64 concurrent POSTs gave a p99 of 545 ms (issue 7). With one
//! writer connection, writes queue in the pool's FIFO instead and each waits only for the
//! writes ahead of it. The busy timeout still covers other processes (the CLI).

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{OpenFlags, OptionalExtension};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment;

use crate::batch::Placeholders;
use crate::error::Result;
use crate::keys::sql::{KEY_COLUMNS_BARE, SWEEP_DUE};
use crate::leads::sql::SearchIndex;
use crate::open::OpenOptions;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// `None` for `:memory:` (a connection of its own would be another database).
    versions: Option<Arc<VersionReader>>,
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

crate::store::impl_store!(SqliteStore, Sqlite, MIGRATOR);

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
                versions: None,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(opts)
            .await?;
        // After the pools: the file exists, in WAL mode, with its migrations applied or about
        // to be (a read before migration 0005 fails and falls back to the awaited read).
        let versions =
            VersionReader::open(path.split('?').next().unwrap_or_default()).map(Arc::new);
        Ok(Self {
            pool,
            writer,
            versions,
        })
    }
}

/// Lead-version reads on the calling thread ([`crate::LeadStore::lead_version_now`]).
///
/// sqlx runs every SQLite connection on a thread of its own, so each query is two thread
/// hand-offs. For the one-row read that guards every cached lead list those hand-offs, not the
/// read, were the cost: ≈ 30% of the server's CPU under the cached-list benchmark (perf: the
/// sqlx worker thread 17%, context switches and wake-ups on the runtime thread most of the
/// rest; issue 7). sqlx has no synchronous query, so this one statement goes through rusqlite
/// on the same libsqlite3 (the `unsafe_code` lint forbids calling it directly).
///
/// It never waits: a connection is taken with `try_lock`, SQLite's busy timeout is zero, and
/// any failure returns `None` so that the caller awaits the ordinary read instead. A read
/// transaction starts with the statement and ends with it (WAL: it sees every commit made
/// before it began, by any connection or process), so nothing is cached here.
struct VersionReader {
    conns: Vec<Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for VersionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionReader")
            .field("connections", &self.conns.len())
            .finish()
    }
}

const READ_LEAD_VERSION: &str =
    "SELECT version FROM lead_versions WHERE org_id = ?1 AND environment = ?2";

impl VersionReader {
    /// One read-only connection per runtime thread (several threads may read at once).
    fn open(file: &str) -> Option<Self> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conns = (0..threads)
            .map(|_| {
                let conn = rusqlite::Connection::open_with_flags(file, flags)?;
                conn.busy_timeout(Duration::ZERO)?;
                Ok(Mutex::new(conn))
            })
            .collect::<rusqlite::Result<Vec<_>>>();
        match conns {
            Ok(conns) => Some(Self { conns }),
            Err(e) => {
                tracing::warn!(error = %e, "lead versions will be read through the pool");
                None
            }
        }
    }

    fn read(&self, org: &str, env: &str) -> Option<i64> {
        let conn = self.conns.iter().find_map(|c| c.try_lock().ok())?;
        let mut stmt = conn.prepare_cached(READ_LEAD_VERSION).ok()?;
        let version = stmt
            .query_row((org, env), |row| row.get::<_, i64>(0))
            .optional()
            .ok()?;
        Some(version.unwrap_or(0))
    }
}

/// Hooks for the shared implementations (`crate::store`).
impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    /// No row locks: the transaction from [`Self::begin_write`] holds the write lock.
    const LOCK_ROW: &'static str = "";
    /// Searches of 3 or more characters take their candidates from the FTS5 trigram table
    /// `leads_search` (migration 0004).
    const SEARCH_INDEX: SearchIndex = SearchIndex::Fts5;
    /// Anonymous `?` in long multi-row statements (see `batch`).
    pub(crate) const PLACEHOLDERS: Placeholders = Placeholders::Anonymous;
    /// The write lock held by [`Self::begin_write`] makes a claim exclusive.
    const CLAIM_LOCK: &'static str = "";
    const LOCK_HELD: &'static str = "the write lock";
    /// A change whose statements need no answers in between is sent to the writer thread as
    /// one statement list, `BEGIN IMMEDIATE; …; COMMIT` (sqlx binds `$n` across the list):
    /// each statement sent separately is a round trip between the runtime and sqlx's worker
    /// thread (a channel send, a wake-up, a context switch each way), and those round trips,
    /// not SQLite, were most of a lead creation's cost.
    const ONE_MESSAGE_CHANGES: bool = true;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn read_lead_version_now(&self, org: &OrgId, env: Environment) -> Option<i64> {
        self.versions.as_ref()?.read(org.as_str(), env.as_str())
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

    /// `VACUUM INTO` on a reader: a consistent, compacted copy from one read transaction,
    /// taken beside the writer (WAL) without stopping it.
    async fn backup_into(&self, path: &str) -> Result<()> {
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
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
