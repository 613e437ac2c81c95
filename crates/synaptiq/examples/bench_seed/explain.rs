//! `--explain`: the query plans SQLite chooses for the server's hot statements on a seeded
//! database.

use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use anyhow::Result;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

/// The statements explained by `--explain`. They mirror the text the server runs on SQLite,
/// from `crates/synaptiq-store/src/leads/sql.rs` and `keys/sql.rs` (`lead_count_sql`, `lead_page_sql`,
/// `search_count_sql`, `search_page_sql` with the FTS5 candidates, `find_by_hash_sql`) for a
/// list without filters and a search of 3 or more characters; if those change, update these.
const LEAD_COLUMNS: &str = "id, email, name, company, title, phone, status, score, \
    source, tags, custom_fields, first_seen_at, last_active_at, created_at, updated_at";
/// `lead_page_sql` without filters, newest first: `$1` org, `$2` environment, `$3` limit,
/// `$4` offset.
const LEAD_PAGE: &str = "FROM leads WHERE id IN (SELECT id FROM leads \
    WHERE org_id = $1 AND environment = $2 ORDER BY created_at DESC, id DESC \
    LIMIT $3 OFFSET $4) ORDER BY created_at DESC, id DESC";
/// `search_count_sql`'s condition: `$1` org, `$2` environment, `$3` FTS5 phrase, `$4`
/// `%needle%`.
const SEARCH_COUNT_MATCH: &str = "+org_id = $1 AND +environment = $2 \
    AND rowid IN (SELECT rowid FROM leads_search WHERE leads_search MATCH $3) \
    AND (lower(COALESCE(name, '')) LIKE $4 ESCAPE '\\' OR email_norm LIKE $4 ESCAPE '\\' \
    OR lower(COALESCE(company, '')) LIKE $4 ESCAPE '\\')";
/// `search_page_sql`: `$1` needle, `$2` `needle%`, `$3` org, `$4` environment, `$5` FTS5
/// phrase, `$6` `%needle%`, `$7` limit, `$8` offset.
const SEARCH_PAGE: &str = "CASE WHEN email_norm = $1 THEN 3 \
    WHEN lower(COALESCE(name, '')) LIKE $2 ESCAPE '\\' OR email_norm LIKE $2 ESCAPE '\\' \
    OR lower(COALESCE(company, '')) LIKE $2 ESCAPE '\\' THEN 2 ELSE 1 END AS rank \
    FROM leads WHERE +org_id = $3 AND +environment = $4 \
    AND rowid IN (SELECT rowid FROM leads_search WHERE leads_search MATCH $5) \
    AND (lower(COALESCE(name, '')) LIKE $6 ESCAPE '\\' OR email_norm LIKE $6 ESCAPE '\\' \
    OR lower(COALESCE(company, '')) LIKE $6 ESCAPE '\\') \
    ORDER BY rank DESC, created_at DESC, id DESC LIMIT $7 OFFSET $8";

/// One statement to explain: label, SQL, and how to bind it.
enum Binds {
    /// org, env, then the extra integers (limit, offset).
    List(Vec<i64>),
    /// The search total for a needle: org, env, FTS5 phrase, `%needle%`.
    SearchCount(&'static str),
    /// A search page for a needle: needle, `needle%`, org, env, FTS5 phrase, `%needle%`,
    /// then the extra integers (limit, offset).
    SearchPage(&'static str, Vec<i64>),
    /// a 32-byte hash.
    Hash,
}

pub(crate) async fn explain(data_dir: &Path) -> Result<()> {
    let url = format!("sqlite://{}", data_dir.join("synaptiq.db").display());
    let opts = SqliteConnectOptions::from_str(&url)?.read_only(true);
    let mut conn = SqliteConnection::connect_with(&opts).await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    let (org, env, n): (String, String, i64) = sqlx::query_as(
        "SELECT org_id, environment, COUNT(*) AS n FROM leads GROUP BY 1, 2 ORDER BY n DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await?;
    println!("SQLite {version}; leads in {org}/{env}: {n}");
    let deep = (n / 2).max(0);
    let statements: Vec<(String, String, Binds)> = vec![
        (
            "list: total (maintained counters)".into(),
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM lead_counts \
             WHERE org_id = $1 AND environment = $2"
                .into(),
            Binds::List(vec![]),
        ),
        (
            "list: page 1 (LIMIT 25)".into(),
            format!("SELECT {LEAD_COLUMNS} {LEAD_PAGE}"),
            Binds::List(vec![25, 0]),
        ),
        (
            format!("list: deep page (OFFSET {deep})"),
            format!("SELECT {LEAD_COLUMNS} {LEAD_PAGE}"),
            Binds::List(vec![25, deep]),
        ),
        (
            "COUNT(*) of the leads (what the total used to cost)".into(),
            "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2".into(),
            Binds::List(vec![]),
        ),
        (
            "search: total (COUNT), q=lead4242".into(),
            format!("SELECT COUNT(*) FROM leads WHERE {SEARCH_COUNT_MATCH}"),
            Binds::SearchCount("lead4242"),
        ),
        (
            "search: page 1, q=lead4242".into(),
            format!("SELECT {LEAD_COLUMNS}, {SEARCH_PAGE}"),
            Binds::SearchPage("lead4242", vec![25, 0]),
        ),
        (
            "key lookup (find_by_hash)".into(),
            "SELECT k.id, o.name FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.key_hash = $1".into(),
            Binds::Hash,
        ),
    ];
    for (label, sql, binds) in &statements {
        println!("\n{label}\n  {sql}");
        for explain in [true, false] {
            let text = if explain {
                format!("EXPLAIN QUERY PLAN {sql}")
            } else {
                sql.clone()
            };
            let runs = if explain { 1 } else { 5 };
            let mut times = Vec::new();
            for _ in 0..runs {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(text.clone()));
                match binds {
                    Binds::List(extra) => {
                        q = q.bind(org.clone()).bind(env.clone());
                        for v in extra {
                            q = q.bind(*v);
                        }
                    }
                    Binds::SearchCount(needle) => {
                        q = q
                            .bind(org.clone())
                            .bind(env.clone())
                            .bind(format!("\"{needle}\""))
                            .bind(format!("%{needle}%"));
                    }
                    Binds::SearchPage(needle, extra) => {
                        q = q
                            .bind(needle.to_string())
                            .bind(format!("{needle}%"))
                            .bind(org.clone())
                            .bind(env.clone())
                            .bind(format!("\"{needle}\""))
                            .bind(format!("%{needle}%"));
                        for v in extra {
                            q = q.bind(*v);
                        }
                    }
                    Binds::Hash => q = q.bind(vec![7u8; 32]),
                }
                let t = Instant::now();
                let rows = q.fetch_all(&mut conn).await?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if explain {
                    for r in &rows {
                        let detail: String = sqlx::Row::try_get(r, 3)?;
                        println!("  plan: {detail}");
                    }
                }
            }
            if !explain {
                times.sort_by(f64::total_cmp);
                println!(
                    "  time: median {:.2} ms of {runs} (min {:.2}, max {:.2})",
                    times[runs / 2],
                    times[0],
                    times[runs - 1]
                );
            }
        }
    }
    Ok(())
}
