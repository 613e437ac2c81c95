//! The error vocabulary of the wire: one table of codes, one envelope.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error code the API returns, with its HTTP status and documentation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: malformed JSON, unknown field, bad query parameter, failed validation.
    InvalidRequest,
    /// 401: no key, malformed, unknown, expired or revoked key.
    Unauthorized,
    /// 403: the key lacks the scope, or the client IP is outside the key's allow-list.
    Forbidden,
    /// 403: the request came over plain HTTP.
    HttpsRequired,
    /// 404: unknown route or id (including ids of another organization or environment).
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 408: the request body stopped arriving before the request timeout.
    RequestTimeout,
    /// 409: conflicts with existing state.
    Conflict,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: body that is not `application/json`.
    UnsupportedMediaType,
    /// 431: request headers over the limit.
    RequestHeaderFieldsTooLarge,
    /// 429: rate limited.
    RateLimitExceeded,
    /// 500: a bug; never with details.
    InternalError,
    /// 503: storage unreachable.
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::HttpsRequired,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RequestHeaderFieldsTooLarge,
        ErrorCode::RateLimitExceeded,
        ErrorCode::InternalError,
        ErrorCode::ServiceUnavailable,
    ];

    /// (HTTP status, code, documentation page under `/docs/api-reference/`).
    pub const fn spec(self) -> (u16, &'static str, &'static str) {
        match self {
            ErrorCode::InvalidRequest => (400, "invalid_request", "errors"),
            ErrorCode::Unauthorized => (401, "unauthorized", "authentication"),
            ErrorCode::Forbidden => (403, "forbidden", "scopes"),
            ErrorCode::HttpsRequired => (403, "https_required", "authentication"),
            ErrorCode::NotFound => (404, "not_found", "errors"),
            ErrorCode::MethodNotAllowed => (405, "method_not_allowed", "errors"),
            ErrorCode::RequestTimeout => (408, "request_timeout", "errors"),
            ErrorCode::Conflict => (409, "conflict", "errors"),
            ErrorCode::PayloadTooLarge => (413, "payload_too_large", "errors"),
            ErrorCode::UnsupportedMediaType => (415, "unsupported_media_type", "errors"),
            ErrorCode::RequestHeaderFieldsTooLarge => {
                (431, "request_header_fields_too_large", "errors")
            }
            ErrorCode::RateLimitExceeded => (429, "rate_limit_exceeded", "rate-limits"),
            ErrorCode::InternalError => (500, "internal_error", "errors"),
            ErrorCode::ServiceUnavailable => (503, "service_unavailable", "errors"),
        }
    }

    /// The HTTP status.
    pub const fn status(self) -> u16 {
        self.spec().0
    }

    /// The wire code.
    pub const fn as_str(self) -> &'static str {
        self.spec().1
    }

    /// The documentation page's path, e.g. `/docs/api-reference/authentication`.
    pub fn doc_path(self) -> String {
        format!("/docs/api-reference/{}", self.spec().2)
    }

    /// Parses a wire code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The seed's message for a missing, malformed or unknown key.
pub const UNAUTHORIZED_MESSAGE: &str =
    "Invalid or missing API key. Provide a valid Bearer token in the Authorization header.";

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"error": {"code": "unauthorized", "message": UNAUTHORIZED_MESSAGE, "doc_url": "https://127.0.0.1:8443/docs/api-reference/authentication", "request_id": "req_01HQ3VXK9BWMN4F6T2P8R5GYSC"}}))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `unauthorized`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// The documentation page for this error.
    pub doc_url: String,
    /// The request's id, also in the `X-Request-Id` header.
    pub request_id: String,
    /// The offending request field or parameter, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}
