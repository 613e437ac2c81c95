//! The embedded SQLite backend: one file, WAL journal, foreign keys on, a busy timeout, and
//! `synchronous = FULL` so an acknowledged write survives a crash or power loss.

mod keys;
mod leads;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
// Dynamic SQL here is assembled only from constants; values are bound.
use sqlx::{AssertSqlSafe, Row, SqlitePool};
use synaptiq_core::ids::{OrgId, UserId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::Environment;
use synaptiq_types::audit::AuditEvent;
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::model::{AuditFilter, NewAuditEvent, OrgRecord, Role, UserRecord};
use crate::traits::{AuditStore, OrgStore, Result, Store, StoreError, UserStore};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`.
    pub async fn open(path: &str) -> std::result::Result<Self, sqlx::Error> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(Self { pool })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Maps a unique-constraint violation to a `Conflict` on `param`.
pub(crate) fn conflict_or(e: sqlx::Error, param: &'static str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict {
            param,
            existing_id: None,
        };
    }
    e.into()
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("corrupt stored value in {what}"))
}

/// Bumps the change epoch inside `tx`.
pub(crate) async fn bump_epoch(tx: &mut sqlx::SqliteConnection) -> Result<()> {
    sqlx::query("UPDATE change_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn org_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<OrgRecord> {
    Ok(OrgRecord {
        id: OrgId::parse(row.try_get("id")?).map_err(|_| corrupt("organizations.id"))?,
        name: row.try_get("name")?,
        plan: Plan::parse(row.try_get("plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
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
        sqlx::query(
            "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(rec.id.as_str())
        .bind(&rec.name)
        .bind(plan.as_str())
        .bind(rec.created_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(rec)
    }

    async fn get_org(&self, id: &OrgId) -> Result<Option<OrgRecord>> {
        sqlx::query("SELECT id, name, plan, created_at FROM organizations WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn list_orgs(&self) -> Result<Vec<OrgRecord>> {
        sqlx::query("SELECT id, name, plan, created_at FROM organizations ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(org_from_row)
            .collect()
    }

    async fn set_plan(&self, id: &OrgId, plan: Plan) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE organizations SET plan = $1 WHERE id = $2")
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
        sqlx::query(
            "INSERT INTO users (id, org_id, email, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
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
        sqlx::query(
            "INSERT INTO audit_events (id, org_id, environment, type, actor, key_id, ip, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
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
        const FILTER: &str = "org_id = $1 AND environment = $2 AND ($3 IS NULL OR key_id = $3) \
            AND ($4 IS NULL OR type = $4) AND ($5 IS NULL OR created_at >= $5) \
            AND ($6 IS NULL OR created_at < $6)";
        let key_id = f.key_id.as_ref().map(|k| k.as_str().to_owned());
        let since = f.since.map(Timestamp::millis);
        let until = f.until.map(Timestamp::millis);
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_events WHERE {FILTER}"
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
            "SELECT id, type, actor, key_id, ip, environment, created_at FROM audit_events \
             WHERE {FILTER} ORDER BY created_at DESC, id DESC LIMIT $7 OFFSET $8"
        )))
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(&key_id)
        .bind(&f.kind)
        .bind(since)
        .bind(until)
        .bind(i64::from(page.limit))
        .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }
}

fn audit_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        kind: row.try_get("type")?,
        actor: row.try_get("actor")?,
        key_id: row.try_get("key_id")?,
        ip: row.try_get("ip")?,
        environment: row.try_get("environment")?,
        created_at: Timestamp(row.try_get("created_at")?),
    })
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
