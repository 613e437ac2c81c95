//! A store, an organization, receivers and a worker for each test.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use synaptiq_app::webhooks::WebhookPolicy;
use synaptiq_app::{Actor, NoAuthCache, Services};
use synaptiq_core::ids::OrgId;
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::Environment;
use synaptiq_store::Store;
use synaptiq_types::leads::CreateLead;
use synaptiq_types::time::Timestamp;
use synaptiq_types::webhooks::CreateWebhookEndpoint;
use synaptiq_webhooks::{Worker, WorkerConfig};

pub const DEV: WebhookPolicy = WebhookPolicy {
    allow_http: true,
    allow_private: true,
};

/// A fresh SQLite store with one organization.
pub struct World {
    pub store: Arc<dyn Store>,
    pub services: Services,
    pub org: OrgId,
    /// The worker's clock, in ms (starts at the real time).
    pub now: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = synaptiq_store::open(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        let org = store.create_org("Acme", Plan::Pro).await.expect("org").id;
        let services = Services::new(store.clone(), Arc::new(NoAuthCache)).with_webhook_policy(DEV);
        Self {
            store,
            services,
            org,
            now: Arc::new(AtomicI64::new(Timestamp::now().millis())),
            _dir: dir,
        }
    }

    /// A worker on this store going by [`World::now`].
    pub fn worker(&self, config: WorkerConfig) -> Worker {
        let now = self.now.clone();
        Worker::new(self.store.clone(), config)
            .expect("worker")
            .with_clock(Arc::new(move || Timestamp(now.load(Ordering::SeqCst))))
    }

    pub fn set_now(&self, t: Timestamp) {
        self.now.store(t.millis(), Ordering::SeqCst);
    }

    /// Adds a live endpoint for `url` and `events`; returns its id and secret.
    pub async fn endpoint(&self, url: &str, events: &[&str]) -> (String, String) {
        let body = CreateWebhookEndpoint {
            url: url.to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: None,
            secret: None,
        };
        let (rec, secret) = self
            .services
            .create_endpoint(&self.org, Environment::Live, &body)
            .await
            .expect("endpoint");
        (rec.id.to_string(), secret.encoded())
    }

    /// Creates a live lead (`lead.created`).
    pub async fn lead(&self, email: &str) -> String {
        let body: CreateLead =
            serde_json::from_value(serde_json::json!({ "email": email })).expect("lead body");
        self.services
            .create_lead(&self.org, Environment::Live, &body, &Actor::local("test"))
            .await
            .expect("lead")
            .id
    }
}

/// What a receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How a receiver answers, in turn (the last one repeats).
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    StatusRetryAfter(u16, u64),
    Sleep(Duration),
    Redirect(&'static str),
}

/// A receiver on 127.0.0.1 that records each request and answers from a script.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    g.lock().expect("lock").push(Got {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let answer = {
                        let mut s = s.lock().expect("lock");
                        if s.len() > 1 {
                            s.pop_front()
                        } else {
                            s.front().cloned()
                        }
                    };
                    respond(answer.unwrap_or(Answer::Status(204))).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, got }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }
}

async fn respond(a: Answer) -> Response {
    match a {
        Answer::Status(s) => status(s).into_response(),
        Answer::StatusRetryAfter(s, secs) => {
            (status(s), [("retry-after", secs.to_string())]).into_response()
        }
        Answer::Sleep(d) => {
            tokio::time::sleep(d).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
    }
}

fn status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).expect("status")
}
