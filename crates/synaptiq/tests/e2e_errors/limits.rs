//! 405 whatever the scope (spending nothing), and rate-limit headers and 429.

use super::*;

/// The method decides a 405 before the key's scope is consulted, and a 405 does not spend
/// quota silently: a read key asking `PUT /api/v1/leads` is told the method is not allowed,
/// not that it needs the `write` scope.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_405_whatever_the_scope_and_spends_nothing() {
    let s = Server::start_with(common::Options::default_limits());
    let c = s.client();
    let (_, read_key) = s.create_key(&s.org_id, "read", "test");
    for method in [Method::PUT, Method::DELETE, Method::TRACE] {
        let r = call(
            &c,
            method.clone(),
            &s.url("/api/v1/leads"),
            Some(&read_key),
            None,
        )
        .await;
        r.assert_error(405, "method_not_allowed");
    }
    let remaining = |r: &Reply| -> u64 {
        r.header("x-ratelimit-remaining")
            .parse()
            .expect("X-RateLimit-Remaining")
    };
    let before = remaining(&get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await);
    for _ in 0..5 {
        let r = call(
            &c,
            Method::PUT,
            &s.url("/api/v1/leads"),
            Some(&s.bootstrap_key),
            None,
        )
        .await;
        r.assert_error(405, "method_not_allowed");
    }
    let after = remaining(&get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await);
    assert!(
        before - after <= 1,
        "five 405 answers spent {} requests of quota without saying so",
        before - after - 1
    );
}

/// §5: the seed's limit for an admin key on starter is 30/min; past it, 429 with
/// `Retry-After`; failed authentications do not spend the key's quota.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_headers_and_429() {
    let s = Server::start_with(common::Options::default_limits());
    let c = s.client();
    let url = s.url("/api/v1/leads");
    let start = std::time::Instant::now();
    let mut last_remaining = u64::MAX;
    let mut refused = None;
    for i in 0..60 {
        let r = get(&c, &url, &s.bootstrap_key).await;
        assert_eq!(r.header("x-ratelimit-limit"), "30", "{r:#?}");
        let reset: i64 = r.header("x-ratelimit-reset").parse().expect("reset");
        assert!(reset > 1_700_000_000, "{r:#?}");
        if r.status == 429 {
            refused = Some((i, r));
            break;
        }
        assert_eq!(r.status, 200, "{r:#?}");
        let remaining: u64 = r
            .header("x-ratelimit-remaining")
            .parse()
            .expect("remaining");
        assert!(remaining <= last_remaining, "{r:#?}");
        last_remaining = remaining;
    }
    let (i, r) = refused.expect("no 429 within 60 requests");
    // GCRA refills one request every 2 s; allow for that while the loop ran.
    let refilled = start.elapsed().as_secs() as usize / 2 + 1;
    assert!(
        (30..=30 + refilled).contains(&i),
        "first 429 after {i} requests"
    );
    r.assert_error(429, "rate_limit_exceeded");
    let retry: u64 = r.header("retry-after").parse().expect("Retry-After");
    assert!((1..=60).contains(&retry), "{r:#?}");
    assert_eq!(r.header("x-ratelimit-retryafter"), r.header("retry-after"));
    assert_eq!(r.header("x-ratelimit-remaining"), "0");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("30"),
        "{r:#?}"
    );
}
