//! Rate limits through the real router: the seed's table for every scope × plan, route caps,
//! daily quotas, concurrency caps, and global buckets in a real Redis (with the fallback when
//! Redis dies and the recovery when it returns).

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;
use synaptiq_core::gcra::Rate;
use synaptiq_core::plan::{Plan, RatePolicy};
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_server::ratelimit::redis::RedisBuckets;
use synaptiq_server::ratelimit::{Bucket, BucketKind, RateLimiter};

#[tokio::test]
async fn seed_table_for_every_scope_and_plan() {
    let t = TestApp::with_policy(RatePolicy::default()).await;
    let expected = [
        (Plan::Starter, [120, 60, 30]),
        (Plan::Pro, [600, 300, 150]),
        (Plan::Enterprise, [3000, 1500, 750]),
    ];
    let mut keys = Vec::new();
    for scope in Scope::ALL {
        keys.push(t.key_of(t.org_b.clone(), Environment::Live, scope).await.1);
    }
    for (plan, limits) in expected {
        t.store.set_plan(&t.org_b, plan).await.expect("plan");
        t.app
            .keys
            .observe_epoch(t.store.change_epoch().await.expect("epoch"));
        for (key, limit) in keys.iter().zip(limits) {
            let r = t.get("/api/v1/me", key).await;
            assert_eq!(r.header("x-ratelimit-limit"), limit.to_string(), "{plan:?}");
            assert_eq!(
                r.header("ratelimit-policy"),
                format!(r#""minute";q={limit};w=60"#)
            );
            assert_eq!(r.body["rateLimit"]["limit"], limit);
        }
    }
}

#[tokio::test]
async fn route_caps_and_daily_quota() {
    let policy = RatePolicy::from_toml(
        "[plans.starter]\nread = 1000\nwrite = 1000\nadmin = 1000\n\
         [[routes]]\nmethod = \"POST\"\npath = \"/api/v1/leads\"\nper_minute = 3\n\
         [daily_quota]\npro = 5\n",
    )
    .expect("policy");
    let t = TestApp::with_policy(policy).await;
    let k = t.keys.a_live_write.clone();
    for i in 0..3 {
        t.lead(&k, &format!("cap{i}@example.com")).await;
    }
    let r = t
        .call(
            Method::POST,
            "/api/v1/leads",
            Some(&k),
            Some(json!({"email": "cap9@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let msg = r.body["error"]["message"].as_str().expect("msg");
    assert!(
        msg.contains("3 requests per minute on POST /api/v1/leads"),
        "{msg}"
    );
    // Other routes are not capped, and the refused POST spent nothing of the minute bucket.
    let r = t.get("/api/v1/leads", &k).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-ratelimit-remaining"), "996");
    // Daily quota on the pro plan: 5 per day.
    t.store.set_plan(&t.org_b, Plan::Pro).await.expect("plan");
    let b = t.keys.b_live_admin.clone();
    for _ in 0..5 {
        assert_eq!(t.get("/api/v1/me", &b).await.status, StatusCode::OK);
    }
    let r = t.get("/api/v1/me", &b).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("Daily quota of 5")
    );
    let retry: u64 = r.header("retry-after").parse().expect("retry-after");
    assert!(retry > 60 && retry <= 86_400 / 5 + 1, "{retry}");
}

/// A key's buckets and unwritten usage live beside its cached record, yet outlive it: with the
/// key cache emptied (as a change made elsewhere does), the spent budget still counts and no
/// request goes uncounted.
#[tokio::test]
async fn a_keys_budget_and_usage_outlive_its_cached_record() {
    let policy =
        RatePolicy::from_toml("[plans.starter]\nread = 3\nwrite = 3\nadmin = 3\n").expect("policy");
    let t = TestApp::with_policy(policy).await;
    let k = t.keys.a_live_write.clone();
    for left in ["2", "1"] {
        let r = t.get("/api/v1/me", &k).await;
        assert_eq!(r.header("x-ratelimit-remaining"), left);
        t.app.keys.clear();
    }
    let r = t.get("/api/v1/me", &k).await;
    assert_eq!(r.status, StatusCode::OK);
    t.app.keys.clear();
    t.app.usage.flush(t.store.as_ref()).await;
    let r = t.get("/api/v1/me", &k).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth in the minute"
    );
    t.app.keys.clear();
    t.app.usage.flush_all(t.store.as_ref()).await;
    let org = t.org_a.clone();
    let counted: Vec<(u64, u64)> = t
        .store
        .usage_counts(&org, Environment::Live, synaptiq_types::time::Timestamp(0))
        .await
        .expect("counts")
        .iter()
        .map(|c| (c.ok, c.rate_limited))
        .collect();
    assert_eq!(counted, vec![(3, 1)]);
}

#[tokio::test]
async fn concurrency_cap_per_key() {
    let limiter = RateLimiter::default();
    let a = limiter.enter("key_a", 2).expect("first");
    let _b = limiter.enter("key_a", 2).expect("second");
    assert!(limiter.enter("key_a", 2).is_none(), "third must wait");
    assert!(
        limiter.enter("key_b", 2).is_some(),
        "other keys are independent"
    );
    drop(a);
    assert!(
        limiter.enter("key_a", 2).is_some(),
        "a slot is released on drop"
    );
}

/// A private redis-server on a free port, killed on drop.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let r = Self { child, port };
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(r);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// How many of `id`'s requests `limiter` allows against `per_minute`, one every 10 ms for `how_long`.
async fn allowed_for(limiter: &RateLimiter, id: &str, per_minute: u32, how_long: Duration) -> u32 {
    let started = std::time::Instant::now();
    let mut allowed = 0;
    while started.elapsed() < how_long {
        if limiter
            .check(id, &minute(per_minute), true)
            .await
            .refused
            .is_none()
        {
            allowed += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    allowed
}

fn minute(n: u32) -> Vec<Bucket> {
    vec![Bucket {
        rate: Rate::per_minute(n),
        kind: BucketKind::Minute,
    }]
}

#[tokio::test]
async fn redis_buckets_are_shared_exact_and_fall_back() {
    let port = free_port();
    let Some(redis) = PrivateRedis::start(port) else {
        eprintln!(
            "Redis rate-limit test SKIPPED: `redis-server` is not installed (apt-get install redis-server)"
        );
        return;
    };
    let id = format!("key_{}", ulid::Ulid::new());
    // Two limiters = two server processes sharing one Redis.
    let a = RateLimiter::new(Some(
        RedisBuckets::connect(&redis.url(), Duration::from_secs(2))
            .await
            .expect("redis"),
    ));
    let b = RateLimiter::new(Some(
        RedisBuckets::connect(&redis.url(), Duration::from_secs(2))
            .await
            .expect("redis"),
    ));
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..25 {
                if limiter
                    .check(&id, &minute(100), true)
                    .await
                    .refused
                    .is_none()
                {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += t.await.expect("task");
    }
    // 400 attempts in well under a second against a bucket of 100 (refill ≈ 1.7/s).
    assert!(
        (100..=102).contains(&allowed),
        "allowed {allowed} of 400 against a limit of 100"
    );
    assert!(!a.degraded() && !b.degraded());

    // Redis dies: each request falls back to this process's buckets, which shadowed the
    // global state while Redis answered: the key used its whole minute, so the fallback
    // refuses too (it used to hand out a fresh 100). After a few consecutive failures the
    // limiter reports itself degraded.
    drop(redis);
    for n in 0..synaptiq_server::ratelimit::FAILURES_TO_DEGRADE {
        let v = a.check(&id, &minute(100), true).await;
        assert!(
            v.refused.is_some(),
            "the fallback starts from the shadow, not a full bucket (attempt {n})"
        );
    }
    assert!(a.degraded(), "degraded after Redis died");
    // Over the outage the key gets its refill only: 100/min is 1.67/s.
    let during = allowed_for(&a, &id, 100, Duration::from_secs(3)).await;
    assert!(
        during <= 6,
        "{during} allowed in 3 s of fallback against 100/min (5 due, +1 for the edges)"
    );
    let fail = a.auth_failure("10.9.8.7".parse().expect("ip"), 1000).await;
    assert!(
        !fail.decision.allowed,
        "failed authentication fails closed while degraded"
    );
    // Redis returns on the same port: the probe restores global limits.
    let _redis = PrivateRedis::start(port).expect("restart redis");
    for _ in 0..50 {
        a.probe().await;
        if !a.degraded() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!a.degraded(), "recovered after Redis came back");
    // The restarted Redis is empty (it keeps nothing on disk), but it does not hand the key a
    // fresh 100: the node sends its own backlog, which Redis uses for a bucket it does not
    // hold, so the key only gets its refill.
    let after = allowed_for(&a, &id, 100, Duration::from_secs(2)).await;
    assert!(
        (1..=5).contains(&after),
        "{after} allowed in 2 s after Redis restarted empty, against 100/min (3-4 due)"
    );
    assert!(!a.degraded(), "those answers came from Redis");
}

/// A request refused by one bucket charges none of the others, in Redis or in this node's copy:
/// a client retrying a minute-limited key does not eat into its daily quota.
#[tokio::test]
async fn a_refusal_by_one_bucket_charges_no_other() {
    let Some(redis) = PrivateRedis::start(free_port()) else {
        eprintln!(
            "Redis rate-limit test SKIPPED: `redis-server` is not installed (apt-get install redis-server)"
        );
        return;
    };
    let limiter = RateLimiter::new(Some(
        RedisBuckets::connect(&redis.url(), Duration::from_secs(2))
            .await
            .expect("redis"),
    ));
    let id = format!("key_{}", ulid::Ulid::new());
    let buckets = [
        Bucket {
            rate: Rate::per_minute(3),
            kind: BucketKind::Minute,
        },
        Bucket {
            rate: Rate::per_day(50),
            kind: BucketKind::Daily,
        },
    ];
    for n in 0..3 {
        let o = limiter.check(&id, &buckets, true).await;
        assert!(o.refused.is_none(), "request {n} is within both budgets");
    }
    // What a dry run reports of the daily bucket now, with 3 requests charged to it.
    let daily = |o: synaptiq_server::ratelimit::Outcome| o.verdicts[1].decision.remaining;
    let before = daily(limiter.check(&id, &buckets, false).await);
    assert!(
        (46..=47).contains(&before),
        "3 of 50 charged: {before} left"
    );
    for _ in 0..40 {
        let o = limiter.check(&id, &buckets, true).await;
        assert_eq!(o.refused, Some(0), "the minute bucket refuses");
    }
    assert_eq!(
        daily(limiter.check(&id, &buckets, false).await),
        before,
        "the 40 refused requests charged the daily quota"
    );
    assert!(!limiter.degraded(), "Redis answered throughout");
}
