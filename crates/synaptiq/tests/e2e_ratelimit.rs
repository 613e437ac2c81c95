//! Rate limits through the real binary: exactness under concurrency, refill after
//! `Retry-After`, and one global limit across two server processes sharing Redis.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, Server};

/// `CLIENTS` concurrent clients (spread over `servers`) send `n` GET /api/v1/me with `key`
/// in total; returns (200s, 429s).
async fn burst(servers: &[&Server], key: &str, n: usize) -> (usize, usize) {
    const CLIENTS: usize = 32;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let s = servers[c % servers.len()];
        let (client, url, key) = (s.client(), s.url("/api/v1/me"), key.to_owned());
        let share = n / CLIENTS + usize::from(c < n % CLIENTS);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut limited) = (0, 0);
            for _ in 0..share {
                match client
                    .get(&url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
                {
                    200 => ok += 1,
                    429 => limited += 1,
                    other => panic!("unexpected status {other}"),
                }
            }
            (ok, limited)
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for t in tasks {
        let (o, l) = t.await.expect("task");
        ok += o;
        limited += l;
    }
    (ok, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_get_exactly_the_limit_then_refill() {
    let s = Server::start_with(Options::default_limits());
    // The bootstrap key is a starter admin key: 30 per minute, refilling one every 2 s.
    let started = Instant::now();
    let (ok, limited) = burst(&[&s], &s.bootstrap_key, 120).await;
    let elapsed = started.elapsed();
    // Capacity 30 plus what refilled while the burst ran (one per 2 s).
    let refill = (elapsed.as_secs_f64() / 2.0).floor() as usize;
    eprintln!("burst of 120: {ok} × 200, {limited} × 429 in {elapsed:?}");
    assert!(
        ok >= 30 && ok <= 30 + refill + 1,
        "{ok} allowed in {elapsed:?}"
    );
    assert_eq!(ok + limited, 120);
    let r = s
        .client()
        .get(s.url("/api/v1/me"))
        .bearer_auth(&s.bootstrap_key)
        .send()
        .await
        .expect("request");
    if r.status() == 429 {
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("secs");
        assert!((1..=2).contains(&retry), "{retry}");
        tokio::time::sleep(Duration::from_secs(retry)).await;
    }
    let r = s
        .client()
        .get(s.url("/api/v1/me"))
        .bearer_auth(&s.bootstrap_key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "refilled after Retry-After");
}

fn redis_available() -> bool {
    std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().expect("addr"),
        Duration::from_millis(300),
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_limit_through_redis() {
    if !redis_available() {
        eprintln!(
            "two-node Redis test SKIPPED: no Redis on 127.0.0.1:6379 (start redis-server to run it)"
        );
        return;
    }
    let policy_dir = tempfile::tempdir().expect("tempdir");
    let policy = policy_dir.path().join("policy.toml");
    // 600 per minute for admin keys, a generous auth-failure budget.
    std::fs::write(
        &policy,
        "[plans.starter]\nadmin = 600\n[auth_failures]\nper_minute = 100000\n",
    )
    .expect("policy");
    let policy = policy.to_str().expect("utf-8").to_owned();
    let redis = [
        "--redis-url",
        "redis://127.0.0.1:6379",
        "--rate-policy",
        policy.as_str(),
    ];
    let a = Server::start_with(Options::default_limits().args(&redis));
    let b = Server::start_with(
        Options::default_limits()
            .args(&redis)
            .shared_data_dir(&a.data_dir),
    );
    // The key is new, so its bucket in the shared Redis is fresh.
    let (_, key) = a.create_key(&a.org_id, "admin", "live");
    let started = Instant::now();
    let (ok, limited) = burst(&[&a, &b], &key, 1800).await;
    let elapsed = started.elapsed();
    let refill = (elapsed.as_secs_f64() * 10.0).floor() as usize; // 600/min = 10/s
    eprintln!(
        "two nodes, burst of 1800: {ok} × 200, {limited} × 429 in {elapsed:?} (refill allowance {refill})"
    );
    // One global bucket of 600 (± 1 %), not 600 per node.
    assert!(
        ok >= 594 && ok <= 600 + refill + 6,
        "{ok} allowed across two nodes"
    );
    let ready = a
        .client()
        .get(a.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .text()
        .await
        .expect("body");
    assert!(ready.contains("\"rateLimits\":\"global\""), "{ready}");
}
