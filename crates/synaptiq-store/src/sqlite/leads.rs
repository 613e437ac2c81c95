//! Leads on SQLite.

use async_trait::async_trait;
// Dynamic SQL below is assembled only from constants and closed enums; values are bound.
use sqlx::{AssertSqlSafe, Row};
use synaptiq_core::ids::{LeadId, OrgId};
use synaptiq_core::scope::Environment;
use synaptiq_types::leads::{
    CreateLead, Lead, LeadListQuery, LeadSortBy, LeadSource, LeadStatus, SortOrder, UpdateLead,
};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use super::{SqliteStore, conflict_or, corrupt};
use crate::traits::{LeadStore, Result, StoreError};

const LEAD_COLUMNS: &str = "id, email, name, company, title, phone, status, score, source, tags, \
    custom_fields, first_seen_at, last_active_at, created_at, updated_at";

fn lead_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Lead> {
    let tags: String = row.try_get("tags")?;
    let custom: String = row.try_get("custom_fields")?;
    let score: i64 = row.try_get("score")?;
    Ok(Lead {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        company: row.try_get("company")?,
        title: row.try_get("title")?,
        phone: row.try_get("phone")?,
        status: LeadStatus::parse(row.try_get("status")?).ok_or_else(|| corrupt("leads.status"))?,
        score: u8::try_from(score).map_err(|_| corrupt("leads.score"))?,
        source: LeadSource::parse(row.try_get("source")?).ok_or_else(|| corrupt("leads.source"))?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("leads.tags"))?,
        custom_fields: serde_json::from_str(&custom).map_err(|_| corrupt("leads.custom_fields"))?,
        first_seen_at: Timestamp(row.try_get("first_seen_at")?),
        last_active_at: Timestamp(row.try_get("last_active_at")?),
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl SqliteStore {
    async fn existing_lead_id(
        &self,
        org: &OrgId,
        env: Environment,
        email_norm: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM leads WHERE org_id = $1 AND environment = $2 AND email_norm = $3",
        )
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(email_norm)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn email_conflict(
        &self,
        e: sqlx::Error,
        org: &OrgId,
        env: Environment,
        email: &str,
    ) -> StoreError {
        match conflict_or(e, "email") {
            StoreError::Conflict { param, .. } => StoreError::Conflict {
                param,
                existing_id: self
                    .existing_lead_id(org, env, &email.to_lowercase())
                    .await
                    .ok()
                    .flatten(),
            },
            other => other,
        }
    }
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn create_lead(&self, org: &OrgId, env: Environment, new: &CreateLead) -> Result<Lead> {
        let now = Timestamp::now();
        let lead = Lead {
            id: LeadId::generate().to_string(),
            email: new.email.clone(),
            name: new.name.clone(),
            company: new.company.clone(),
            title: new.title.clone(),
            phone: new.phone.clone(),
            status: new.status.unwrap_or(LeadStatus::New),
            score: new.score.unwrap_or(0),
            source: LeadSource::Api,
            tags: new.tags.clone().unwrap_or_default(),
            custom_fields: new.custom_fields.clone().unwrap_or_default(),
            first_seen_at: now,
            last_active_at: now,
            created_at: now,
            updated_at: now,
        };
        let res = sqlx::query(
            "INSERT INTO leads (id, org_id, environment, email, email_norm, name, company, title, \
             phone, status, score, source, tags, custom_fields, first_seen_at, last_active_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&lead.id)
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(&lead.email)
        .bind(lead.email.to_lowercase())
        .bind(&lead.name)
        .bind(&lead.company)
        .bind(&lead.title)
        .bind(&lead.phone)
        .bind(lead.status.as_str())
        .bind(i64::from(lead.score))
        .bind(lead.source.as_str())
        .bind(json(&lead.tags)?)
        .bind(json(&lead.custom_fields)?)
        .bind(now.millis())
        .bind(now.millis())
        .bind(now.millis())
        .bind(now.millis())
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(lead),
            Err(e) => Err(self.email_conflict(e, org, env, &new.email).await),
        }
    }

    async fn get_lead(&self, org: &OrgId, env: Environment, id: &LeadId) -> Result<Option<Lead>> {
        let sql = format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE org_id = $1 AND environment = $2 AND id = $3"
        );
        sqlx::query(AssertSqlSafe(sql))
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
    ) -> Result<(Vec<Lead>, u64)> {
        const FILTER: &str = "org_id = $1 AND environment = $2 AND ($3 IS NULL OR status = $3) \
            AND ($4 IS NULL OR source = $4) AND ($5 IS NULL OR created_at >= $5) \
            AND ($6 IS NULL OR created_at < $6)";
        let status = q.status.map(LeadStatus::as_str);
        let source = q.source.map(LeadSource::as_str);
        let after = q.created_after.map(Timestamp::millis);
        let before = q.created_before.map(Timestamp::millis);
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM leads WHERE {FILTER}"
        )))
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(status)
        .bind(source)
        .bind(after)
        .bind(before)
        .fetch_one(self.pool())
        .await?;
        // Column and direction come from closed enums, never from the request text.
        let column = match q.sort_by.unwrap_or(LeadSortBy::CreatedAt) {
            LeadSortBy::CreatedAt => "created_at",
            LeadSortBy::UpdatedAt => "updated_at",
            LeadSortBy::Score => "score",
        };
        let dir = match q.sort_order.unwrap_or(SortOrder::Desc) {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        };
        let sql = format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE {FILTER} ORDER BY {column} {dir}, id {dir} \
             LIMIT $7 OFFSET $8"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(env.as_str())
            .bind(status)
            .bind(source)
            .bind(after)
            .bind(before)
            .bind(i64::from(page.limit))
            .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        let leads = rows.iter().map(lead_from_row).collect::<Result<Vec<_>>>()?;
        Ok((leads, u64::try_from(total).unwrap_or(0)))
    }

    async fn search_leads(
        &self,
        org: &OrgId,
        env: Environment,
        q: &str,
        page: PageRequest,
    ) -> Result<(Vec<Lead>, u64)> {
        const MATCH: &str = "org_id = $1 AND environment = $2 AND (lower(COALESCE(name, '')) LIKE $3 ESCAPE '\\' \
            OR email_norm LIKE $3 ESCAPE '\\' OR lower(COALESCE(company, '')) LIKE $3 ESCAPE '\\')";
        let needle = q.to_lowercase();
        let contains = format!("%{}%", like_escape(&needle));
        let prefix = format!("{}%", like_escape(&needle));
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM leads WHERE {MATCH}"
        )))
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(&contains)
        .fetch_one(self.pool())
        .await?;
        let sql = format!(
            "SELECT {LEAD_COLUMNS}, CASE \
                WHEN email_norm = $4 THEN 3 \
                WHEN lower(COALESCE(name, '')) LIKE $5 ESCAPE '\\' OR email_norm LIKE $5 ESCAPE '\\' \
                  OR lower(COALESCE(company, '')) LIKE $5 ESCAPE '\\' THEN 2 \
                ELSE 1 END AS rank \
             FROM leads WHERE {MATCH} ORDER BY rank DESC, created_at DESC, id DESC LIMIT $6 OFFSET $7"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(env.as_str())
            .bind(&contains)
            .bind(&needle)
            .bind(&prefix)
            .bind(i64::from(page.limit))
            .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        let leads = rows.iter().map(lead_from_row).collect::<Result<Vec<_>>>()?;
        Ok((leads, u64::try_from(total).unwrap_or(0)))
    }

    async fn update_lead(
        &self,
        org: &OrgId,
        env: Environment,
        id: &LeadId,
        patch: &UpdateLead,
    ) -> Result<Option<Lead>> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE org_id = $1 AND environment = $2 AND id = $3"
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(org.as_str())
            .bind(env.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let mut lead = lead_from_row(&row)?;
        if let Some(e) = &patch.email {
            lead.email.clone_from(e);
        }
        for (field, value) in [
            (&mut lead.name, &patch.name),
            (&mut lead.company, &patch.company),
            (&mut lead.title, &patch.title),
            (&mut lead.phone, &patch.phone),
        ] {
            if let Some(v) = value {
                field.clone_from(v);
            }
        }
        if let Some(t) = &patch.tags {
            lead.tags.clone_from(t);
        }
        if let Some(c) = &patch.custom_fields {
            lead.custom_fields.clone_from(c);
        }
        lead.status = patch.status.unwrap_or(lead.status);
        lead.score = patch.score.unwrap_or(lead.score);
        lead.updated_at = Timestamp::now().max(lead.updated_at);
        let res = sqlx::query(
            "UPDATE leads SET email = $1, email_norm = $2, name = $3, company = $4, title = $5, \
             phone = $6, status = $7, score = $8, tags = $9, custom_fields = $10, updated_at = $11 \
             WHERE org_id = $12 AND environment = $13 AND id = $14",
        )
        .bind(&lead.email)
        .bind(lead.email.to_lowercase())
        .bind(&lead.name)
        .bind(&lead.company)
        .bind(&lead.title)
        .bind(&lead.phone)
        .bind(lead.status.as_str())
        .bind(i64::from(lead.score))
        .bind(json(&lead.tags)?)
        .bind(json(&lead.custom_fields)?)
        .bind(lead.updated_at.millis())
        .bind(org.as_str())
        .bind(env.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await;
        if let Err(e) = res {
            drop(tx);
            return Err(self.email_conflict(e, org, env, &lead.email).await);
        }
        tx.commit().await?;
        Ok(Some(lead))
    }

    async fn delete_lead(&self, org: &OrgId, env: Environment, id: &LeadId) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM leads WHERE org_id = $1 AND environment = $2 AND id = $3")
                .bind(org.as_str())
                .bind(env.as_str())
                .bind(id.as_str())
                .execute(self.pool())
                .await?
                .rows_affected()
                == 1,
        )
    }
}
