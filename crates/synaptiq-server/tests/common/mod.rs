//! `TestApp`: the real router over a real SQLite file, driven in-process (no sockets), with
//! two organizations and keys of every kind.

#![allow(
    dead_code,
    reason = "shared by the server's and the dashboard's test binaries, each using part of it"
)]

pub mod dashboard;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use synaptiq_app::keys::KeySpec;
use synaptiq_app::{Actor, NoAuthCache, Services};
use synaptiq_core::hash::Pepper;
use synaptiq_core::ids::OrgId;
use synaptiq_core::plan::{Plan, RatePolicy};
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_server::stack::ClientAddr;
use synaptiq_server::{AppState, ServerConfig};
use synaptiq_store::Store;
use tower::ServiceExt;

/// Keys of every kind used by the tests (full secrets, test-only).
pub struct Keys {
    pub a_live_read: String,
    pub a_live_write: String,
    pub a_live_admin: String,
    pub a_test_admin: String,
    pub a_test_read: String,
    pub b_live_admin: String,
}

pub struct TestApp {
    pub app: AppState,
    pub router: synaptiq_server::stack::Stack,
    pub store: Arc<dyn Store>,
    pub org_a: OrgId,
    pub org_b: OrgId,
    pub keys: Keys,
    _dir: tempfile::TempDir,
    _pg: Option<PgSchema>,
}

/// With `SYNAPTIQ_TEST_BACKEND=postgres`, every `TestApp` runs on a fresh schema of the
/// PostgreSQL server in `SYNAPTIQ_TEST_POSTGRES_URL`, dropped when the test ends.
async fn postgres_schema() -> (String, Option<String>) {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    let base = std::env::var("SYNAPTIQ_TEST_POSTGRES_URL")
        .expect("SYNAPTIQ_TEST_BACKEND=postgres needs SYNAPTIQ_TEST_POSTGRES_URL");
    let schema = format!("t_{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("postgres reachable");
    // The schema name is generated here, never taken from input.
    admin
        .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("create schema");
    let _ = admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        format!("{base}{sep}options[search_path]={schema}&max_connections=4"),
        Some(schema),
    )
}

/// Drops its schema when the test ends (through `psql`, since `Drop` cannot await).
struct PgSchema(String);

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(url) = std::env::var("SYNAPTIQ_TEST_POSTGRES_URL") {
            let _ = std::process::Command::new("psql")
                .arg(url)
                .arg("-q")
                .arg("-c")
                .arg("SET lock_timeout = '5s'")
                .arg("-c")
                .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Asserts a 400 naming `param`; `what` says which request, in the failure message.
    #[track_caller]
    pub fn assert_invalid(&self, param: &str, what: &str) {
        assert_eq!(
            self.status,
            StatusCode::BAD_REQUEST,
            "{what}: {:?}",
            self.body
        );
        assert_eq!(
            self.body["error"]["param"], param,
            "{what}: {:?}",
            self.body
        );
    }
}

impl TestApp {
    /// A fresh app whose limits never interfere.
    pub async fn new() -> Self {
        Self::with_policy(RatePolicy::uniform(1_000_000)).await
    }

    pub async fn with_policy(policy: RatePolicy) -> Self {
        Self::build(policy, |_| {}, Vec::new()).await
    }

    /// An app under `policy`, its configuration changed by `configure`, serving `extra`
    /// routes beside the table's.
    pub async fn build(
        policy: RatePolicy,
        configure: impl FnOnce(&mut ServerConfig),
        extra: Vec<synaptiq_server::routes::Route>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, pg_schema) = match std::env::var("SYNAPTIQ_TEST_BACKEND").as_deref() {
            Ok("postgres") => postgres_schema().await,
            _ => (
                format!("sqlite://{}", dir.path().join("t.db").display()),
                None,
            ),
        };
        let store = synaptiq_store::open(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        let (pepper, _) = Pepper::generate(1).expect("pepper");
        let mut config = ServerConfig::new(dir.path().to_owned());
        config.rate_policy = policy;
        configure(&mut config);
        let app = synaptiq_server::App::build(store.clone(), pepper.clone(), config);
        // The product's router, as the binary builds it: the API table and the dashboard.
        let mut routes = synaptiq_dashboard::routes();
        routes.extend(extra);
        let router = synaptiq_server::stack::router_with(app.clone(), routes);
        let org_a = store
            .create_org("Org A", Plan::Starter)
            .await
            .expect("org")
            .id;
        let org_b = store
            .create_org("Org B", Plan::Starter)
            .await
            .expect("org")
            .id;
        let mk = |org: OrgId, env, scope| {
            let (store, pepper) = (store.clone(), pepper.clone());
            async move {
                let spec = KeySpec {
                    org_id: org,
                    environment: env,
                    scope,
                    name: format!("{env} {scope}"),
                    expires_at: None,
                    allowed_ips: vec![],
                    rotated_from: None,
                };
                let (_, secret) = issue(&store, &pepper, spec, &Actor::local("test"))
                    .await
                    .expect("key");
                secret.expose().to_owned()
            }
        };
        use Environment::{Live, Test};
        let keys = Keys {
            a_live_read: mk(org_a.clone(), Live, Scope::Read).await,
            a_live_write: mk(org_a.clone(), Live, Scope::Write).await,
            a_live_admin: mk(org_a.clone(), Live, Scope::Admin).await,
            a_test_admin: mk(org_a.clone(), Test, Scope::Admin).await,
            a_test_read: mk(org_a.clone(), Test, Scope::Read).await,
            b_live_admin: mk(org_b.clone(), Live, Scope::Admin).await,
        };
        Self {
            app,
            router,
            store,
            org_a,
            org_b,
            keys,
            _dir: dir,
            _pg: pg_schema.map(PgSchema),
        }
    }

    /// Sends a request through the real router.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        Self::send_through(&self.router, req).await
    }

    /// Sends a request through `stack`.
    pub async fn send_through(stack: &synaptiq_server::stack::Stack, req: Request<Body>) -> Reply {
        let client = ClientAddr(SocketAddr::from(([127, 0, 0, 1], 40000)));
        let res = client
            .scope(stack.clone().oneshot(req))
            .await
            .expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET path` with `key`.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `POST path` with `key` and a JSON body.
    pub async fn post_json(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// `PATCH path` with `key` and a JSON body.
    pub async fn patch_json(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }

    /// `DELETE path` with `key`.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// A request with an optional key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        Self::send_through(&self.router, request(method, path, key, body)).await
    }
}

/// A request with an optional key and JSON body.
pub fn request(
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&v).expect("json")))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    }
}

impl TestApp {
    /// Creates a key of organization A and returns its id.
    pub async fn key_id(&self, env: Environment, scope: Scope) -> String {
        self.key_of(self.org_a.clone(), env, scope).await.0
    }

    /// Creates a key and returns (id, secret).
    pub async fn key_of(&self, org: OrgId, env: Environment, scope: Scope) -> (String, String) {
        let spec = KeySpec {
            org_id: org,
            environment: env,
            scope,
            name: "fixture".into(),
            expires_at: None,
            allowed_ips: vec![],
            rotated_from: None,
        };
        let (rec, secret) = issue(&self.store, &self.app.pepper, spec, &Actor::local("test"))
            .await
            .expect("key");
        (rec.id.to_string(), secret.expose().to_owned())
    }

    /// Creates a lead with `key` and returns its id.
    pub async fn lead(&self, key: &str, email: &str) -> String {
        let r = self
            .post_json("/api/v1/leads", key, serde_json::json!({"email": email}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }
}

/// Issues a key the way the CLI does (no key cache of this process to clear).
pub async fn issue(
    store: &Arc<dyn Store>,
    pepper: &Pepper,
    spec: KeySpec,
    actor: &Actor,
) -> Result<(synaptiq_store::KeyRecord, synaptiq_core::key::ApiKeySecret), synaptiq_store::StoreError>
{
    Services::new(store.clone(), Arc::new(NoAuthCache))
        .issue_key(pepper, spec, actor)
        .await
}
