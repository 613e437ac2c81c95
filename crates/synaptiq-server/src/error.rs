//! The one error type of the HTTP layer and its mapping to the wire envelope.
//!
//! Handlers return `Result<_, ApiError>`; storage and domain errors convert through one table
//! ([`synaptiq_types::ErrorCode::spec`]). A 5xx is logged once, here, and its body never
//! carries internals.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use synaptiq_store::StoreError;
use synaptiq_types::{ErrorBody, ErrorCode, ErrorDetail, FieldError};

use crate::request_id;

/// An error response in the making.
#[derive(Debug)]
pub struct ApiError {
    /// The code (and so the status).
    pub code: ErrorCode,
    /// The human message.
    pub message: String,
    /// The offending field, if any.
    pub param: Option<String>,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`, …).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Given because storage was unreachable: the answer carries
    /// [`crate::breaker::StorageDown`], which trips the breaker.
    pub storage_down: bool,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            headers: Vec::new(),
            storage_down: false,
        }
    }

    /// Names the offending field.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 400 for a field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message).with_param(param)
    }

    /// 404 for an object.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 500 with nothing but the request id. `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorCode::InternalError,
            "An internal error occurred. Contact support with the request id if it persists.",
        )
    }

    /// 503 with a `Retry-After`.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "storage unavailable");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The service is temporarily unavailable. Retry shortly.",
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static("2"),
        )
        .storage_down()
    }

    /// Marks this error as caused by unreachable storage (see [`Self::storage_down`]).
    pub fn storage_down(mut self) -> Self {
        self.storage_down = true;
        self
    }

    /// The wire body, with the current request's id and documentation base URL.
    pub fn body(&self) -> ErrorBody {
        self.body_for(request_id::current(), &request_id::public_base())
    }

    /// The wire body for a given request id and documentation base URL.
    pub fn body_for(&self, request_id: String, public_base: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.clone(),
                doc_url: format!("{public_base}{}", self.code.doc_path()),
                request_id,
                param: self.param.clone(),
            },
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid(e.param, e.message)
    }
}

impl From<synaptiq_app::keys::RotateError> for ApiError {
    fn from(e: synaptiq_app::keys::RotateError) -> Self {
        use synaptiq_app::keys::RotateError;
        match e {
            RotateError::NotFound => ApiError::not_found("key"),
            RotateError::NotUsable(_) => {
                ApiError::new(ErrorCode::Conflict, e.to_string()).with_param("id")
            }
            RotateError::Store(e) => e.into(),
        }
    }
}

impl From<synaptiq_app::webhooks::WebhookError> for ApiError {
    fn from(e: synaptiq_app::webhooks::WebhookError) -> Self {
        use synaptiq_app::webhooks::WebhookError;
        match e {
            WebhookError::Invalid(f) => f.into(),
            WebhookError::NotFound => ApiError::not_found("webhook endpoint or delivery"),
            WebhookError::Disabled => ApiError::new(ErrorCode::Conflict, e.to_string()),
            WebhookError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { param, existing_id } => {
                let message = match existing_id {
                    Some(id) => format!("A record with this {param} already exists: {id}."),
                    None => format!("A record with this {param} already exists."),
                };
                ApiError::new(ErrorCode::Conflict, message).with_param(param)
            }
            StoreError::Unavailable(detail) => ApiError::unavailable(detail),
            StoreError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(self.body())).into_response();
        if self.storage_down {
            res.extensions_mut().insert(crate::breaker::StorageDown);
        }
        for (k, v) in self.headers {
            res.headers_mut().append(k, v);
        }
        res
    }
}
