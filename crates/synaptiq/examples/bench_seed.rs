//! Seeds a fresh data directory for the benchmark harness (`bench/run.sh`, issue 7).
//!
//! ```sh
//! cargo run --release --example bench_seed -- --data-dir /tmp/x --keys 10000 --leads 100000 --out /tmp/x/bench
//! cargo run --release --example bench_seed -- --data-dir /tmp/x --database-url postgres://postgres@127.0.0.1/bench
//! ```
//!
//! What it writes:
//! - `<data-dir>/pepper` (`v1:<hex>`, 0600) unless one exists, and the database — by default
//!   `<data-dir>/synaptiq.db`, or the (empty) PostgreSQL database of `--database-url` — with
//!   the migrations applied, `--orgs` organizations (starter plan, created through the store),
//!   `--keys` API keys spread round-robin over the organizations, both environments and the
//!   three scopes, and `--leads` leads in the first organization's `live` environment. Rows are
//!   inserted in multi-row `INSERT`s inside large transactions on one connection with
//!   `synchronous = OFF` on SQLite and `synchronous_commit = off` on PostgreSQL (the server
//!   itself keeps both durable); PostgreSQL's tables are vacuumed and analyzed at the end.
//! - In `--out` (never in the repository): `keys.txt` (every secret, one a line), `leads_keys.txt`
//!   (the write/admin keys of the leads organization's live environment, where the leads are),
//!   `post_keys.txt` (its write/admin keys of the test environment, for creating leads without
//!   growing the listed set), `unknown_key.txt`
//!   (a well-formed key with a valid checksum that is not in the database), `seed.json` (counts,
//!   ids and timings).
//!
//! The first organization is also what the server's first-run bootstrap looks for, so a seeded
//! directory starts without creating the "Default" organization.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, PgConnection, QueryBuilder, SqliteConnection};
use synaptiq_core::hash::Pepper;
use synaptiq_core::ids::{KeyId, LeadId, OrgId};
use synaptiq_core::key::ApiKeySecret;
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};

#[derive(Parser, Debug)]
#[command(
    about = "Seeds a benchmark data directory (keys, leads) and writes the key secrets to --out"
)]
struct Args {
    /// The server's data directory (created if missing; must not hold a database yet).
    #[arg(long)]
    data_dir: PathBuf,
    /// A PostgreSQL database to seed instead of `<data-dir>/synaptiq.db` (`postgres://…`; it
    /// must hold no organizations yet). The server is then started with the same URL.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the key files go (created if missing). Default: `<data-dir>/bench`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Organizations to create.
    #[arg(long, default_value_t = 4)]
    orgs: usize,
    /// API keys to create.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Leads to create in the first organization's live environment.
    #[arg(long, default_value_t = 100_000)]
    leads: usize,
    /// Rows per transaction.
    #[arg(long, default_value_t = 50_000)]
    batch: usize,
    /// Seed nothing: print the query plans and timings of the lead list/search and key
    /// lookup statements on the existing database in `--data-dir`, with the SQLite the server
    /// is built with (a diagnostic for docs/PERFORMANCE.md).
    #[arg(long)]
    explain: bool,
}

/// Rows per multi-row `INSERT` (keys have 10 columns, leads 18: well under SQLite's 32,766
/// bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn pepper(dir: &Path) -> Result<Pepper> {
    let path = dir.join("pepper");
    match std::fs::read_to_string(&path) {
        Ok(text) => Pepper::decode(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (p, encoded) = Pepper::generate(1).context("OS random generator")?;
            write_private(&path, &format!("{encoded}\n"))?;
            Ok(p)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// One key to insert.
struct KeyRow {
    id: String,
    org: usize,
    env: Environment,
    scope: Scope,
    hash: [u8; 32],
    hint: String,
}

const STATUSES: [&str; 5] = ["new", "qualified", "contacted", "converted", "lost"];
const SOURCES: [&str; 4] = ["chat", "api", "import", "form"];

/// What to insert: the keys, and the leads of the first organization's live environment.
struct Seed<'a> {
    orgs: &'a [OrgId],
    rows: &'a [KeyRow],
    pepper_version: u16,
    leads: usize,
    /// Rows per transaction.
    batch: usize,
}

/// The bulk inserts, once per backend: the statements and binds are the same, only the
/// connection and placeholder types differ (generic code over `sqlx::Database` would need a
/// bound per bound type).
macro_rules! bulk_inserts {
    ($module:ident, $db:ty, $conn:ty) => {
        mod $module {
            use super::*;

        pub(crate) async fn insert_keys(
            conn: &mut $conn,
            orgs: &[OrgId],
            rows: &[KeyRow],
            pepper_version: u16,
            batch: usize,
        ) -> Result<()> {
            let now = now_ms();
            for tx_rows in rows.chunks(batch.max(1)) {
                let mut tx = conn.begin().await?;
                for stmt_rows in tx_rows.chunks(ROWS_PER_STATEMENT) {
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO api_keys (id, org_id, environment, name, scope, key_hash, \
                         pepper_version, hint, allowed_ips, created_at) ",
                    );
                    qb.push_values(stmt_rows, |mut b, k| {
                        b.push_bind(k.id.clone())
                            .push_bind(orgs[k.org].as_str().to_owned())
                            .push_bind(k.env.as_str())
                            .push_bind("bench key")
                            .push_bind(k.scope.as_str())
                            .push_bind(k.hash.to_vec())
                            .push_bind(i32::from(pepper_version))
                            .push_bind(k.hint.clone())
                            .push_bind("[]")
                            .push_bind(now);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Ok(())
        }

        pub(crate) async fn insert_leads(
            conn: &mut $conn,
            org: &OrgId,
            env: Environment,
            n: usize,
            batch: usize,
        ) -> Result<()> {
            // Distinct, increasing creation times ending now, so the newest-first page is stable.
            let base = now_ms() - i64::try_from(n).unwrap_or(0);
            let mut done = 0usize;
            while done < n {
                let end = (done + batch.max(1)).min(n);
                let mut tx = conn.begin().await?;
                let mut i = done;
                while i < end {
                    let stop = (i + ROWS_PER_STATEMENT).min(end);
                    let mut qb: QueryBuilder<$db> = QueryBuilder::new(
                        "INSERT INTO leads (id, org_id, environment, email, email_norm, name, company, \
                         title, phone, status, score, source, tags, custom_fields, first_seen_at, \
                         last_active_at, created_at, updated_at) ",
                    );
                    qb.push_values(i..stop, |mut b, j| {
                        let at = base + i64::try_from(j).unwrap_or(0);
                        let email = format!("lead{j}@company{}.example", j % 5000);
                        b.push_bind(LeadId::generate().as_str().to_owned())
                            .push_bind(org.as_str().to_owned())
                            .push_bind(env.as_str())
                            .push_bind(email.clone())
                            .push_bind(email)
                            .push_bind(format!("Person {j}"))
                            .push_bind(format!("Company {}", j % 5000))
                            .push_bind(Option::<String>::None)
                            .push_bind(Option::<String>::None)
                            .push_bind(STATUSES[j % STATUSES.len()])
                            .push_bind(i32::try_from(j % 101).unwrap_or(0))
                            .push_bind(SOURCES[j % SOURCES.len()])
                            .push_bind("[]")
                            .push_bind("{}")
                            .push_bind(at)
                            .push_bind(at)
                            .push_bind(at)
                            .push_bind(at);
                    });
                    qb.build().execute(&mut *tx).await?;
                    i = stop;
                }
                tx.commit().await?;
                done = end;
            }
            Ok(())
        }

            /// Inserts the keys, then the leads of `org`'s live environment; returns the
            /// seconds each took.
            pub(crate) async fn keys_then_leads(conn: &mut $conn, s: &Seed<'_>) -> Result<(f64, f64)> {
                let t = Instant::now();
                insert_keys(conn, s.orgs, s.rows, s.pepper_version, s.batch).await?;
                let keys_s = t.elapsed().as_secs_f64();
                let t = Instant::now();
                insert_leads(conn, &s.orgs[0], Environment::Live, s.leads, s.batch).await?;
                Ok((keys_s, t.elapsed().as_secs_f64()))
            }
        }
    };
}

bulk_inserts!(sqlite_rows, sqlx::Sqlite, SqliteConnection);
bulk_inserts!(pg_rows, sqlx::Postgres, PgConnection);

/// The statements explained by `--explain`. They mirror the text the server runs on SQLite,
/// from `crates/synaptiq-store/src/sql.rs` (`lead_count_sql`, `lead_page_sql`,
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

async fn explain(data_dir: &Path) -> Result<()> {
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

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.explain {
        if args.database_url.is_some() {
            bail!("--explain reads the SQLite database of --data-dir only");
        }
        return explain(&args.data_dir).await;
    }
    if args.orgs == 0 {
        bail!("--orgs must be at least 1");
    }
    std::fs::create_dir_all(&args.data_dir)?;
    let db = args.data_dir.join("synaptiq.db");
    let url = match &args.database_url {
        Some(url) if url.starts_with("postgres") => url.clone(),
        Some(_) => bail!("--database-url must be a postgres:// URL (SQLite is the default)"),
        None if db.exists() => bail!(
            "{} already exists: seed a fresh data directory",
            db.display()
        ),
        None => format!("sqlite://{}", db.display()),
    };
    let postgres = args.database_url.is_some();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.data_dir.join("bench"));
    std::fs::create_dir_all(&out)?;
    let pepper = pepper(&args.data_dir)?;
    let started = Instant::now();

    // Schema and organizations through the product's own store.
    let store = synaptiq_store::open(&url).await?;
    store.migrate().await?;
    if postgres && !store.list_orgs().await?.is_empty() {
        bail!("the database of --database-url already holds organizations: seed an empty one");
    }
    let mut orgs = Vec::with_capacity(args.orgs);
    for i in 0..args.orgs {
        orgs.push(
            store
                .create_org(&format!("Bench org {i}"), Plan::Starter)
                .await?
                .id,
        );
    }
    drop(store);

    // Key secrets: generated and hashed exactly as `synaptiq_app::Services::issue_key` does.
    let t = Instant::now();
    let k = args.orgs;
    let mut rows = Vec::with_capacity(args.keys);
    let mut all = String::with_capacity(args.keys * 45);
    let mut leads_keys = String::new();
    let mut post_keys = String::new();
    for i in 0..args.keys {
        let org = i % k;
        let env = if (i / k) % 2 == 0 {
            Environment::Live
        } else {
            Environment::Test
        };
        let scope = [Scope::Read, Scope::Write, Scope::Admin][(i / (2 * k)) % 3];
        let secret = ApiKeySecret::generate(env).context("OS random generator")?;
        all.push_str(secret.expose());
        all.push('\n');
        if org == 0 && scope != Scope::Read {
            let list = if env == Environment::Live {
                &mut leads_keys
            } else {
                &mut post_keys
            };
            list.push_str(secret.expose());
            list.push('\n');
        }
        rows.push(KeyRow {
            id: KeyId::generate().as_str().to_owned(),
            org,
            env,
            scope,
            hash: pepper.hash(secret.expose()).0,
            hint: secret.hint(),
        });
    }
    let unknown = ApiKeySecret::generate(Environment::Live).context("OS random generator")?;
    let keygen_s = t.elapsed().as_secs_f64();

    let seed = Seed {
        orgs: &orgs,
        rows: &rows,
        pepper_version: pepper.version(),
        leads: args.leads,
        batch: args.batch,
    };
    let (keys_s, leads_s) = if postgres {
        let mut conn = PgConnection::connect(&url).await?;
        conn.execute("SET synchronous_commit = off").await?;
        let secs = pg_rows::keys_then_leads(&mut conn, &seed).await?;
        // What autovacuum would soon do after a bulk insert: planner statistics for the seeded
        // data, and the visibility map that lets index-only scans skip the heap (a deep page
        // of 1,000,000 leads: 476 ms before, 218 ms after, EXPLAIN ANALYZE on PostgreSQL 15).
        conn.execute("VACUUM (ANALYZE)").await?;
        conn.close().await?;
        secs
    } else {
        let opts = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Off)
            .foreign_keys(false)
            .pragma("cache_size", "-262144");
        let mut conn = SqliteConnection::connect_with(&opts).await?;
        let secs = sqlite_rows::keys_then_leads(&mut conn, &seed).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        secs
    };
    drop(rows);

    write_private(&out.join("keys.txt"), &all)?;
    write_private(&out.join("leads_keys.txt"), &leads_keys)?;
    write_private(&out.join("post_keys.txt"), &post_keys)?;
    write_private(
        &out.join("unknown_key.txt"),
        &format!("{}\n", unknown.expose()),
    )?;
    let summary = serde_json::json!({
        "orgs": orgs.iter().map(OrgId::as_str).collect::<Vec<_>>(),
        "leadsOrg": orgs[0].as_str(),
        "leadsEnvironment": "live",
        "keys": args.keys,
        "leadsKeys": leads_keys.lines().count(),
        "postKeys": post_keys.lines().count(),
        "leads": args.leads,
        "seconds": {
            "keygenAndHash": keygen_s,
            "insertKeys": keys_s,
            "insertLeads": leads_s,
            "total": started.elapsed().as_secs_f64(),
        },
    });
    std::fs::write(out.join("seed.json"), format!("{summary:#}\n"))?;
    println!(
        "seeded {} keys ({} for leads) in {:.1}s (+{:.1}s generate/hash), {} leads in {:.1}s, into {}",
        args.keys,
        leads_keys.lines().count(),
        keys_s,
        keygen_s,
        args.leads,
        leads_s,
        if postgres {
            "the --database-url database".to_owned()
        } else {
            db.display().to_string()
        }
    );
    Ok(())
}
