//! A fresh store per case, and the fixtures the cases share.

use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};
use synaptiq_core::hash::KeyHash;
use synaptiq_core::ids::{LeadId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_store::{KeyRecord, NewKey, Store};
use synaptiq_types::leads::{CreateLead, Lead};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

/// The variable naming the PostgreSQL server the suite may use.
pub const PG_VAR: &str = "SYNAPTIQ_TEST_POSTGRES_URL";

/// Runs `case` on a migrated SQLite database in a temporary directory.
pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_sqlite_raw(|store, _| case(store)).await;
}

/// Runs `case` on PostgreSQL in a schema of its own (see [`on_postgres_raw`]).
pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_postgres_raw(|store, _| case(store)).await;
}

/// Runs `case` on a migrated SQLite database in a temporary directory; `case` also gets a URL
/// for [`Raw::connect`].
pub async fn on_sqlite_raw<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
    let store = synaptiq_store::open(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    assert_eq!(store.backend(), "sqlite");
    case(store.clone(), url).await;
    store.close().await;
}

/// Runs `case` on PostgreSQL in a schema of its own (created here, dropped afterwards even
/// when the case fails); a notice, once per test binary, when no server is configured.
/// `case` also gets a URL for [`Raw::connect`].
pub async fn on_postgres_raw<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(base) = std::env::var(PG_VAR) else {
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| {
            // Straight to stderr: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "PostgreSQL conformance SKIPPED: set {PG_VAR}=postgres://USER@HOST:5432/DB to run it"
            );
        });
        return;
    };
    let schema = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut admin = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{PG_VAR} is set but the server is unreachable: {e}"));
    // pg_trgm (migration 0004) once per database, in `public`: if a case's migration created
    // it, it would land in that case's schema and be dropped with it, under the other cases.
    admin
        .execute(
            "BEGIN; SELECT pg_advisory_xact_lock(7253); \
             CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public; COMMIT;",
        )
        .await
        .expect("create pg_trgm");
    // The schema name is generated here (lower-case ULID), never taken from input.
    admin
        .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    // Few connections per case, so parallel cases stay under the server's connection limit.
    let sep = if base.contains('?') { '&' } else { '?' };
    let raw_url = format!("{base}{sep}options[search_path]={schema}");
    let url = format!("{raw_url}&max_connections=5&acquire_timeout=10");
    let store = synaptiq_store::open(&url).await.expect("open postgres");
    assert_eq!(store.backend(), "postgres");
    store.migrate().await.expect("migrate postgres");
    let outcome = tokio::spawn(case(store.clone(), raw_url)).await;
    store.close().await;
    admin
        .execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .await
        .expect("drop schema");
    let _ = admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A fresh organization.
pub async fn org(store: &Arc<dyn Store>, name: &str) -> OrgId {
    store
        .create_org(name, Plan::Starter)
        .await
        .expect("create org")
        .id
}

/// A random key hash.
pub fn random_hash() -> KeyHash {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&ulid::Ulid::new().0.to_be_bytes());
    bytes[16..].copy_from_slice(&ulid::Ulid::new().0.to_be_bytes());
    KeyHash(bytes)
}

/// A key to insert: read scope, no allow-list, no expiry.
pub fn new_key(org: &OrgId, env: Environment, name: &str) -> NewKey {
    NewKey {
        org_id: org.clone(),
        environment: env,
        name: name.to_owned(),
        scope: Scope::Read,
        hash: random_hash(),
        pepper_version: 1,
        hint: format!("sk_{name}…"),
        allowed_ips: Vec::new(),
        expires_at: None,
        rotated_from: None,
    }
}

/// Inserts a key named `name`, expiring at `expires_at`.
pub async fn key(
    store: &Arc<dyn Store>,
    org: &OrgId,
    env: Environment,
    name: &str,
    expires_at: Option<Timestamp>,
) -> KeyRecord {
    let mut k = new_key(org, env, name);
    k.expires_at = expires_at;
    store
        .insert_key(k, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert key")
}

/// Page `page` of `limit` items.
pub fn page(page: u32, limit: u32) -> PageRequest {
    PageRequest::new(Some(page), Some(limit)).expect("valid page")
}

/// The first page of 100.
pub fn all() -> PageRequest {
    page(1, 100)
}

/// Waits until the clock has moved on, so consecutive creations get distinct timestamps
/// (lists order by time, then by id, and ids minted in the same millisecond are random).
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// The current change epoch.
pub async fn epoch(store: &Arc<dyn Store>) -> i64 {
    store.change_epoch().await.expect("epoch")
}

/// A lead with just an email.
pub fn minimal(email: &str) -> CreateLead {
    CreateLead {
        email: email.to_owned(),
        name: None,
        company: None,
        title: None,
        phone: None,
        tags: None,
        custom_fields: None,
        status: None,
        score: None,
    }
}

/// Creates a lead, which must succeed.
pub async fn create(
    store: &Arc<dyn Store>,
    org: &OrgId,
    env: Environment,
    new: CreateLead,
) -> Lead {
    via_app(store)
        .create_lead(org, env, &new, &synaptiq_store::Actor::local("test"))
        .await
        .expect("create lead")
}

/// The application layer's lead use cases over `store`: leads are made and patched by its
/// rules, then stored by the backend under test.
pub fn via_app(store: &Arc<dyn Store>) -> synaptiq_app::Services {
    synaptiq_app::Services::new(store.clone(), Arc::new(synaptiq_app::NoAuthCache))
}

/// A lead's typed id.
pub fn lead_id(lead: &Lead) -> LeadId {
    LeadId::parse(&lead.id).expect("lead id")
}

/// A value bound by [`Raw`].
#[derive(Debug, Clone, Copy)]
pub enum RawArg<'a> {
    /// Text.
    T(&'a str),
    /// An integer.
    I(i64),
}

/// A direct connection to a case's database, for what the store's API cannot do or say
/// (deleting an organization, changing a lead's source, counting rows with plain SQL).
pub enum Raw {
    /// SQLite (foreign keys on, as the store has them).
    Sqlite(SqliteConnection),
    /// PostgreSQL, in the case's schema.
    Pg(PgConnection),
}

macro_rules! raw_bind {
    ($sql:expr, $args:expr) => {{
        let mut q = sqlx::query(AssertSqlSafe($sql.to_owned()));
        for a in $args {
            q = match *a {
                RawArg::T(s) => q.bind(s.to_owned()),
                RawArg::I(i) => q.bind(i),
            };
        }
        q
    }};
}

impl Raw {
    /// Connects to a URL from `on_sqlite_raw` or `on_postgres_raw`.
    pub async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(SqliteConnection::connect(url).await.expect("raw sqlite"))
        } else {
            Self::Pg(PgConnection::connect(url).await.expect("raw postgres"))
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub async fn exec(&mut self, sql: &str, args: &[RawArg<'_>]) -> u64 {
        match self {
            Self::Sqlite(c) => raw_bind!(sql, args)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()),
            Self::Pg(c) => raw_bind!(sql, args)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of every row, as text.
    pub async fn texts(&mut self, sql: &str, args: &[RawArg<'_>]) -> Vec<String> {
        use sqlx::Row as _;
        match self {
            Self::Sqlite(c) => raw_bind!(sql, args)
                .fetch_all(&mut *c)
                .await
                .map(|rows| rows.iter().map(|r| r.get::<String, _>(0)).collect()),
            Self::Pg(c) => raw_bind!(sql, args)
                .fetch_all(&mut *c)
                .await
                .map(|rows| rows.iter().map(|r| r.get::<String, _>(0)).collect()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A single BIGINT (a `COUNT(*)`).
    pub async fn count(&mut self, sql: &str, args: &[RawArg<'_>]) -> i64 {
        use sqlx::Row as _;
        match self {
            Self::Sqlite(c) => raw_bind!(sql, args)
                .fetch_one(&mut *c)
                .await
                .map(|r| r.get::<i64, _>(0)),
            Self::Pg(c) => raw_bind!(sql, args)
                .fetch_one(&mut *c)
                .await
                .map(|r| r.get::<i64, _>(0)),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}
