//! `GET /api/v1/me`: the calling key, its organization and its rate-limit state.
//!
//! The hottest route of the API. Its answer is serialized by serde once per cached key (from the
//! same [`Me`] type the OpenAPI document describes) around the two fields that change per
//! request, the status and the rate-limit state; a request copies the two parts and writes
//! those fields in between.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use synaptiq_store::AuthRecord;
use synaptiq_types::me::{Me, MeKey, RateLimitState};

use axum::http::Method;
use utoipa::OpenApi;

use super::{Access, Resource, route};
use crate::ratelimit::Verdict;
use crate::stack::Caller;

/// Describes the calling key. Works with any valid key.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", operation_id = "getMe",
    responses((status = 200, description = "The calling key.", body = Me)))]
pub async fn me(caller: Caller) -> Response {
    let status = caller.auth.hot.status(caller.now).as_str();
    match caller.auth.me.template(&caller.auth.record) {
        Some(t) => t.render(status, &caller.verdict),
        None => axum::Json(me_value(&caller.auth, status, &caller.verdict)).into_response(),
    }
}

/// The answer of `auth` with `status` and the rate-limit state `v`.
fn me_value(auth: &AuthRecord, status: &str, v: &Verdict) -> Me {
    let k = &auth.key;
    Me {
        key: MeKey {
            id: k.id.to_string(),
            name: k.name.clone(),
            scope: k.scope.as_str().to_owned(),
            environment: k.environment.as_str().to_owned(),
            status: status.to_owned(),
            expires_at: k.expires_at,
            hint: k.hint.clone(),
        },
        organization: auth.org.to_wire(),
        rate_limit: RateLimitState {
            limit: v.limit,
            remaining: v.decision.remaining,
            reset: v.reset_unix,
        },
    }
}

/// What `/api/v1/me` keeps in each cached key (`auth::Verified`): the key's template, made on
/// first use.
#[derive(Default)]
pub struct MeSlot(std::sync::OnceLock<Option<MeTemplate>>);

impl MeSlot {
    /// The template of `auth` (`None` if it could not be made).
    pub fn template(&self, auth: &AuthRecord) -> Option<&MeTemplate> {
        self.0.get_or_init(|| MeTemplate::new(auth)).as_ref()
    }

    /// Reads the template's first byte, if it was made (see `Verified::touch`).
    #[inline]
    pub fn touch(&self) {
        if let Some(Some(t)) = self.0.get() {
            std::hint::black_box(t.bytes.first());
        }
    }
}

/// One key's `/api/v1/me` answer, serialized around its per-request fields:
/// `bytes[..split]` + status + `bytes[split..]` + `{"limit":…,"remaining":…,"reset":…}}`
/// (one buffer: one less cache miss per request than two).
pub struct MeTemplate {
    bytes: Box<[u8]>,
    split: usize,
}

/// What serde writes for an empty status (JSON escapes every `"` inside strings, so this
/// sequence appears only as the field itself).
const STATUS_FIELD: &[u8] = br#","status":"""#;
/// What serde writes for a zero rate-limit state at the end of the object.
const ZERO_RATE: &[u8] = br#"{"limit":0,"remaining":0,"reset":0}}"#;

impl MeTemplate {
    /// The template of `auth`; `None` if serde's output is not shaped as expected (then each
    /// request serializes the whole answer).
    pub fn new(auth: &AuthRecord) -> Option<Self> {
        let zero = Verdict::at(0, synaptiq_core::gcra::Decision::default(), 0);
        let json = serde_json::to_vec(&me_value(auth, "", &zero)).ok()?;
        let at = json
            .windows(STATUS_FIELD.len())
            .position(|w| w == STATUS_FIELD)?;
        let rest = json.strip_suffix(ZERO_RATE)?;
        Some(Self {
            bytes: rest.into(),
            split: at + STATUS_FIELD.len() - 1,
        })
    }

    /// The answer with `status` and the rate-limit state `v`.
    pub fn render(&self, status: &str, v: &Verdict) -> Response {
        let (head, tail) = self.bytes.split_at(self.split);
        let mut out = Vec::with_capacity(self.bytes.len() + 96);
        out.extend_from_slice(head);
        // Statuses are fixed ASCII words (`active`, `rotating`): nothing to escape.
        out.extend_from_slice(status.as_bytes());
        out.extend_from_slice(tail);
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(br#"{"limit":"#);
        out.extend_from_slice(n.format(v.limit).as_bytes());
        out.extend_from_slice(br#","remaining":"#);
        out.extend_from_slice(n.format(v.decision.remaining).as_bytes());
        out.extend_from_slice(br#","reset":"#);
        out.extend_from_slice(n.format(v.reset_unix).as_bytes());
        out.extend_from_slice(b"}}");
        let mut res = Response::new(Body::from(out));
        // Room for every header the stack adds, so the map is allocated once.
        let mut headers = HeaderMap::with_capacity(16);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        *res.headers_mut() = headers;
        res
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use synaptiq_core::gcra::Decision;
    use synaptiq_core::ids::OrgId;
    use synaptiq_core::plan::Plan;
    use synaptiq_store::{KeyRecord, OrgRecord};
    use synaptiq_types::time::Timestamp;

    /// A key and its organization (also used by other modules' tests).
    pub(crate) fn record(name: &str, org: &str, expires: Option<i64>) -> AuthRecord {
        AuthRecord {
            key: KeyRecord::fixture(name, expires),
            org: OrgRecord {
                id: OrgId::generate(),
                name: org.to_owned(),
                plan: Plan::Pro,
                created_at: Timestamp(1_690_000_000_123),
            },
        }
    }

    /// The template's bytes are exactly serde's for every shape of name, status and state.
    #[test]
    fn template_matches_serde() {
        let names = [
            "plain",
            "",
            r#"quote " and \ backslash"#,
            r#","status":"","#,
            "ünïcødé ✓ 键",
            "tab\tnewline\ncontrol\u{1}",
            r#"{"limit":0,"remaining":0,"reset":0}}"#,
        ];
        let verdicts = [
            Verdict::at(0, Decision::default(), 0),
            Verdict::at(
                600,
                Decision {
                    allowed: true,
                    remaining: 599,
                    reset_after_ns: 100_000_000,
                    retry_after_ns: 0,
                    new_tat_ns: 0,
                },
                1_790_000_000_000_000_000,
            ),
            Verdict {
                limit: u32::MAX,
                decision: Decision {
                    remaining: u32::MAX,
                    ..Decision::default()
                },
                reset_unix: i64::MIN,
            },
        ];
        for name in names {
            for org in ["Acme", name] {
                for expires in [None, Some(1_800_000_000_999)] {
                    let auth = record(name, org, expires);
                    let t = MeTemplate::new(&auth).expect("template");
                    for status in ["active", "rotating"] {
                        for v in &verdicts {
                            let want =
                                serde_json::to_vec(&me_value(&auth, status, v)).expect("json");
                            let res = t.render(status, v);
                            assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
                            let body = body_of(res);
                            assert_eq!(
                                String::from_utf8_lossy(&body),
                                String::from_utf8_lossy(&want),
                                "{name:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn body_of(res: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body")
                .to_vec()
        })
    }
}

/// `GET /api/v1/me`, for any valid key.
pub const RESOURCE: Resource = Resource {
    routes: || vec![route(Method::GET, "/api/v1/me", Access::AnyKey, me)],
    openapi: Api::openapi,
    doc_rules: crate::openapi::DocRules::default,
};

#[derive(OpenApi)]
#[openapi(paths(me))]
struct Api;
