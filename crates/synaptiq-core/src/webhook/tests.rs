//! Secrets, signatures and the retry schedule.

use super::*;

fn secret(byte: u8, len: usize) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(vec![byte; len]))
}

#[test]
fn secrets_are_whsec_and_24_to_64_bytes() {
    let generated = WebhookSecret::generate().expect("random");
    let text = generated.encoded();
    assert!(text.starts_with("whsec_"));
    assert_eq!(B64.decode(&text[6..]).expect("base64").len(), 32);
    let parsed = WebhookSecret::parse(&text).expect("its own text parses");
    assert_eq!(parsed.encoded(), text);
    assert_ne!(WebhookSecret::generate().expect("random").encoded(), text);

    assert!(WebhookSecret::parse(&secret(7, 24)).is_ok());
    assert!(WebhookSecret::parse(&secret(7, 64)).is_ok());
    let refused = [
        (secret(7, 23), SecretError::Length(23)),
        (secret(7, 65), SecretError::Length(65)),
        (secret(7, 32)[6..].to_owned(), SecretError::Prefix),
        ("whsec_not base64!".to_owned(), SecretError::Base64),
        (String::new(), SecretError::Prefix),
    ];
    for (text, why) in refused {
        assert_eq!(WebhookSecret::parse(&text).err(), Some(why), "{text:?}");
    }
}

#[test]
fn debug_never_shows_the_secret() {
    let s = WebhookSecret::parse(&secret(0xAB, 32)).expect("secret");
    let shown = format!("{s:?}");
    assert_eq!(shown, "WebhookSecret(whsec_…)");
    assert!(!shown.contains(&s.encoded()[6..12]));
}

#[test]
fn signatures_verify_under_either_secret_of_a_rotation() {
    let old = WebhookSecret::parse(&secret(1, 32)).expect("old");
    let new = WebhookSecret::parse(&secret(2, 32)).expect("new");
    let other = WebhookSecret::parse(&secret(3, 32)).expect("other");
    let (id, ts, body) = (
        "evt_01",
        1_800_000_000,
        br#"{"type":"lead.created"}"#.as_slice(),
    );
    let header = signature_header(&[&new, &old], id, ts, body);
    assert_eq!(header.split(' ').count(), 2);
    assert!(header.starts_with("v1,"));
    let now = ts + 10;
    assert_eq!(
        verify(&[&new], id, "1800000000", &header, body, now),
        Ok(())
    );
    assert_eq!(
        verify(&[&old], id, "1800000000", &header, body, now),
        Ok(())
    );
    assert_eq!(
        verify(&[&other], id, "1800000000", &header, body, now),
        Err(VerifyError::Signature)
    );
    // Every part is signed: the id, the timestamp and each byte of the body.
    let bad = [
        verify(&[&new], "evt_02", "1800000000", &header, body, now),
        verify(&[&new], id, "1800000001", &header, body, now),
        verify(
            &[&new],
            id,
            "1800000000",
            &header,
            b"{\"type\":\"lead.created\"} ",
            now,
        ),
        verify(&[&new], id, "1800000000", "v2,AAAA", body, now),
        verify(&[&new], id, "1800000000", "", body, now),
    ];
    assert!(
        bad.iter().all(|r| *r == Err(VerifyError::Signature)),
        "{bad:?}"
    );
    assert_eq!(
        verify(&[&new], id, "soon", &header, body, now),
        Err(VerifyError::Timestamp)
    );
    let late = now + TOLERANCE_SECS;
    assert_eq!(
        verify(&[&new], id, "1800000000", &header, body, late),
        Err(VerifyError::Stale)
    );
    for hostile in ["-9223372036854775808", "9223372036854775807"] {
        let r = verify(&[&new], id, hostile, &header, body, now);
        assert_eq!(r, Err(VerifyError::Stale), "{hostile}");
    }
    let early = ts - TOLERANCE_SECS - 1;
    assert_eq!(
        verify(&[&new], id, "1800000000", &header, body, early),
        Err(VerifyError::Stale)
    );
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

#[test]
fn the_schedule_without_jitter() {
    let delays: Vec<Option<f64>> = (1..=10)
        .map(|n| secs(next_delay(n, Failure::Network, 0.0)))
        .collect();
    let want = [
        5,
        5 * MIN,
        30 * MIN,
        2 * HOUR,
        5 * HOUR,
        10 * HOUR,
        14 * HOUR,
        20 * HOUR,
        24 * HOUR,
    ];
    for (n, w) in want.iter().enumerate() {
        assert_eq!(delays[n], Some(*w as f64), "after attempt {}", n + 1);
    }
    assert_eq!(delays[9], None, "the tenth attempt is the last");
    let total: u64 = want.iter().sum();
    assert_eq!(total, 75 * HOUR + 35 * MIN + 5, "about three days in all");
}

#[test]
fn jitter_is_twenty_percent_either_way() {
    assert_eq!(secs(next_delay(3, Failure::Network, -1.0)), Some(1440.0));
    assert_eq!(secs(next_delay(3, Failure::Network, 1.0)), Some(2160.0));
    assert_eq!(
        secs(next_delay(3, Failure::Network, 9.0)),
        Some(2160.0),
        "clamped"
    );
    let draws: Vec<f64> = (0..1000).map(|_| jitter_draw()).collect();
    assert!(draws.iter().all(|d| (-1.0..=1.0).contains(d)));
    assert!(draws.iter().any(|d| *d < -0.5) && draws.iter().any(|d| *d > 0.5));
}

#[test]
fn overload_waits_at_least_a_minute_and_retry_after_is_bounded() {
    use Failure::{Status, Timeout, TooManyRequests as TooMany};
    // (attempts made, how the last failed, the delay before the next, in seconds)
    let cases = [
        // After the first attempt the schedule says 5 s; a 429 or a timeout makes it 60 s.
        (1, Status(None), Some(5.0)),
        (1, Timeout, Some(60.0)),
        (1, TooMany(None), Some(60.0)),
        // Retry-After is honoured within [delay, 2 × delay].
        (1, TooMany(Some(90)), Some(90.0)),
        (1, TooMany(Some(3600)), Some(120.0)),
        (1, TooMany(Some(0)), Some(60.0)),
        (2, Status(Some(400)), Some(400.0)),
        (2, Status(Some(1)), Some(300.0)),
        // The tenth attempt is the last, whatever the receiver asks.
        (10, TooMany(Some(5)), None),
    ];
    for (attempts, failure, want) in cases {
        let got = secs(next_delay(attempts, failure, 0.0));
        assert_eq!(got, want, "after attempt {attempts}, {failure:?}");
    }
}
