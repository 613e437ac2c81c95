//! The embedded SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! `synchronous = FULL` so an acknowledged write survives a crash or power loss.

mod keys;
mod leads;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
// Dynamic SQL here is assembled only from constants; values are bound.
use sqlx::{AssertSqlSafe, SqlitePool};
use synaptiq_core::ids::{OrgId, UserId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::Environment;
use synaptiq_types::audit::AuditEvent;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::model::{AuditFilter, NewAuditEvent, OrgRecord, Role, UserRecord};
use crate::open::OpenOptions;
use crate::rows::{audit_from_row, org_from_row};
use crate::sql::{
    AUDIT_COLUMNS, AUDIT_FILTER, BUMP_EPOCH, INSERT_AUDIT, INSERT_ORG, INSERT_USER, ORG_COLUMNS,
    SET_PLAN, conflict_or, count, limit_offset,
};
use crate::traits::{AuditStore, OrgStore, Result, Store, StoreError, UserStore};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

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
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that holds the write lock from its first statement. A deferred
    /// transaction that reads before it writes fails with `SQLITE_BUSY_SNAPSHOT` (which the
    /// busy timeout does not retry) when another connection commits in between.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
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

/// Bumps the change epoch inside `tx`.
pub(crate) async fn bump_epoch(tx: &mut sqlx::SqliteConnection) -> Result<()> {
    sqlx::query(BUMP_EPOCH).execute(&mut *tx).await?;
    Ok(())
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, name: &str, plan: Plan) -> Result<OrgRecord> {
        let rec = OrgRecord {
            id: OrgId::generate(),
            name: name.to_owned(),
            plan,
            created_at: Timestamp::now(),
        };
        sqlx::query(INSERT_ORG)
            .bind(rec.id.as_str())
            .bind(&rec.name)
            .bind(plan.as_str())
            .bind(rec.created_at.millis())
            .execute(&self.pool)
            .await?;
        Ok(rec)
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<OrgRecord>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY created_at, id");
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    async fn set_plan(&self, id: &OrgId, plan: Plan) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(SET_PLAN)
            .bind(plan.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        bump_epoch(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        org: &OrgId,
        email: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<UserRecord> {
        let rec = UserRecord {
            id: UserId::generate(),
            org_id: org.clone(),
            email: email.to_lowercase(),
            role,
            password_hash: password_hash.to_owned(),
            created_at: Timestamp::now(),
        };
        sqlx::query(INSERT_USER)
            .bind(rec.id.as_str())
            .bind(org.as_str())
            .bind(&rec.email)
            .bind(role.as_str())
            .bind(password_hash)
            .bind(rec.created_at.millis())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "email"))?;
        Ok(rec)
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record(&self, ev: NewAuditEvent) -> Result<()> {
        sqlx::query(INSERT_AUDIT)
            .bind(synaptiq_core::ids::AuditEventId::generate().as_str())
            .bind(ev.org_id.as_str())
            .bind(ev.environment.as_str())
            .bind(&ev.kind)
            .bind(&ev.actor)
            .bind(ev.key_id.as_ref().map(|k| k.as_str().to_owned()))
            .bind(ev.ip)
            .bind(Timestamp::now().millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        org: &OrgId,
        env: Environment,
        f: &AuditFilter,
        page: PageRequest,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let key_id = f.key_id.as_ref().map(|k| k.as_str().to_owned());
        let since = f.since.map(Timestamp::millis);
        let until = f.until.map(Timestamp::millis);
        let (limit, offset) = limit_offset(page);
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_events WHERE {AUDIT_FILTER}"
        )))
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(&key_id)
        .bind(&f.kind)
        .bind(since)
        .bind(until)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events \
             WHERE {AUDIT_FILTER} ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
        )))
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(&key_id)
        .bind(&f.kind)
        .bind(since)
        .bind(until)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((events, count(total)))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
