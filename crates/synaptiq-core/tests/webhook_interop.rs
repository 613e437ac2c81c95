//! Our webhook signatures against the Standard Webhooks reference library for Rust
//! (`standardwebhooks` on crates.io): it accepts what we sign, we accept what it signs, and
//! neither accepts a changed body or a secret that did not sign.

#![expect(
    clippy::expect_used,
    reason = "tests: a failed step must fail the test"
)]

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use standardwebhooks::Webhook;
use synaptiq_core::webhook::{WebhookSecret, signature_header, verify};

fn now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

fn headers(id: &str, ts: i64, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_str(id).expect("id"));
    h.insert("webhook-timestamp", HeaderValue::from(ts));
    h.insert(
        "webhook-signature",
        HeaderValue::from_str(signature).expect("signature"),
    );
    h
}

/// The example of the Standard Webhooks specification (its secret, id, timestamp, body and
/// signature): we produce the same signature as the reference library, and the spec's.
#[test]
fn the_specifications_example() {
    let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let (id, ts) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330);
    let body = br#"{"test": 2432232314}"#;
    let ours = secret.sign(id, ts, body);
    let theirs = Webhook::new(&secret.encoded())
        .expect("their secret")
        .sign(id, ts, body)
        .expect("their signature");
    assert_eq!(ours, theirs);
    assert_eq!(ours, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any UTF-8 body (the reference library refuses others) and any id: the library accepts
    /// our header, also with a second secret's signature beside it (a rotation), and refuses
    /// it for a changed body; we accept the library's signature, and only under its secret.
    #[test]
    fn each_accepts_the_others_signatures(
        body in ".{0,300}",
        id in "evt_[0-9A-Z]{26}",
        at in any::<prop::sample::Index>(),
    ) {
        let current = WebhookSecret::generate().expect("random");
        let previous = WebhookSecret::generate().expect("random");
        let ts = now();
        let reference = Webhook::new(&current.encoded()).expect("their secret");
        let reference_old = Webhook::new(&previous.encoded()).expect("their secret");

        let header = signature_header(&[&current, &previous], &id, ts, body.as_bytes());
        prop_assert!(reference.verify(body.as_bytes(), &headers(&id, ts, &header)).is_ok());
        prop_assert!(reference_old.verify(body.as_bytes(), &headers(&id, ts, &header)).is_ok());

        // One character more, at a chosen place: still UTF-8, no longer what was signed.
        let mut changed = body.clone();
        let places: Vec<usize> = (0..=body.len()).filter(|i| body.is_char_boundary(*i)).collect();
        changed.insert(places[at.index(places.len())], 'x');
        prop_assert!(reference.verify(changed.as_bytes(), &headers(&id, ts, &header)).is_err());

        let theirs = reference.sign(&id, ts, body.as_bytes()).expect("their signature");
        let t = ts.to_string();
        prop_assert_eq!(verify(&[&current], &id, &t, &theirs, body.as_bytes(), now()), Ok(()));
        prop_assert!(verify(&[&previous], &id, &t, &theirs, body.as_bytes(), now()).is_err());
        prop_assert!(verify(&[&current], &id, &t, &theirs, changed.as_bytes(), now()).is_err());
    }
}
