use synaptiq_core::ids::WebhookEndpointId;
use synaptiq_core::webhook::WebhookSecret;

use super::*;

fn claimed(attempts: i64) -> Option<ClaimedDelivery> {
    Some(ClaimedDelivery {
        endpoint_id: WebhookEndpointId::generate(),
        url: "https://example.com/hook".to_owned(),
        secrets: vec![WebhookSecret::generate().ok()?],
        event_id: "evt_01HQ3VXK9BWMN4F6T2P8R5GYSC".to_owned(),
        kind: "lead.created".to_owned(),
        version: 1,
        data: "{}".to_owned(),
        created_at: Timestamp(0),
        attempts,
    })
}

fn answered(status: u16, retry_after: Option<u64>) -> Ended {
    Ended::Answered {
        status,
        retry_after,
        body: String::new(),
    }
}

const NOW: Timestamp = Timestamp(1_000_000_000);

fn next_of(attempts: i64, ended: Ended) -> Next {
    match claimed(attempts) {
        Some(d) => outcome(&d, NOW, ended, 5, 0.0).next,
        None => Next::GiveUp,
    }
}

#[test]
fn the_schedule_follows_each_answer() {
    let secs = |s: i64| Next::RetryAt(Timestamp(NOW.millis() + s * 1000));
    assert_eq!(next_of(0, answered(200, None)), Next::Delivered);
    assert_eq!(next_of(0, answered(204, None)), Next::Delivered);
    assert_eq!(
        next_of(0, answered(500, None)),
        secs(5),
        "attempt 1 failed: 5 s"
    );
    assert_eq!(
        next_of(1, answered(500, None)),
        secs(300),
        "attempt 2 failed: 5 min"
    );
    assert_eq!(
        next_of(0, Ended::Failed("timeout")),
        secs(60),
        "timeout: at least 60 s"
    );
    assert_eq!(
        next_of(0, answered(429, None)),
        secs(60),
        "429: at least 60 s"
    );
    assert_eq!(
        next_of(0, answered(429, Some(90))),
        secs(90),
        "Retry-After within [60, 120]"
    );
    assert_eq!(
        next_of(0, answered(429, Some(9999))),
        secs(120),
        "Retry-After capped at 2x"
    );
    assert_eq!(
        next_of(2, answered(503, Some(1))),
        secs(1800),
        "Retry-After below: the delay"
    );
    assert_eq!(next_of(0, answered(410, None)), Next::Gone);
    assert_eq!(
        next_of(0, answered(301, None)),
        secs(5),
        "a redirect is a failure"
    );
    assert_eq!(
        next_of(9, answered(500, None)),
        Next::GiveUp,
        "the tenth failure gives up"
    );
    assert_eq!(next_of(0, Ended::Failed("connect")), secs(5));
}

#[test]
fn the_outcome_records_the_attempt() {
    let Some(d) = claimed(3) else { return };
    let o = outcome(&d, NOW, answered(302, None), 12, 0.0);
    assert_eq!(o.attempts, 4);
    assert_eq!(o.http_status, Some(302));
    assert_eq!(o.error.as_deref(), Some("redirect"));
    let o = outcome(&d, NOW, Ended::Failed("dns"), 7, 0.0);
    assert_eq!((o.http_status, o.error.as_deref()), (None, Some("dns")));
    let o = outcome(&d, NOW, answered(200, None), 7, 0.0);
    assert_eq!(o.error, None);
}

#[test]
fn literal_internal_hosts_are_refused() {
    assert!(literal_blocked("https://127.0.0.1/x"));
    assert!(literal_blocked("https://[::1]:8443/x"));
    assert!(literal_blocked("http://169.254.169.254/latest"));
    assert!(!literal_blocked("https://93.184.216.34/x"));
    assert!(!literal_blocked("https://example.com/x"));
}
