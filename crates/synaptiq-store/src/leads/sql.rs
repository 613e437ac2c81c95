//! Lead SQL: the filtered, sorted list and the search, built at run time with only the
//! conditions a query has, and the statements of a lead's changes.

use synaptiq_core::ids::LeadId;
use synaptiq_types::leads::{LeadListQuery, LeadSortBy, LeadSource, LeadStatus, SortOrder};
use synaptiq_types::time::Timestamp;

use super::LeadRecord;
use synaptiq_types::pagination::PageRequest;

use crate::db::{Cols, corrupt, limit_offset};
use crate::error::Result;

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
    pub(crate) needle: String,
    /// `%needle%`, escaped for `LIKE … ESCAPE '\'`: what matches.
    pub(crate) contains: String,
    /// `needle%`, escaped: what ranks as a prefix match.
    pub(crate) prefix: String,
    /// The FTS5 query narrowing the candidates: the needle as one phrase (a substring, with
    /// the trigram tokenizer), or `None` to test the `LIKE` conditions alone.
    pub(crate) fts: Option<String>,
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

/// Lead columns.
pub(crate) const LEAD_COLUMNS: &str = "id, email, name, company, title, phone, status, score, \
    source, tags, custom_fields, first_seen_at, last_active_at, created_at, updated_at";

/// A lead ([`LEAD_COLUMNS`]).
pub(crate) fn lead_from_row(row: &impl Cols) -> Result<LeadRecord> {
    let tags = row.text("tags")?;
    let custom = row.text("custom_fields")?;
    Ok(LeadRecord {
        id: LeadId::try_from(row.text("id")?).map_err(|_| corrupt("leads.id"))?,
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

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
