//! The plain-HTTP tripwire: every request over plain HTTP gets 403 `https_required` (never a
//! redirect: by then the key has crossed the wire in clear). If it carried a well-formed key
//! that exists, the key is marked exposed, or revoked under `--on-plaintext-key revoke`.

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use synaptiq_core::key;
use synaptiq_store::NewAuditEvent;
use synaptiq_types::ErrorCode;
use synaptiq_types::time::Timestamp;

use crate::app::AppState;
use crate::config::PlaintextKeyPolicy;
use crate::error::ApiError;
use crate::request_id;

/// The Bearer token of a raw HTTP/1.x request head, if any.
pub fn token_in_head(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("authorization") {
            return None;
        }
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    })
}

/// Flags the key (if real) and builds the 403 `https_required` response.
pub async fn https_required_response(app: &AppState, token: Option<&str>, ip: IpAddr) -> Response {
    let mut message = format!(
        "Plain HTTP is not accepted: use HTTPS ({}). Requests are never redirected.",
        app.public_url
    );
    if let Some(parsed) = token.and_then(|t| key::parse(t).ok()) {
        message
            .push_str(" The API key in this request crossed the network unencrypted: rotate it.");
        flag(app, parsed.as_str(), ip).await;
    }
    let id = request_id::new_id();
    let body =
        ApiError::new(ErrorCode::HttpsRequired, message).body_for(id.clone(), &app.public_url);
    let mut res = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

async fn flag(app: &AppState, raw_key: &str, ip: IpAddr) {
    let hash = app.pepper.hash(raw_key);
    let now = Timestamp::now();
    let rec = match app.store.mark_exposed(&hash, now).await {
        Ok(Some(rec)) => rec,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not flag an exposed key");
            return;
        }
    };
    tracing::warn!(key_id = %rec.id, %ip, "API key sent over plain HTTP; flagged as exposed");
    let event = |kind: &str| NewAuditEvent {
        org_id: rec.org_id.clone(),
        environment: rec.environment,
        kind: kind.to_owned(),
        actor: "system".to_owned(),
        key_id: Some(rec.id.clone()),
        ip: Some(ip.to_string()),
    };
    let _ = app.store.record(event("key.exposed")).await;
    if app.config.on_plaintext_key == PlaintextKeyPolicy::Revoke
        && let Ok(Some(_)) = app
            .store
            .revoke_key(&rec.org_id, rec.environment, &rec.id, now)
            .await
    {
        app.keys.clear();
        let _ = app.store.record(event("key.revoked")).await;
    }
}
