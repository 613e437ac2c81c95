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

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, PgConnection, QueryBuilder, SqliteConnection};
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

mod explain;
mod files;
use explain::explain;
use files::{pepper, write_private};

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
