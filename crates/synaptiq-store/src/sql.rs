//! SQL text both backends run verbatim, and the small helpers around it.
//!
//! Each backend binds the same `$n` parameters in the same order, so a filter, a status rule
//! or a ranking written here behaves identically on SQLite and PostgreSQL. A backend writes its
//! own SQL only where the engines differ (row locks, `SKIP LOCKED`), and says why there.

use synaptiq_core::event::EventKind;
use synaptiq_core::scope::KeyStatus;
use synaptiq_types::leads::{LeadListQuery, LeadSortBy, SortOrder};
use synaptiq_types::pagination::PageRequest;

use crate::traits::{Result, StoreError};

/// Organization columns.
pub(crate) const ORG_COLUMNS: &str = "id, name, plan, created_at";

/// Key columns, qualified with the alias `k`.
pub(crate) const KEY_COLUMNS: &str = "k.id, k.org_id, k.environment, k.name, k.scope, k.hint, \
    k.allowed_ips, k.created_at, k.expires_at, k.revoked_at, k.exposed_at, k.rotated_from, \
    k.rotated_to, k.last_used_at, k.last_used_ip, k.last_used_user_agent";

/// The same columns unqualified, for `RETURNING` (which cannot name a table alias).
pub(crate) const KEY_COLUMNS_BARE: &str = "id, org_id, environment, name, scope, hint, \
    allowed_ips, created_at, expires_at, revoked_at, exposed_at, rotated_from, rotated_to, \
    last_used_at, last_used_ip, last_used_user_agent";

/// Lead columns.
pub(crate) const LEAD_COLUMNS: &str = "id, email, name, company, title, phone, status, score, \
    source, tags, custom_fields, first_seen_at, last_active_at, created_at, updated_at";

/// Audit event columns.
pub(crate) const AUDIT_COLUMNS: &str = "id, type, actor, key_id, ip, environment, created_at";

/// `find_by_hash`: a key and its organization in one round trip (`$1` = hash).
pub(crate) fn find_by_hash_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS}, o.name AS org_name, o.plan AS org_plan, \
         o.created_at AS org_created_at \
         FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1"
    )
}

/// One live (not deleted) key: `$1` org, `$2` environment, `$3` id.
pub(crate) fn fetch_key_sql() -> String {
    format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.environment = $2 \
         AND k.id = $3 AND k.deleted_at IS NULL"
    )
}

/// The `list_keys` filter: `$1` org, `$2` environment or NULL, `$3` now. Status is derived
/// from stored facts at `now` exactly as [`KeyStatus::derive`] does; the condition comes from a
/// closed enum. `$3 = $3` keeps the parameter referenced (and typed) when no status needs it.
pub(crate) fn key_list_filter(status: Option<KeyStatus>) -> String {
    let cond = match status {
        None => "TRUE",
        Some(KeyStatus::Revoked) => "k.revoked_at IS NOT NULL",
        Some(KeyStatus::Expired) => {
            "k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= $3"
        }
        Some(KeyStatus::Rotating) => {
            "k.revoked_at IS NULL AND k.rotated_to IS NOT NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3)"
        }
        Some(KeyStatus::Active) => {
            "k.revoked_at IS NULL AND k.rotated_to IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > $3)"
        }
    };
    format!(
        "k.org_id = $1 AND ($2 IS NULL OR k.environment = $2) AND k.deleted_at IS NULL \
         AND ($3 = $3) AND {cond}"
    )
}

/// `revoke_key`: `$1` now, `$2` org, `$3` environment, `$4` id. A revoked key keeps its first
/// revocation time.
pub(crate) fn revoke_sql() -> String {
    format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
         WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// The rotation's update of the old key: `$1` new id, `$2` deadline, `$3` org, `$4`
/// environment, `$5` id, `$6` now. The WHERE clause re-checks usability inside the
/// transaction, so a concurrent revocation or expiry wins over a stale read; an earlier expiry
/// is never extended.
pub(crate) fn rotate_old_sql() -> String {
    format!(
        "UPDATE api_keys SET rotated_to = $1, \
           expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2 \
                             THEN expires_at ELSE $2 END \
         WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL \
           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $6) \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// `update_key`: `$1` name or NULL, `$2` allow-list JSON or NULL, `$3` org, `$4` environment,
/// `$5` id.
pub(crate) fn update_key_sql() -> String {
    format!(
        "UPDATE api_keys SET name = COALESCE($1, name), allowed_ips = COALESCE($2, allowed_ips) \
         WHERE org_id = $3 AND environment = $4 AND id = $5 AND deleted_at IS NULL \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// `INSERT` of a new key: `$1` id … `$12` rotated from.
pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys (id, org_id, environment, name, \
    scope, key_hash, pepper_version, hint, allowed_ips, created_at, expires_at, rotated_from) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// `delete_key`: `$1` now, `$2` org, `$3` environment, `$4` id. Soft: the row stays, revoked.
pub(crate) const DELETE_KEY: &str = "UPDATE api_keys SET deleted_at = $1, \
    revoked_at = COALESCE(revoked_at, $1) \
    WHERE org_id = $2 AND environment = $3 AND id = $4 AND deleted_at IS NULL";

/// What the expiry sweep looks for (`$1` = now).
pub(crate) const SWEEP_DUE: &str = "expiry_recorded_at IS NULL AND expires_at IS NOT NULL \
    AND expires_at <= $1 AND revoked_at IS NULL";

/// `mark_exposed`: `$1` now, `$2` hash. Only the first exposure is kept.
pub(crate) fn mark_exposed_sql() -> String {
    format!(
        "UPDATE api_keys SET exposed_at = COALESCE(exposed_at, $1) WHERE key_hash = $2 \
         RETURNING {KEY_COLUMNS_BARE}"
    )
}

/// Bumps the change epoch; run inside the transaction of the change it announces.
pub(crate) const BUMP_EPOCH: &str = "UPDATE change_epoch SET epoch = epoch + 1 WHERE id = 1";

/// The audit filter: `$1` org, `$2` environment, `$3` key id, `$4` type, `$5` since, `$6`
/// until (each optional one NULL when absent). Only the kinds the audit log shows
/// ([`EventKind::audited`]): the events table also holds customer-data events.
pub(crate) fn audit_filter_sql() -> String {
    let kinds: Vec<String> = EventKind::audited_kinds()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    format!(
        "org_id = $1 AND environment = $2 AND type IN ({}) \
         AND ($3 IS NULL OR key_id = $3) AND ($4 IS NULL OR type = $4) \
         AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6)",
        kinds.join(", ")
    )
}

/// A value bound to a statement built at run time ([`Built`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg<'a> {
    /// A text value.
    Text(&'a str),
    /// An integer value (timestamps in milliseconds, limits, offsets).
    Int(i64),
}

/// A statement assembled at run time from constant pieces only, with its arguments in
/// placeholder order: `$n` is `args[n - 1]`. Values are always bound, never written into the
/// text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Built<'a> {
    /// The SQL text.
    pub(crate) sql: String,
    /// The values for `$1`, `$2`, … in order.
    pub(crate) args: Vec<Arg<'a>>,
}

impl<'a> Built<'a> {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends a constant piece of SQL.
    fn push(&mut self, piece: &str) -> &mut Self {
        self.sql.push_str(piece);
        self
    }

    /// Appends the next placeholder, bound to `arg`.
    fn bind(&mut self, arg: Arg<'a>) -> &mut Self {
        let n = self.param(arg);
        self.placeholder(n)
    }

    /// Adds the next parameter, bound to `arg`, without writing it; its number, for
    /// [`Self::placeholder`] (a value tested more than once is bound once).
    fn param(&mut self, arg: Arg<'a>) -> usize {
        self.args.push(arg);
        self.args.len()
    }

    /// Appends the placeholder of parameter `n`.
    fn placeholder(&mut self, n: usize) -> &mut Self {
        self.sql.push('$');
        self.sql.push_str(&n.to_string());
        self
    }
}

/// Appends the lead list filter: organization and environment, then only the optional
/// conditions `q` has, so each statement's plan can use an index range (a `($n IS NULL OR …)`
/// form cannot).
fn push_lead_filter<'a>(b: &mut Built<'a>, org: &'a str, env: &'a str, q: &LeadListQuery) {
    b.push("org_id = ").bind(Arg::Text(org));
    b.push(" AND environment = ").bind(Arg::Text(env));
    if let Some(status) = q.status {
        b.push(" AND status = ").bind(Arg::Text(status.as_str()));
    }
    if let Some(source) = q.source {
        b.push(" AND source = ").bind(Arg::Text(source.as_str()));
    }
    if let Some(after) = q.created_after {
        b.push(" AND created_at >= ").bind(Arg::Int(after.millis()));
    }
    if let Some(before) = q.created_before {
        b.push(" AND created_at < ").bind(Arg::Int(before.millis()));
    }
}

/// The total of a lead list. Without a date filter, a sum over the maintained counters
/// (`lead_counts`, kept exact by triggers; at most 20 rows per organization and
/// environment); with one, a count of the leads, over the `leads_by_created` range.
pub(crate) fn lead_count_sql<'a>(org: &'a str, env: &'a str, q: &LeadListQuery) -> Built<'a> {
    let mut b = if q.created_after.is_none() && q.created_before.is_none() {
        Built::new("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM lead_counts WHERE ")
    } else {
        Built::new("SELECT COUNT(*) FROM leads WHERE ")
    };
    push_lead_filter(&mut b, org, env, q);
    b
}

/// A page of a lead list, as a deferred join: the page's ids are chosen from an index that
/// holds the sort column and the id (no row is read for the rows skipped by the offset), then
/// only those rows are fetched, in the same order.
pub(crate) fn lead_page_sql<'a>(
    org: &'a str,
    env: &'a str,
    q: &LeadListQuery,
    page: PageRequest,
) -> Built<'a> {
    let order = lead_order(q);
    let (limit, offset) = limit_offset(page);
    let mut b = Built::new("SELECT ");
    b.push(LEAD_COLUMNS)
        .push(" FROM leads WHERE id IN (SELECT id FROM leads WHERE ");
    push_lead_filter(&mut b, org, env, q);
    b.push(" ORDER BY ")
        .push(&order)
        .push(" LIMIT ")
        .bind(Arg::Int(limit))
        .push(" OFFSET ")
        .bind(Arg::Int(offset))
        .push(") ORDER BY ")
        .push(&order);
    b
}

/// `ORDER BY` of a lead list. Column and direction come from closed enums, never from the
/// request text; the id breaks ties in the same direction.
pub(crate) fn lead_order(q: &LeadListQuery) -> String {
    let column = match q.sort_by.unwrap_or(LeadSortBy::CreatedAt) {
        LeadSortBy::CreatedAt => "created_at",
        LeadSortBy::UpdatedAt => "updated_at",
        LeadSortBy::Score => "score",
    };
    let dir = match q.sort_order.unwrap_or(SortOrder::Desc) {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    format!("{column} {dir}, id {dir}")
}

/// How a backend finds the candidates of a search for [`TRIGRAM_MIN`] or more characters.
/// Either way the `LIKE` conditions decide, so every backend and every needle length finds,
/// ranks and counts the same leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchIndex {
    /// The `LIKE` conditions use trigram indexes themselves (PostgreSQL: `pg_trgm` GIN indexes
    /// on the very expressions the search tests); the statement does not change.
    Like,
    /// Candidates come from the FTS5 trigram table `leads_search` (SQLite), which holds the
    /// name, normalized email and company of every lead, case-folded.
    Fts5,
}

/// The shortest needle, in characters, a trigram index can serve; shorter ones scan.
pub(crate) const TRIGRAM_MIN: usize = 3;

/// The parameters of a search for one `q`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchPatterns {
    /// `q` lower-cased (an exact email match ranks first).
    needle: String,
    /// `%needle%`, escaped for `LIKE … ESCAPE '\'`: what matches.
    contains: String,
    /// `needle%`, escaped: what ranks as a prefix match.
    prefix: String,
    /// The FTS5 query narrowing the candidates: the needle as one phrase (a substring, with
    /// the trigram tokenizer), or `None` to test the `LIKE` conditions alone.
    fts: Option<String>,
}

/// The search parameters for `q` on a backend using `index`.
pub(crate) fn search_patterns(q: &str, index: SearchIndex) -> SearchPatterns {
    let needle = q.to_lowercase();
    let escaped = like_escape(&needle);
    // In an FTS5 string every character is literal but `"`, which is doubled. The trigram
    // tokenizer folds case per character, as `LIKE` compares (for SQLite, ASCII only), so
    // every lead `LIKE` matches is among the candidates.
    let fts = (index == SearchIndex::Fts5 && needle.chars().count() >= TRIGRAM_MIN)
        .then(|| format!("\"{}\"", needle.replace('"', "\"\"")));
    SearchPatterns {
        contains: format!("%{escaped}%"),
        prefix: format!("{escaped}%"),
        needle,
        fts,
    }
}

/// Appends which leads a search finds: organization, environment, the trigram candidates if
/// any, and the needle in the lower-cased name, the normalized email or the lower-cased
/// company (`lower(…) LIKE` because PostgreSQL's LIKE is case-sensitive; SQLite's is not,
/// for ASCII).
fn push_search_match<'a>(b: &mut Built<'a>, org: &'a str, env: &'a str, p: &'a SearchPatterns) {
    if let Some(fts) = &p.fts {
        // SQLite only. The unary `+` keeps the planner off the organization's indexes (it
        // would walk every lead of the organization and test each rowid against the list);
        // the candidates' rowids drive the lookup instead.
        b.push("+org_id = ").bind(Arg::Text(org));
        b.push(" AND +environment = ").bind(Arg::Text(env));
        b.push(" AND rowid IN (SELECT rowid FROM leads_search WHERE leads_search MATCH ")
            .bind(Arg::Text(fts))
            .push(")");
    } else {
        b.push("org_id = ").bind(Arg::Text(org));
        b.push(" AND environment = ").bind(Arg::Text(env));
    }
    let contains = b.param(Arg::Text(&p.contains));
    b.push(" AND (");
    push_any_like(b, contains);
    b.push(")");
}

/// Appends `$n` tested against the three searched expressions, OR-ed.
fn push_any_like(b: &mut Built<'_>, n: usize) {
    b.push("lower(COALESCE(name, '')) LIKE ")
        .placeholder(n)
        .push(" ESCAPE '\\' OR email_norm LIKE ")
        .placeholder(n)
        .push(" ESCAPE '\\' OR lower(COALESCE(company, '')) LIKE ")
        .placeholder(n)
        .push(" ESCAPE '\\'");
}

/// A search's total.
pub(crate) fn search_count_sql<'a>(org: &'a str, env: &'a str, p: &'a SearchPatterns) -> Built<'a> {
    let mut b = Built::new("SELECT COUNT(*) FROM leads WHERE ");
    push_search_match(&mut b, org, env, p);
    b
}

/// A search page, best first: an exact email match, then a prefix match of any searched
/// expression, then the rest; newest first within a rank.
pub(crate) fn search_page_sql<'a>(
    org: &'a str,
    env: &'a str,
    p: &'a SearchPatterns,
    page: PageRequest,
) -> Built<'a> {
    let (limit, offset) = limit_offset(page);
    let mut b = Built::new("SELECT ");
    b.push(LEAD_COLUMNS)
        .push(", CASE WHEN email_norm = ")
        .bind(Arg::Text(&p.needle))
        .push(" THEN 3 WHEN ");
    let prefix = b.param(Arg::Text(&p.prefix));
    push_any_like(&mut b, prefix);
    b.push(" THEN 2 ELSE 1 END AS rank FROM leads WHERE ");
    push_search_match(&mut b, org, env, p);
    b.push(" ORDER BY rank DESC, created_at DESC, id DESC LIMIT ")
        .bind(Arg::Int(limit))
        .push(" OFFSET ")
        .bind(Arg::Int(offset));
    b
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `LIMIT` and `OFFSET` of a page.
pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.limit),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// A row count as the traits report it.
pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}

/// A JSON text column's value.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Maps a unique-constraint violation to a `Conflict` on `param`; anything else as usual.
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

/// `INSERT` of a lead: `$1` id, `$2` org, `$3` environment, `$4` email, `$5` normalized email,
/// `$6` name … `$14` custom fields, `$15`–`$18` the four timestamps.
pub(crate) const INSERT_LEAD: &str = "INSERT INTO leads (id, org_id, environment, email, \
    email_norm, name, company, title, phone, status, score, source, tags, custom_fields, \
    first_seen_at, last_active_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// `UPDATE` of a lead's mutable fields: `$1` email … `$11` updated at, then `$12` org, `$13`
/// environment, `$14` id.
pub(crate) const UPDATE_LEAD: &str = "UPDATE leads SET email = $1, email_norm = $2, name = $3, \
    company = $4, title = $5, phone = $6, status = $7, score = $8, tags = $9, \
    custom_fields = $10, updated_at = $11 WHERE org_id = $12 AND environment = $13 AND id = $14";

/// The id of the lead holding a normalized email: `$1` org, `$2` environment, `$3` email.
pub(crate) const LEAD_BY_EMAIL: &str =
    "SELECT id FROM leads WHERE org_id = $1 AND environment = $2 AND email_norm = $3";

/// One lead: `$1` org, `$2` environment, `$3` id.
pub(crate) fn fetch_lead_sql() -> String {
    format!("SELECT {LEAD_COLUMNS} FROM leads WHERE org_id = $1 AND environment = $2 AND id = $3")
}

/// `delete_lead`: `$1` org, `$2` environment, `$3` id.
pub(crate) const DELETE_LEAD: &str =
    "DELETE FROM leads WHERE org_id = $1 AND environment = $2 AND id = $3";

/// `INSERT` of an organization: `$1` id, `$2` name, `$3` plan, `$4` created at.
pub(crate) const INSERT_ORG: &str =
    "INSERT INTO organizations (id, name, plan, created_at) VALUES ($1, $2, $3, $4)";

/// `set_plan`: `$1` plan, `$2` organization.
pub(crate) const SET_PLAN: &str = "UPDATE organizations SET plan = $1 WHERE id = $2";

/// `INSERT` of a user: `$1` id, `$2` org, `$3` email (lower-cased), `$4` role, `$5` password
/// hash, `$6` created at.
pub(crate) const INSERT_USER: &str = "INSERT INTO users (id, org_id, email, role, \
    password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// `INSERT` of an event: `$1` id, `$2` org, `$3` environment, `$4` type, `$5` actor, `$6` key
/// id, `$7` subject id, `$8` ip, `$9` created at.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (id, org_id, environment, type, \
    actor, key_id, subject_id, ip, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// A user's columns, each prefixed `u_` (so they can sit beside other tables' columns).
pub(crate) const USER_COLUMNS: &str = "u.id AS u_id, u.org_id AS u_org_id, u.email AS u_email, \
    u.role AS u_role, u.password_hash AS u_password_hash, u.created_at AS u_created_at";

/// `find_user_by_email`: `$1` email, lower-cased (stored emails are).
pub(crate) fn user_by_email_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1")
}

/// `list_users`: `$1` organization.
pub(crate) fn list_users_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 ORDER BY u.created_at, u.id")
}

/// `INSERT` of a session: `$1` hash, `$2` user, `$3` created at, `$4` expires at, `$5` ip,
/// `$6` user agent.
pub(crate) const INSERT_SESSION: &str = "INSERT INTO sessions (id_hash, user_id, created_at, \
    expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)";

/// `find_session`: `$1` hash, `$2` now. The session, its user and the user's organization.
pub(crate) fn find_session_sql() -> String {
    format!(
        "SELECT s.created_at AS s_created_at, s.expires_at AS s_expires_at, {USER_COLUMNS}, \
         o.name AS org_name, o.plan AS org_plan, o.created_at AS org_created_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN organizations o ON o.id = u.org_id \
         WHERE s.id_hash = $1 AND s.expires_at > $2"
    )
}

/// `delete_session`: `$1` hash.
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE id_hash = $1";

/// `delete_expired_sessions`: `$1` now.
pub(crate) const DELETE_EXPIRED_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1";

/// `usage_counts`: `$1` org, `$2` environment, `$3` first hour.
pub(crate) const USAGE_COUNTS: &str = "SELECT key_id, org_id, environment, hour, ok, \
    client_error, rate_limited, server_error FROM key_usage_hourly \
    WHERE org_id = $1 AND environment = $2 AND hour >= $3 ORDER BY key_id, hour";

#[cfg(test)]
mod tests {

    use synaptiq_types::leads::{LeadSource, LeadStatus};
    use synaptiq_types::time::Timestamp;

    use super::*;

    /// The placeholders of `b` are `$1` … `$n`, first used in that order, `n` being the
    /// number of arguments.
    fn assert_numbered(b: &Built<'_>) {
        let mut seen = Vec::new();
        let mut rest = b.sql.as_str();
        while let Some(i) = rest.find('$') {
            rest = &rest[i + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().expect("a placeholder number");
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
        let expected: Vec<usize> = (1..=b.args.len()).collect();
        assert_eq!(seen, expected, "{}", b.sql);
    }

    fn page(p: u32, limit: u32) -> PageRequest {
        PageRequest::new(Some(p), Some(limit)).expect("page")
    }

    #[test]
    fn lead_statements_hold_only_the_given_conditions() {
        let q = LeadListQuery::default();
        let b = lead_count_sql("org_1", "live", &q);
        assert_eq!(
            b.sql,
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM lead_counts \
             WHERE org_id = $1 AND environment = $2"
        );
        assert_eq!(b.args, vec![Arg::Text("org_1"), Arg::Text("live")]);

        let before = Timestamp::now();
        let q = LeadListQuery {
            status: Some(LeadStatus::Lost),
            created_before: Some(before),
            sort_by: Some(LeadSortBy::Score),
            sort_order: Some(SortOrder::Asc),
            ..LeadListQuery::default()
        };
        let b = lead_count_sql("org_1", "test", &q);
        assert_eq!(
            b.sql,
            "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2 \
             AND status = $3 AND created_at < $4"
        );
        assert_eq!(
            b.args,
            vec![
                Arg::Text("org_1"),
                Arg::Text("test"),
                Arg::Text("lost"),
                Arg::Int(before.millis())
            ]
        );
        let b = lead_page_sql("org_1", "test", &q, page(3, 10));
        assert_eq!(
            b.sql,
            format!(
                "SELECT {LEAD_COLUMNS} FROM leads WHERE id IN (SELECT id FROM leads \
                 WHERE org_id = $1 AND environment = $2 AND status = $3 AND created_at < $4 \
                 ORDER BY score ASC, id ASC LIMIT $5 OFFSET $6) ORDER BY score ASC, id ASC"
            )
        );
        assert_eq!(&b.args[4..], &[Arg::Int(10), Arg::Int(20)]);
    }

    #[test]
    fn every_filter_combination_is_numbered_in_order() {
        let at = Timestamp::now();
        for status in [None, Some(LeadStatus::New)] {
            for source in [None, Some(LeadSource::Form)] {
                for after in [None, Some(at)] {
                    for before in [None, Some(at)] {
                        let q = LeadListQuery {
                            status,
                            source,
                            created_after: after,
                            created_before: before,
                            ..LeadListQuery::default()
                        };
                        let count = lead_count_sql("o", "live", &q);
                        assert_numbered(&count);
                        let dated = after.is_some() || before.is_some();
                        assert_eq!(count.sql.contains("lead_counts"), !dated);
                        assert_numbered(&lead_page_sql("o", "live", &q, page(1, 25)));
                    }
                }
            }
        }
    }

    #[test]
    fn search_patterns_choose_the_trigram_index_from_three_characters() {
        let p = search_patterns("Say \"Hi\" 100%", SearchIndex::Fts5);
        assert_eq!(p.needle, "say \"hi\" 100%");
        assert_eq!(p.contains, "%say \"hi\" 100\\%%");
        assert_eq!(p.prefix, "say \"hi\" 100\\%%");
        assert_eq!(p.fts.as_deref(), Some("\"say \"\"hi\"\" 100%\""));
        assert_eq!(search_patterns("ab", SearchIndex::Fts5).fts, None);
        assert_eq!(
            search_patterns("ÄÖ", SearchIndex::Fts5).fts,
            None,
            "characters, not bytes"
        );
        assert_eq!(
            search_patterns("ÄÖü", SearchIndex::Fts5).fts.as_deref(),
            Some("\"äöü\"")
        );
        assert_eq!(search_patterns("abc", SearchIndex::Like).fts, None);
    }

    #[test]
    fn search_statements_are_numbered_in_order() {
        for q in ["ab", "abc"] {
            for index in [SearchIndex::Like, SearchIndex::Fts5] {
                let p = search_patterns(q, index);
                let count = search_count_sql("o", "live", &p);
                let page_sql = search_page_sql("o", "live", &p, page(2, 5));
                assert_numbered(&count);
                assert_numbered(&page_sql);
                let indexed = p.fts.is_some();
                assert_eq!(count.sql.contains("leads_search MATCH"), indexed);
                assert_eq!(page_sql.sql.contains("leads_search MATCH"), indexed);
                assert_eq!(page_sql.args.last(), Some(&Arg::Int(5)));
            }
        }
        let p = search_patterns("ab", SearchIndex::Like);
        assert_eq!(
            search_count_sql("o", "live", &p).sql,
            "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2 \
             AND (lower(COALESCE(name, '')) LIKE $3 ESCAPE '\\' OR email_norm LIKE $3 \
             ESCAPE '\\' OR lower(COALESCE(company, '')) LIKE $3 ESCAPE '\\')"
        );
    }
}
