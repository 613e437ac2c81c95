//! One attempt: sign the delivery, POST it (15 s, no redirects, guarded addresses), read at
//! most 4 KB of the answer, and decide what comes next by the schedule in
//! `synaptiq_core::webhook`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use synaptiq_app::webhooks::address::blocked;
use synaptiq_core::webhook::{Failure, jitter_draw, next_delay, signature_header};
use synaptiq_store::{AttemptOutcome, ClaimedDelivery, Next};
use synaptiq_types::time::Timestamp;

use crate::resolver::ResolveError;

/// How much of an answer's body the delivery log keeps.
pub const RESPONSE_KEPT: usize = 4096;

/// How an attempt ended, before the schedule is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// An answer came.
    Answered {
        /// Its status.
        status: u16,
        /// Its `Retry-After` in seconds, if any.
        retry_after: Option<u64>,
        /// Its first 4 KB.
        body: String,
    },
    /// No answer: the error code (`timeout`, `dns`, `tls`, `connect`, `blocked_address`).
    Failed(&'static str),
}

/// Makes the attempt of `d` at `now` with `client`; `allow_private` as the resolver's.
pub async fn attempt(
    client: &reqwest::Client,
    d: &ClaimedDelivery,
    now: Timestamp,
    allow_private: bool,
) -> AttemptOutcome {
    let started = Instant::now();
    let ended = send(client, d, now, allow_private).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    outcome(d, now, ended, latency_ms, jitter_draw())
}

async fn send(
    client: &reqwest::Client,
    d: &ClaimedDelivery,
    now: Timestamp,
    allow_private: bool,
) -> Ended {
    if !allow_private && literal_blocked(&d.url) {
        return Ended::Failed("blocked_address");
    }
    let body = d.body();
    let ts = now.unix_seconds();
    let secrets: Vec<_> = d.secrets.iter().collect();
    let signature = signature_header(&secrets, &d.event_id, ts, body.as_bytes());
    let sent = client
        .post(&d.url)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let retry_after = retry_after(res.headers());
            let mut kept = Vec::new();
            // Read until 4 KB are kept; the rest is never read (the connection is dropped).
            while kept.len() < RESPONSE_KEPT {
                match res.chunk().await {
                    Ok(Some(c)) => kept.extend_from_slice(&c),
                    Ok(None) | Err(_) => break,
                }
            }
            kept.truncate(RESPONSE_KEPT);
            Ended::Answered {
                status,
                retry_after,
                body: String::from_utf8_lossy(&kept).into_owned(),
            }
        }
        Err(e) => Ended::Failed(error_code(&e)),
    }
}

/// Whether the URL's host is an IP literal the guard blocks (names go through the resolver).
fn literal_blocked(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| match u.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        })
        .is_some_and(blocked)
}

/// `Retry-After` as delay-seconds (an HTTP date is ignored).
fn retry_after(h: &HeaderMap) -> Option<u64> {
    h.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// The delivery log's error code of a failed request.
fn error_code(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        return "timeout";
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut text = String::new();
    while let Some(s) = source {
        // The resolver's error arrives wrapped in an `io::Error`, whose `source()` skips
        // what it wraps: look inside with `get_ref`.
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|e| e.downcast_ref::<ResolveError>());
        if let Some(r) = s.downcast_ref::<ResolveError>().or(inner) {
            return match r {
                ResolveError::Blocked => "blocked_address",
                ResolveError::Dns(_) => "dns",
            };
        }
        text.push_str(&s.to_string().to_lowercase());
        text.push(' ');
        source = s.source();
    }
    // hyper-util's `DnsError` does not expose what our resolver returned as a source; its
    // `Debug` does.
    let debug = format!("{e:?}");
    if debug.contains("DnsError") {
        return if debug.contains("inner: Blocked") {
            "blocked_address"
        } else {
            "dns"
        };
    }
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        "tls"
    } else {
        "connect"
    }
}

/// What an attempt that `ended` so leads to; `jitter` in [-1, 1].
pub fn outcome(
    d: &ClaimedDelivery,
    now: Timestamp,
    ended: Ended,
    latency_ms: i64,
    jitter: f64,
) -> AttemptOutcome {
    let attempts = d.attempts + 1;
    let (http_status, error, response, failure) = match ended {
        Ended::Answered {
            status,
            retry_after,
            body,
        } => {
            let failure = match StatusCode::from_u16(status) {
                Ok(s) if s.is_success() => None,
                Ok(StatusCode::TOO_MANY_REQUESTS) => Some(Failure::TooManyRequests(retry_after)),
                _ => Some(Failure::Status(retry_after)),
            };
            let error = match failure {
                None => None,
                Some(_) if (300..400).contains(&status) => Some("redirect".to_owned()),
                Some(_) => Some("http_status".to_owned()),
            };
            (Some(status), error, Some(body), failure)
        }
        Ended::Failed(code) => {
            let failure = if code == "timeout" {
                Failure::Timeout
            } else {
                Failure::Network
            };
            (None, Some(code.to_owned()), None, Some(failure))
        }
    };
    let next = match failure {
        None => Next::Delivered,
        Some(_) if http_status == Some(410) => Next::Gone,
        Some(f) => match next_delay(usize::try_from(attempts).unwrap_or(usize::MAX), f, jitter) {
            Some(delay) => Next::RetryAt(after(now, delay)),
            None => Next::GiveUp,
        },
    };
    AttemptOutcome {
        endpoint_id: d.endpoint_id.clone(),
        event_id: d.event_id.clone(),
        at: now,
        attempts,
        http_status,
        error,
        latency_ms,
        response,
        next,
    }
}

fn after(now: Timestamp, delay: Duration) -> Timestamp {
    Timestamp(now.millis() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests;
