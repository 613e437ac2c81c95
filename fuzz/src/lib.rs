//! The fuzzed code paths, shared by the cargo-fuzz targets (`fuzz_targets/*.rs`) and by the
//! stable replay of the committed corpora (`crates/synaptiq-server/tests/fuzz_corpus.rs`, which
//! includes this file as a module). Each function takes arbitrary bytes, must never panic, and
//! asserts the invariants of what it parses — including that the OpenAPI document's patterns
//! accept exactly what the validators accept.

use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequestParts;
use http::{HeaderMap, HeaderValue, header};
use synaptiq_core::ids::{KeyId, LeadId};
use synaptiq_core::key;
use synaptiq_core::scope::Scope;
use synaptiq_server::auth::{AuthFailure, bearer_token};
use synaptiq_server::error::ApiError;
use synaptiq_server::extract::Query;
use synaptiq_types::FieldError;
use synaptiq_types::audit::AuditQuery;
use synaptiq_types::keys::{CreateKey, KeyListQuery, RotateKey, UpdateKey, validate_name};
use synaptiq_types::leads::{CreateLead, LeadListQuery, LeadSearchQuery, UpdateLead};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::validate::{EMAIL_PATTERN, NO_NUL_PATTERN, NOT_BLANK_TEXT_PATTERN};

// ---------------------------------------------------------------------------------------------
// Authorization header and key format

/// `Authorization` values (one per line of `data`) through `auth::bearer_token`, then the token
/// and the whole input through the key parser, the key scanner and the id parsers.
pub fn auth_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    let mut sent = Vec::new();
    for line in data.split(|&b| b == b'\n').take(3) {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            sent.push(v.clone());
            headers.append(header::AUTHORIZATION, v);
        }
    }
    match bearer_token(&headers) {
        Ok(token) => {
            assert_eq!(sent.len(), 1, "a token from several Authorization headers");
            let value = sent[0].to_str().expect("a token comes from an ASCII value");
            let (scheme, _) = value.split_once(' ').expect("scheme, space, token");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{value:?}");
            assert!(value.ends_with(token), "{value:?} -> {token:?}");
            assert!(
                !token.is_empty() && !token.contains([' ', '\t']),
                "{token:?}"
            );
            check_key_text(token);
        }
        Err(AuthFailure::Missing) => assert!(sent.is_empty()),
        Err(AuthFailure::Invalid) => assert!(!sent.is_empty()),
        Err(other) => panic!("bearer_token never says {other:?}"),
    }
    check_key_text(&String::from_utf8_lossy(data));
    // The same bytes as a plain-HTTP request head (the exposure tripwire's parser).
    if let Some(token) = synaptiq_server::exposure::token_in_head(data) {
        assert!(!token.is_empty() && token == token.trim(), "{token:?}");
        let head = String::from_utf8_lossy(data).to_ascii_lowercase();
        assert!(head.contains("authorization"), "a token without the header");
    }
}

fn check_key_text(text: &str) {
    if let Ok(parsed) = key::parse(text) {
        assert_eq!(text.len(), key::KEY_LEN);
        assert_eq!(parsed.as_str(), text);
        assert!(text.starts_with(parsed.environment().key_prefix()));
        let hint = parsed.hint();
        assert!(
            hint.starts_with(parsed.environment().key_prefix()),
            "{hint}"
        );
        assert!(
            !hint.contains(&text[12..40]),
            "the hint must not reveal the key"
        );
        assert_eq!(key::find_keys(text), vec![0..key::KEY_LEN]);
    }
    let mut end = 0;
    for range in key::find_keys(text) {
        assert!(range.start >= end, "overlapping or unordered matches");
        assert_eq!(range.len(), key::KEY_LEN);
        assert!(key::parse(&text[range.clone()]).is_ok());
        end = range.end;
    }
    check_id(
        text,
        LeadId::parse(text).map(|id| id.to_string()),
        LeadId::PREFIX,
    );
    check_id(
        text,
        KeyId::parse(text).map(|id| id.to_string()),
        KeyId::PREFIX,
    );
    assert_eq!(
        KeyId::parse(text).is_ok(),
        regex(KeyId::PATTERN).is_match(text),
        "KeyId::PATTERN disagrees with KeyId::parse on {text:?}"
    );
}

/// A parsed id is the canonical (upper-case) spelling of its input and parses to itself.
fn check_id<E>(text: &str, parsed: Result<String, E>, prefix: &str) {
    let Ok(id) = parsed else { return };
    assert_eq!(id.len(), prefix.len() + 26);
    assert!(id.eq_ignore_ascii_case(text), "{text:?} -> {id:?}");
    assert!(
        id[prefix.len()..].bytes().all(|b| !b.is_ascii_lowercase()),
        "{id}"
    );
    assert!(
        id.as_bytes()[prefix.len()] <= b'7',
        "{id}: more than 128 bits"
    );
}

// ---------------------------------------------------------------------------------------------
// JSON request bodies

/// `data` as each request body: serde, then the same checks the handlers run, then a serialize
/// round trip of what was accepted. Also compares the documented patterns with the validators.
pub fn json_bodies(data: &[u8]) {
    body::<CreateLead>(data, CreateLead::validate);
    body::<UpdateLead>(data, UpdateLead::validate);
    body::<CreateKey>(data, |k| {
        validate_name(&k.name)?;
        Scope::parse(&k.scope).ok_or_else(|| FieldError::new("scope", "unknown scope"))?;
        allowed_ips(k.allowed_ips.as_deref())
    });
    body::<UpdateKey>(data, |k| {
        k.name.as_deref().map(validate_name).transpose()?;
        allowed_ips(k.allowed_ips.as_deref())
    });
    body::<RotateKey>(data, |_| Ok(()));

    let text = String::from_utf8_lossy(data);
    let email_ok = synaptiq_types::validate::email("email", &text).is_ok();
    let documented = text.chars().count() <= 254 && regex(EMAIL_PATTERN).is_match(&text);
    assert_eq!(email_ok, documented, "EMAIL_PATTERN disagrees on {text:?}");
    let name_ok = validate_name(&text).is_ok();
    let documented =
        (1..=100).contains(&text.chars().count()) && regex(NOT_BLANK_TEXT_PATTERN).is_match(&text);
    assert_eq!(name_ok, documented, "key name schema disagrees on {text:?}");
    let text_ok = synaptiq_types::validate::no_nul("name", &text).is_ok();
    let documented = regex(NO_NUL_PATTERN).is_match(&text);
    assert_eq!(text_ok, documented, "NO_NUL_PATTERN disagrees on {text:?}");
}

fn body<T>(data: &[u8], validate: impl Fn(&T) -> Result<(), FieldError>)
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    if let Err(e) = validate(&value) {
        assert!(!e.param.is_empty() && !e.message.is_empty(), "{e:?}");
    }
    let bytes = serde_json::to_vec(&value).expect("what was parsed serializes");
    let back: T = serde_json::from_slice(&bytes).expect("and parses again");
    assert_eq!(back, value);
}

fn allowed_ips(list: Option<&[String]>) -> Result<(), FieldError> {
    let normalized = synaptiq_app::keys::parse_allowed_ips(list.unwrap_or_default())?;
    // Normalizing is idempotent: what is stored parses to itself.
    assert_eq!(
        synaptiq_app::keys::parse_allowed_ips(&normalized).ok(),
        Some(normalized.clone())
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Query strings

/// `data` as the query string of each list endpoint, through the server's own `Query`
/// extractor, then `PageRequest::new` and the pagination arithmetic.
pub fn query_params(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = http::Uri::try_from(format!("/x?{query}")) else {
        return;
    };
    let total = u64::from(
        data.iter()
            .fold(0u32, |a, &b| a.wrapping_mul(31) ^ u32::from(b)),
    );
    if let Some(q) = extract::<LeadListQuery>(&uri) {
        page(q.page, q.limit, total);
    }
    if let Some(q) = extract::<KeyListQuery>(&uri) {
        page(q.page, q.limit, total);
    }
    if let Some(q) = extract::<LeadSearchQuery>(&uri) {
        page(q.page, q.limit, total);
        if let Ok(needle) = q.needle() {
            assert!(!needle.is_empty() && needle.chars().count() <= 200);
            assert_eq!(needle, needle.trim());
            assert!(!needle.contains('\0'));
        }
    }
    if let Some(q) = extract::<AuditQuery>(&uri) {
        page(q.page, q.limit, total);
        if let Some(k) = q.key_id.as_deref() {
            check_id(k, KeyId::parse(k).map(|id| id.to_string()), KeyId::PREFIX);
        }
    }
}

/// Runs the server's `Query<T>` extractor (it never awaits) on `uri`. A rejection must be a
/// 400 naming a parameter.
fn extract<T: serde::de::DeserializeOwned>(uri: &http::Uri) -> Option<T> {
    let (mut parts, ()) = http::Request::builder()
        .uri(uri.clone())
        .body(())
        .expect("a request from a valid URI")
        .into_parts();
    let fut = Query::<T>::from_request_parts(&mut parts, &());
    let mut fut = std::pin::pin!(fut);
    let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("the query extractor never waits");
    };
    match result {
        Ok(Query(q)) => Some(q),
        Err(e) => {
            check_400(&e);
            None
        }
    }
}

fn check_400(e: &ApiError) {
    assert_eq!(e.code.status(), 400, "{e:?}");
    assert!(e.param.as_deref().is_some_and(|p| !p.is_empty()), "{e:?}");
}

/// `PageRequest::new` accepts exactly page 1..=1e6 and limit 1..=100; the arithmetic holds.
fn page(page: Option<u32>, limit: Option<u32>, total: u64) {
    let result = PageRequest::new(page, limit);
    let p = page.unwrap_or(1);
    let l = limit.unwrap_or(25);
    let valid = (1..=1_000_000).contains(&p) && (1..=100).contains(&l);
    assert_eq!(result.is_ok(), valid, "page={page:?} limit={limit:?}");
    let Ok(req) = result else { return };
    assert_eq!(req.offset(), u64::from(p - 1) * u64::from(l));
    let d = req.describe(total);
    assert_eq!((d.page, d.limit, d.total), (p, l, total));
    assert_eq!(d.total_pages, total.div_ceil(u64::from(l)));
    assert_eq!(d.has_more, req.offset() + u64::from(l) < total);
}

/// The patterns of the OpenAPI document, compiled once per process.
fn regex(pattern: &'static str) -> &'static regex::Regex {
    static EMAIL: OnceLock<regex::Regex> = OnceLock::new();
    static NOT_BLANK: OnceLock<regex::Regex> = OnceLock::new();
    static NO_NUL: OnceLock<regex::Regex> = OnceLock::new();
    static KEY_ID: OnceLock<regex::Regex> = OnceLock::new();
    let cell = match pattern {
        EMAIL_PATTERN => &EMAIL,
        NOT_BLANK_TEXT_PATTERN => &NOT_BLANK,
        NO_NUL_PATTERN => &NO_NUL,
        _ => &KEY_ID,
    };
    cell.get_or_init(|| regex::Regex::new(pattern).expect("the documented patterns compile"))
}
