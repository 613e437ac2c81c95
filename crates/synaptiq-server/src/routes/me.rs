//! `GET /api/v1/me`: the calling key, its organization and its rate-limit state.

use axum::Json;
use synaptiq_types::me::{Me, MeKey, RateLimitState};
use synaptiq_types::time::Timestamp;

use crate::stack::Caller;

/// Describes the calling key. Works with any valid key.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", operation_id = "getMe",
    responses((status = 200, description = "The calling key.", body = Me)))]
pub async fn me(caller: Caller) -> Json<Me> {
    let k = &caller.auth.key;
    Json(Me {
        key: MeKey {
            id: k.id.to_string(),
            name: k.name.clone(),
            scope: k.scope.as_str().to_owned(),
            environment: k.environment.as_str().to_owned(),
            status: k.status(Timestamp::now()).as_str().to_owned(),
            expires_at: k.expires_at,
            hint: k.hint.clone(),
        },
        organization: caller.auth.org.to_wire(),
        rate_limit: RateLimitState {
            limit: caller.verdict.limit,
            remaining: caller.verdict.decision.remaining,
            reset: caller.verdict.reset_unix,
        },
    })
}
