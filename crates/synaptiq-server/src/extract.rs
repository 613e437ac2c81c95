//! Extractors that answer in our error envelope: JSON bodies (415 for another media type, 413
//! over the limit, 400 naming the field for malformed JSON or unknown fields) and query
//! strings (400 naming the parameter).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use synaptiq_types::ErrorCode;

use crate::app::AppState;
use crate::error::ApiError;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

/// A query string of type `T`.
pub struct Query<T>(pub T);

/// Turns a serde error with its path into a 400 naming the field.
fn describe(path: &serde_path_to_error::Path, inner: &str, fallback_param: &str) -> ApiError {
    // Unknown fields: serde says "unknown field `x`, expected …"; the path already ends in x.
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        if name.is_empty() {
            // `?=4` or `{"": 1}`: there is no name to put in `param`.
            return ApiError::invalid(fallback_param, "A field with an empty name is not allowed.");
        }
        let at = path.to_string();
        let param = if at == "." || at.is_empty() {
            name.to_owned()
        } else {
            at
        };
        return ApiError::invalid(param.clone(), format!("Unknown field `{param}`."));
    }
    let mut param = path.to_string();
    if param == "." || param.is_empty() {
        param = fallback_param.to_owned();
    }
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return ApiError::invalid(name, format!("{name} is required."));
    }
    // Drop serde's position suffix ("at line 1 column 9") — the param already says where.
    let inner = inner.split(" at line ").next().unwrap_or(inner);
    ApiError::invalid(
        param.clone(),
        format!("Invalid value for `{param}`: {inner}."),
    )
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Request bodies must be JSON: send `Content-Type: application/json`.",
            ));
        }
        let limit = state.config.body_limit;
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large(limit))?;
        // Every request body is a JSON object. (serde would also accept a struct written as an
        // array, `["a@b.co"]`, which no client means.)
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => {
                return Err(ApiError::invalid(
                    "body",
                    "The request body is empty; send a JSON object.",
                ));
            }
            Some(b'{') => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "body",
                    "The request body must be a JSON object.",
                ));
            }
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let inner = e.inner();
                if inner.is_syntax() || inner.is_eof() {
                    return Err(ApiError::invalid(
                        "body",
                        format!(
                            "The request body is not valid JSON (line {}, column {}).",
                            inner.line(),
                            inner.column()
                        ),
                    ));
                }
                Err(describe(e.path(), &inner.to_string(), "body"))
            }
        }
    }
}

/// The 413 error.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than the limit of {limit} bytes."),
    )
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let inner = e.inner().to_string();
                // serde_urlencoded reports the parameter only through the path.
                describe(e.path(), &inner, "query")
            })
    }
}

/// A JSON body that may be absent (no body at all): then `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let empty = req.headers().get(header::CONTENT_TYPE).is_none()
            && req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        if empty {
            let limit = state.config.body_limit;
            let bytes = axum::body::to_bytes(req.into_body(), limit)
                .await
                .map_err(|_| too_large(limit))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJsonBody(T::default()));
            }
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Request bodies must be JSON: send `Content-Type: application/json`.",
            ));
        }
        JsonBody::from_request(req, state)
            .await
            .map(|JsonBody(v)| OptionalJsonBody(v))
    }
}
