//! The plain-HTTP tripwire: every request over plain HTTP gets 403 `https_required` (never a
//! redirect: by then the key has crossed the wire in clear). If it carried a well-formed key
//! that exists, the key is marked exposed, or revoked under `--on-plaintext-key revoke`.

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use synaptiq_core::key;
use synaptiq_types::ErrorCode;

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
    let revoke = app.config.on_plaintext_key == PlaintextKeyPolicy::Revoke;
    // The key may still be hashed under an older pepper of a rotation in progress.
    for pepper in std::iter::once(&app.pepper).chain(&app.config.older_peppers) {
        let hash = pepper.hash(raw_key);
        if app
            .services
            .flag_exposed(&hash, &ip.to_string(), revoke)
            .await
            .is_some()
        {
            break;
        }
    }
}
