//! Rows to records, written once for both backends.
//!
//! [`Cols`] is implemented for every sqlx row type whose database decodes text and integers,
//! so each mapper below serves `SqliteRow` and `PgRow` alike and the two backends cannot drift
//! apart in how they read a column. Also here: building a new lead and applying a patch, which
//! are the same whatever stores them.

use sqlx::{ColumnIndex, Decode, Row, Type};
use synaptiq_core::ids::{KeyId, LeadId, OrgId, UserId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_types::audit::AuditEvent;
use synaptiq_types::leads::{CreateLead, Lead, LeadSource, LeadStatus, UpdateLead};
use synaptiq_types::time::Timestamp;

use crate::model::{
    AuthRecord, KeyRecord, NewKey, OrgRecord, Role, SessionRecord, UsageCount, UserRecord,
};
use crate::traits::{Result, StoreError};

/// A stored value the store itself could not have written.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("corrupt stored value in {what}"))
}

/// The column reads the mappers need. Integer columns are BIGINT except `score` and
/// `pepper_version` (INTEGER), which PostgreSQL decodes only as `i32`.
pub(crate) trait Cols {
    /// A TEXT column.
    fn text(&self, col: &str) -> Result<String>;
    /// A nullable TEXT column.
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    /// A BIGINT column.
    fn int(&self, col: &str) -> Result<i64>;
    /// A nullable BIGINT column.
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    /// An INTEGER column.
    fn int4(&self, col: &str) -> Result<i32>;

    /// A nullable BIGINT timestamp column.
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>> {
        Ok(self.opt_int(col)?.map(Timestamp))
    }
}

impl<R> Cols for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get(col)?)
    }
    fn int4(&self, col: &str) -> Result<i32> {
        Ok(self.try_get(col)?)
    }
}

/// An organization ([`crate::sql::ORG_COLUMNS`]).
pub(crate) fn org_from_row(row: &impl Cols) -> Result<OrgRecord> {
    Ok(OrgRecord {
        id: OrgId::parse(&row.text("id")?).map_err(|_| corrupt("organizations.id"))?,
        name: row.text("name")?,
        plan: Plan::parse(&row.text("plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("created_at")?),
    })
}

fn opt_key_id(v: Option<String>) -> Result<Option<KeyId>> {
    v.map(|s| KeyId::parse(&s).map_err(|_| corrupt("api_keys.rotated_*")))
        .transpose()
}

/// A key ([`crate::sql::KEY_COLUMNS`]).
pub(crate) fn key_from_row(row: &impl Cols) -> Result<KeyRecord> {
    let ips = row.text("allowed_ips")?;
    Ok(KeyRecord {
        id: KeyId::parse(&row.text("id")?).map_err(|_| corrupt("api_keys.id"))?,
        org_id: OrgId::parse(&row.text("org_id")?).map_err(|_| corrupt("api_keys.org_id"))?,
        environment: Environment::parse(&row.text("environment")?)
            .ok_or_else(|| corrupt("api_keys.environment"))?,
        name: row.text("name")?,
        scope: Scope::parse(&row.text("scope")?).ok_or_else(|| corrupt("api_keys.scope"))?,
        hint: row.text("hint")?,
        allowed_ips: serde_json::from_str(&ips).map_err(|_| corrupt("api_keys.allowed_ips"))?,
        created_at: Timestamp(row.int("created_at")?),
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        exposed_at: row.opt_time("exposed_at")?,
        rotated_from: opt_key_id(row.opt_text("rotated_from")?)?,
        rotated_to: opt_key_id(row.opt_text("rotated_to")?)?,
        last_used_at: row.opt_time("last_used_at")?,
        last_used_ip: row.opt_text("last_used_ip")?,
        last_used_user_agent: row.opt_text("last_used_user_agent")?,
    })
}

/// A key and its organization ([`crate::sql::find_by_hash_sql`]).
pub(crate) fn auth_from_row(row: &impl Cols) -> Result<AuthRecord> {
    let key = key_from_row(row)?;
    let org = OrgRecord {
        id: key.org_id.clone(),
        name: row.text("org_name")?,
        plan: Plan::parse(&row.text("org_plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("org_created_at")?),
    };
    Ok(AuthRecord { key, org })
}

/// A user ([`crate::sql::USER_COLUMNS`], prefixed `u_`).
pub(crate) fn user_from_row(row: &impl Cols) -> Result<UserRecord> {
    Ok(UserRecord {
        id: UserId::parse(&row.text("u_id")?).map_err(|_| corrupt("users.id"))?,
        org_id: OrgId::parse(&row.text("u_org_id")?).map_err(|_| corrupt("users.org_id"))?,
        email: row.text("u_email")?,
        role: Role::parse(&row.text("u_role")?).ok_or_else(|| corrupt("users.role"))?,
        password_hash: row.text("u_password_hash")?,
        created_at: Timestamp(row.int("u_created_at")?),
    })
}

/// A session with its user and organization ([`crate::sql::find_session_sql`]).
pub(crate) fn session_from_row(row: &impl Cols) -> Result<SessionRecord> {
    let user = user_from_row(row)?;
    let org = OrgRecord {
        id: user.org_id.clone(),
        name: row.text("org_name")?,
        plan: Plan::parse(&row.text("org_plan")?).ok_or_else(|| corrupt("organizations.plan"))?,
        created_at: Timestamp(row.int("org_created_at")?),
    };
    Ok(SessionRecord {
        user,
        org,
        created_at: Timestamp(row.int("s_created_at")?),
        expires_at: Timestamp(row.int("s_expires_at")?),
    })
}

/// An hourly counter ([`crate::sql::USAGE_COUNTS`]).
pub(crate) fn usage_from_row(row: &impl Cols) -> Result<UsageCount> {
    let n = |col: &str| -> Result<u64> {
        u64::try_from(row.int(col)?).map_err(|_| corrupt("key_usage_hourly counters"))
    };
    Ok(UsageCount {
        key_id: KeyId::parse(&row.text("key_id")?)
            .map_err(|_| corrupt("key_usage_hourly.key_id"))?,
        org_id: OrgId::parse(&row.text("org_id")?)
            .map_err(|_| corrupt("key_usage_hourly.org_id"))?,
        environment: Environment::parse(&row.text("environment")?)
            .ok_or_else(|| corrupt("key_usage_hourly.environment"))?,
        hour: Timestamp(row.int("hour")?),
        ok: n("ok")?,
        client_error: n("client_error")?,
        rate_limited: n("rate_limited")?,
        server_error: n("server_error")?,
    })
}

/// A lead ([`crate::sql::LEAD_COLUMNS`]).
pub(crate) fn lead_from_row(row: &impl Cols) -> Result<Lead> {
    let tags = row.text("tags")?;
    let custom = row.text("custom_fields")?;
    Ok(Lead {
        id: row.text("id")?,
        email: row.text("email")?,
        name: row.opt_text("name")?,
        company: row.opt_text("company")?,
        title: row.opt_text("title")?,
        phone: row.opt_text("phone")?,
        status: LeadStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("leads.status"))?,
        score: u8::try_from(row.int4("score")?).map_err(|_| corrupt("leads.score"))?,
        source: LeadSource::parse(&row.text("source")?).ok_or_else(|| corrupt("leads.source"))?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("leads.tags"))?,
        custom_fields: serde_json::from_str(&custom).map_err(|_| corrupt("leads.custom_fields"))?,
        first_seen_at: Timestamp(row.int("first_seen_at")?),
        last_active_at: Timestamp(row.int("last_active_at")?),
        created_at: Timestamp(row.int("created_at")?),
        updated_at: Timestamp(row.int("updated_at")?),
    })
}

/// An audit event ([`crate::sql::AUDIT_COLUMNS`]).
pub(crate) fn audit_from_row(row: &impl Cols) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.text("id")?,
        kind: row.text("type")?,
        actor: row.text("actor")?,
        key_id: row.opt_text("key_id")?,
        ip: row.opt_text("ip")?,
        environment: row.text("environment")?,
        created_at: Timestamp(row.int("created_at")?),
    })
}

/// The lead `create_lead` stores for `new` at `now`.
pub(crate) fn new_lead(new: &CreateLead, now: Timestamp) -> Lead {
    Lead {
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
    }
}

/// Applies `patch` to `lead`: present fields change, `Some(None)` clears an optional text
/// field, and `updated_at` never moves backwards.
pub(crate) fn apply_patch(lead: &mut Lead, patch: &UpdateLead, now: Timestamp) {
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
    lead.updated_at = now.max(lead.updated_at);
}

/// The record of a key just inserted, as the database would return it.
pub(crate) fn inserted(id: KeyId, key: NewKey, now: Timestamp) -> KeyRecord {
    KeyRecord {
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
    }
}
