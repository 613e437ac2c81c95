//! API keys on SQLite.

use async_trait::async_trait;
// Dynamic SQL below is assembled only from constants and closed enums; values are bound.
use sqlx::{AssertSqlSafe, Row};
use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use super::{SqliteStore, bump_epoch, conflict_or, corrupt};
use crate::model::{AuthRecord, KeyRecord, NewKey, OrgRecord, RotateOutcome, UsageFact};
use crate::traits::{KeyStore, Result};
use synaptiq_core::scope::KeyStatus;

const KEY_COLUMNS: &str = "k.id, k.org_id, k.environment, k.name, k.scope, k.hint, k.allowed_ips, \
    k.created_at, k.expires_at, k.revoked_at, k.exposed_at, k.rotated_from, k.rotated_to, \
    k.last_used_at, k.last_used_ip, k.last_used_user_agent";

/// The same columns unqualified, for `RETURNING` (which cannot name a table alias).
const KEY_COLUMNS_BARE: &str = "id, org_id, environment, name, scope, hint, allowed_ips, \
    created_at, expires_at, revoked_at, exposed_at, rotated_from, rotated_to, \
    last_used_at, last_used_ip, last_used_user_agent";

fn opt_key_id(v: Option<String>) -> Result<Option<KeyId>> {
    v.map(|s| KeyId::parse(&s).map_err(|_| corrupt("api_keys.rotated_*")))
        .transpose()
}

fn key_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<KeyRecord> {
    let ips: String = row.try_get("allowed_ips")?;
    Ok(KeyRecord {
        id: KeyId::parse(row.try_get("id")?).map_err(|_| corrupt("api_keys.id"))?,
        org_id: OrgId::parse(row.try_get("org_id")?).map_err(|_| corrupt("api_keys.org_id"))?,
        environment: Environment::parse(row.try_get("environment")?)
            .ok_or_else(|| corrupt("api_keys.environment"))?,
        name: row.try_get("name")?,
        scope: Scope::parse(row.try_get("scope")?).ok_or_else(|| corrupt("api_keys.scope"))?,
        hint: row.try_get("hint")?,
        allowed_ips: serde_json::from_str(&ips).map_err(|_| corrupt("api_keys.allowed_ips"))?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(Timestamp),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
        exposed_at: row.try_get::<Option<i64>, _>("exposed_at")?.map(Timestamp),
        rotated_from: opt_key_id(row.try_get("rotated_from")?)?,
        rotated_to: opt_key_id(row.try_get("rotated_to")?)?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp),
        last_used_ip: row.try_get("last_used_ip")?,
        last_used_user_agent: row.try_get("last_used_user_agent")?,
    })
}

async fn insert_key_in(
    conn: &mut sqlx::SqliteConnection,
    key: NewKey,
    now: Timestamp,
) -> Result<KeyRecord> {
    let id = KeyId::generate();
    let ips = serde_json::to_string(&key.allowed_ips).map_err(|_| corrupt("allowed_ips"))?;
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, environment, name, scope, key_hash, pepper_version, \
         hint, allowed_ips, created_at, expires_at, rotated_from) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
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
    Ok(KeyRecord {
        id,
        org_id: key.org_id,
        environment: key.environment,
        name: key.name,
        scope: key.scope,
        hint: key.hint,
        allowed_ips: key.allowed_ips,
        created_at: now,
        expires_at: key.expires_at,
        revoked_at: None,
        exposed_at: None,
        rotated_from: key.rotated_from,
        rotated_to: None,
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
    })
}

impl SqliteStore {
    async fn fetch_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
    ) -> Result<Option<KeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.environment = $2 AND k.id = $3 \
             AND k.deleted_at IS NULL"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(env.as_str())
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: NewKey) -> Result<KeyRecord> {
        let mut conn = self.pool().acquire().await?;
        insert_key_in(&mut conn, key, Timestamp::now()).await
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<AuthRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at \
             FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1"
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(&hash.0[..])
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let key = key_from_row(&row)?;
        let org = OrgRecord {
            id: key.org_id.clone(),
            name: row.try_get("org_name")?,
            plan: Plan::parse(row.try_get("org_plan")?)
                .ok_or_else(|| corrupt("organizations.plan"))?,
            created_at: Timestamp(row.try_get("org_created_at")?),
        };
        Ok(Some(AuthRecord { key, org }))
    }

    async fn get_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
    ) -> Result<Option<KeyRecord>> {
        self.fetch_key(org, env, id).await
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
        // Status is derived from stored facts at `now` ($3); the condition comes from a closed enum.
        let cond = match status {
            None => "TRUE",
            Some(KeyStatus::Revoked) => "k.revoked_at IS NOT NULL",
            Some(KeyStatus::Expired) => {
                "k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= $3"
            }
            Some(KeyStatus::Rotating) => {
                "k.revoked_at IS NULL AND k.rotated_to IS NOT NULL AND (k.expires_at IS NULL OR k.expires_at > $3)"
            }
            Some(KeyStatus::Active) => {
                "k.revoked_at IS NULL AND k.rotated_to IS NULL AND (k.expires_at IS NULL OR k.expires_at > $3)"
            }
        };
        let filter = format!(
            "k.org_id = $1 AND ($2 IS NULL OR k.environment = $2) AND k.deleted_at IS NULL \
             AND ($3 = $3) AND {cond}"
        );
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM api_keys k WHERE {filter}"
        )))
        .bind(org.as_str())
        .bind(env)
        .bind(now.millis())
        .fetch_one(self.pool())
        .await?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE {filter} \
             ORDER BY k.created_at DESC, k.id DESC LIMIT $4 OFFSET $5"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(env)
            .bind(now.millis())
            .bind(i64::from(page.limit))
            .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        let keys = rows.iter().map(key_from_row).collect::<Result<Vec<_>>>()?;
        Ok((keys, u64::try_from(total).unwrap_or(0)))
    }

    async fn revoke_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        now: Timestamp,
    ) -> Result<Option<KeyRecord>> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL",
        )
        .bind(now.millis())
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        bump_epoch(&mut tx).await?;
        tx.commit().await?;
        self.fetch_key(org, env, id).await
    }

    async fn rotate_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        replacement: NewKey,
        deadline: Timestamp,
        now: Timestamp,
    ) -> Result<RotateOutcome> {
        let Some(old) = self.fetch_key(org, env, id).await? else {
            return Ok(RotateOutcome::NotFound);
        };
        let status = old.status(now);
        if !status.usable() {
            return Ok(RotateOutcome::NotUsable(status));
        }
        let mut tx = self.pool().begin().await?;
        let new = insert_key_in(&mut tx, replacement, now).await?;
        // The WHERE clause re-checks usability inside the transaction, so two racing rotations
        // or a concurrent revocation cannot both win.
        let changed = sqlx::query(
            "UPDATE api_keys SET rotated_to = $1, \
               expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2 THEN expires_at ELSE $2 END \
             WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL \
               AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $6)",
        )
        .bind(new.id.as_str())
        .bind(deadline.millis())
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(id.as_str())
        .bind(now.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            let status = self
                .fetch_key(org, env, id)
                .await?
                .map_or(KeyStatus::Revoked, |k| k.status(now));
            return Ok(RotateOutcome::NotUsable(status));
        }
        bump_epoch(&mut tx).await?;
        tx.commit().await?;
        let old = self
            .fetch_key(org, env, id)
            .await?
            .ok_or_else(|| corrupt("rotated key vanished"))?;
        Ok(RotateOutcome::Rotated { old: Box::new(old), new: Box::new(new) })
    }

    async fn update_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        name: Option<&str>,
        allowed_ips: Option<&[String]>,
    ) -> Result<Option<KeyRecord>> {
        let ips = allowed_ips
            .map(serde_json::to_string)
            .transpose()
            .map_err(|_| corrupt("allowed_ips"))?;
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET name = COALESCE($1, name), allowed_ips = COALESCE($2, allowed_ips) \
             WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL",
        )
        .bind(name)
        .bind(ips)
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        bump_epoch(&mut tx).await?;
        tx.commit().await?;
        self.fetch_key(org, env, id).await
    }

    async fn delete_key(
        &self,
        org: &OrgId,
        env: Environment,
        id: &KeyId,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE api_keys SET deleted_at = $1, revoked_at = COALESCE(revoked_at, $1) \
             WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL",
        )
        .bind(now.millis())
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        bump_epoch(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sweep_expired(&self, now: Timestamp) -> Result<Vec<KeyRecord>> {
        let sql = format!(
            "UPDATE api_keys SET expiry_recorded_at = $1 \
             WHERE expiry_recorded_at IS NULL AND expires_at IS NOT NULL AND expires_at <= $1 \
               AND revoked_at IS NULL \
             RETURNING {KEY_COLUMNS_BARE}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now.millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn record_usage(&self, batch: &[UsageFact]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for fact in batch {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_user_agent = $3 \
                 WHERE id = $4 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(fact.at.millis())
            .bind(&fact.ip)
            .bind(fact.user_agent.as_deref())
            .bind(fact.key_id.as_str())
            .execute(&mut *tx)
            .await?;
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
                Environment::parse(&e).ok_or_else(|| corrupt("api_keys.environment"))?,
            ))
        })
        .transpose()
    }

    async fn mark_exposed(&self, hash: &KeyHash, now: Timestamp) -> Result<Option<KeyRecord>> {
        let sql = format!(
            "UPDATE api_keys SET exposed_at = COALESCE(exposed_at, $1) WHERE key_hash = $2 \
             RETURNING {KEY_COLUMNS_BARE}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(now.millis())
            .bind(&hash.0[..])
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }

    async fn change_epoch(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT epoch FROM change_epoch WHERE id = 1")
                .fetch_one(self.pool())
                .await?,
        )
    }
}
