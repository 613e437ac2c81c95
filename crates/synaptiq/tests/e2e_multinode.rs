//! Scale-out through real processes: two `synaptiq serve` nodes on one PostgreSQL and one
//! Redis behave as one, and a PostgreSQL outage gives 503s (never 500s or hangs) and heals by
//! itself. Skipped, saying so, when no PostgreSQL is configured.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Options, Server};
use serde_json::json;

const PG_VAR: &str = "SYNAPTIQ_TEST_POSTGRES_URL";

/// A schema of its own on the configured PostgreSQL, dropped at the end.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn create() -> Option<Self> {
        let Ok(base) = std::env::var(PG_VAR) else {
            eprintln!(
                "multi-node PostgreSQL test SKIPPED: set {PG_VAR}=postgres://USER@HOST:5432/DB to run it"
            );
            return None;
        };
        let name = format!("e2e_{}", ulid::Ulid::new().to_string().to_lowercase());
        psql(&base, &format!("CREATE SCHEMA {name}"));
        Some(Self { base, name })
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let ok = Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .arg(url)
        .arg("-qc")
        .arg(sql)
        .stdout(Stdio::null())
        .status();
    assert!(ok.is_ok_and(|s| s.success()), "psql: {sql}");
}

fn pepper() -> String {
    let bytes: Vec<String> = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    format!("v1:{}", bytes.concat())
}

fn rand_byte() -> u8 {
    (ulid::Ulid::new().random() & 0xff) as u8
}

fn node_env(db: &str, pepper: &str) -> Options {
    Options::default()
        .env("SYNAPTIQ_DATABASE_URL", db)
        .env("SYNAPTIQ_KEY_PEPPER", pepper)
}

fn redis_available() -> bool {
    std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().expect("addr"),
        Duration::from_millis(300),
    )
    .is_ok()
}

async fn status(s: &Server, key: &str) -> u16 {
    s.client()
        .get(s.url("/api/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_behave_as_one() {
    let Some(schema) = Schema::create() else {
        return;
    };
    let redis_args: Vec<&str> = if redis_available() {
        vec!["--redis-url", "redis://127.0.0.1:6379"]
    } else {
        vec![]
    };
    let pepper = pepper();
    let a = Server::start_with(node_env(&schema.url(), &pepper).args(&redis_args));
    let b = Server::start_with(
        node_env(&schema.url(), &pepper)
            .args(&redis_args)
            .second_node(),
    );
    let admin = a.bootstrap_key.clone();

    // A key created on node A works on node B at once.
    let created = a
        .client()
        .post(a.url("/api/v1/keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "multi", "scope": "read"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.expect("json");
    let (id, key) = (
        created["id"].as_str().expect("id").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    );
    assert_eq!(status(&b, &key).await, 200, "created on A, used on B");

    // Revoked on A: B refuses it within a second.
    let r = a
        .client()
        .post(a.url(&format!("/api/v1/keys/{id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 200);
    let revoked_at = Instant::now();
    while status(&b, &key).await != 401 {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "node B still accepts a key revoked on A"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delay = revoked_at.elapsed();
    eprintln!(
        "revocation on node A refused by node B after {} ms",
        delay.as_millis()
    );
    assert!(delay <= Duration::from_secs(1), "took {delay:?}");

    // Rotated on B with a grace period: both keys work on A until the deadline.
    let (old_id, old) = {
        let r = b
            .client()
            .post(b.url("/api/v1/keys"))
            .bearer_auth(&admin)
            .json(&json!({"name": "rotate-me", "scope": "read"}))
            .send()
            .await
            .expect("create");
        let v: serde_json::Value = r.json().await.expect("json");
        (
            v["id"].as_str().expect("id").to_owned(),
            v["secret"].as_str().expect("secret").to_owned(),
        )
    };
    let r = b
        .client()
        .post(b.url(&format!("/api/v1/keys/{old_id}/rotate")))
        .bearer_auth(&admin)
        .json(&json!({"gracePeriodSeconds": 120}))
        .send()
        .await
        .expect("rotate");
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.expect("json");
    let new = v["newKey"]["secret"].as_str().expect("secret").to_owned();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = a
        .client()
        .get(a.url("/api/v1/me"))
        .bearer_auth(&old)
        .send()
        .await
        .expect("old on A");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().contains_key("sunset"),
        "A announces the deadline set on B"
    );
    assert_eq!(status(&a, &new).await, 200);

    // The CLI on the shared database: a plan change reaches both nodes within two seconds.
    let out = a.cli(&["org", "set-plan", &a.org_id, "enterprise"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let changed = Instant::now();
    loop {
        let r = b
            .client()
            .get(b.url("/api/v1/me"))
            .bearer_auth(&new)
            .send()
            .await
            .expect("me");
        if r.headers()["x-ratelimit-limit"] == "3000" {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "plan change not applied on B"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "plan change by the CLI applied on node B after {} ms",
        changed.elapsed().as_millis()
    );
}

mod outage;
