//! The wire contract of the Synaptiq API: every request and response body, the error envelope
//! and its codes. No HTTP framework and no SQL here, so the client and the server share it.
//!
//! # Layout
//! - [`error`]: the error codes table (status, code, documentation page) and the envelope.
//! - [`time`]: timestamps as ISO 8601 UTC with milliseconds.
//! - [`pagination`]: `page`/`limit` and the `{data, pagination}` list envelope.
//! - [`leads`]: the Leads resource.
//! - [`keys`]: API keys as the management API shows them.
//! - [`me`]: `GET /api/v1/me` and organizations.
//! - [`validate`]: field-level validation errors.

pub mod audit;
pub mod error;
pub mod keys;
pub mod leads;
pub mod me;
pub mod pagination;
pub mod time;
pub mod validate;
pub mod webhooks;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use validate::FieldError;
