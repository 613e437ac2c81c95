//! A typed async client for the Synaptiq API, built on the wire types of `synaptiq-types`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), synaptiq_client::Error> {
//! let pem = std::fs::read("synaptiq-data/tls/cert.pem").expect("certificate");
//! let client = synaptiq_client::Client::new("https://127.0.0.1:8443", "sk_test_…", Some(&pem))?;
//! let me = client.me().await?;
//! println!("{} on the {} plan", me.organization.name, me.organization.plan);
//! # Ok(()) }
//! ```
//!
//! Every error response becomes [`Error::Api`] with the server's envelope, so callers match on
//! `code` (`unauthorized`, `rate_limit_exceeded`, …) rather than on status numbers. The key is
//! kept out of `Debug` output.

pub mod webhook;

use std::fmt;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use synaptiq_types::ErrorBody;
use synaptiq_types::keys::{ApiKey, CreateKey, CreatedKey, KeyList, RotateKey, RotatedKey};
use synaptiq_types::leads::{CreateLead, Lead, LeadList, UpdateLead};
use synaptiq_types::me::Me;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error envelope.
    #[error("{status}: {} ({})", .body.error.code, .body.error.message)]
    Api {
        /// HTTP status.
        status: u16,
        /// The envelope.
        body: ErrorBody,
    },
    /// Transport, TLS or decoding failure.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered something that is not our envelope.
    #[error("unexpected response {status}: {body}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
}

impl Error {
    /// The error code (`unauthorized`, `not_found`, …) when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }
}

/// An API client bound to one key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Client {
    /// A client for `base` (`https://host:port`) using `key`. `ca_pem` trusts a certificate
    /// (the server's self-signed one) instead of the system roots. The process must have a
    /// rustls crypto provider installed (`rustls::crypto::ring::default_provider()`).
    pub fn new(base: &str, key: &str, ca_pem: Option<&[u8]>) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder().https_only(true);
        if let Some(pem) = ca_pem {
            builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem)?]);
        }
        Ok(Self {
            http: builder.build()?,
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        })
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await?;
        let status = res.status();
        let bytes = res.bytes().await?;
        if status.is_success() {
            let body = if status == StatusCode::NO_CONTENT {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(body).map_err(|_| Error::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(Error::Api {
                status: status.as_u16(),
                body,
            }),
            Err(_) => Err(Error::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self) -> Result<Me, Error> {
        self.get("/api/v1/me").await
    }

    /// `GET /api/v1/leads?page=&limit=`.
    pub async fn list_leads(&self, page: u32, limit: u32) -> Result<LeadList, Error> {
        self.get(&format!("/api/v1/leads?page={page}&limit={limit}"))
            .await
    }

    /// `GET /api/v1/leads/{id}`.
    pub async fn get_lead(&self, id: &str) -> Result<Lead, Error> {
        self.get(&format!("/api/v1/leads/{id}")).await
    }

    /// `POST /api/v1/leads`.
    pub async fn create_lead(&self, lead: &CreateLead) -> Result<Lead, Error> {
        self.call(Method::POST, "/api/v1/leads", Some(lead)).await
    }

    /// `PATCH /api/v1/leads/{id}`.
    pub async fn update_lead(&self, id: &str, patch: &UpdateLead) -> Result<Lead, Error> {
        self.call(Method::PATCH, &format!("/api/v1/leads/{id}"), Some(patch))
            .await
    }

    /// `DELETE /api/v1/leads/{id}`.
    pub async fn delete_lead(&self, id: &str) -> Result<(), Error> {
        self.call::<(), ()>(Method::DELETE, &format!("/api/v1/leads/{id}"), None)
            .await
    }

    /// `GET /api/v1/keys`.
    pub async fn list_keys(&self) -> Result<KeyList, Error> {
        self.get("/api/v1/keys").await
    }

    /// `POST /api/v1/keys`: the response holds the secret, once.
    pub async fn create_key(&self, key: &CreateKey) -> Result<CreatedKey, Error> {
        self.call(Method::POST, "/api/v1/keys", Some(key)).await
    }

    /// `POST /api/v1/keys/{id}/rotate`.
    pub async fn rotate_key(
        &self,
        id: &str,
        grace_period_seconds: Option<i64>,
    ) -> Result<RotatedKey, Error> {
        let body = RotateKey {
            grace_period_seconds,
        };
        self.call(
            Method::POST,
            &format!("/api/v1/keys/{id}/rotate"),
            Some(&body),
        )
        .await
    }

    /// `POST /api/v1/keys/{id}/revoke`.
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKey, Error> {
        self.call::<(), ApiKey>(Method::POST, &format!("/api/v1/keys/{id}/revoke"), None)
            .await
    }
}
