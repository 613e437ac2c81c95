//! The API reference, served by the server itself under `/docs/api-reference/{page}` so every
//! `doc_url` resolves without the internet. Pages are Markdown files in `docs/api/`, compiled
//! into the binary and rendered to HTML once, at first use.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

macro_rules! pages {
    ($($name:literal),* $(,)?) => {
        /// (page name, Markdown source).
        pub const PAGES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../../docs/api/", $name, ".md")))),*
        ];
    };
}

pages!(
    "index",
    "authentication",
    "scopes",
    "environments",
    "rotation",
    "rate-limits",
    "errors",
    "leads",
    "keys",
    "webhooks",
    "me",
);

const STYLE: &str = "body{font:16px/1.6 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d2433}\
code,pre{font-family:ui-monospace,monospace;background:#f3f5f9;border-radius:4px}pre{padding:.8rem;overflow:auto}\
code{padding:.1rem .3rem}table{border-collapse:collapse}td,th{border:1px solid #d9dee8;padding:.3rem .6rem;text-align:left}\
nav a{margin-right:.8rem}a{color:#2b59c3}";

/// Renders one page to a complete HTML document.
pub fn render(name: &str) -> Option<String> {
    let (_, md) = PAGES.iter().find(|(n, _)| *n == name)?;
    let mut opts = pulldown_cmark::Options::empty();
    opts.insert(pulldown_cmark::Options::ENABLE_TABLES);
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, pulldown_cmark::Parser::new_ext(md, opts));
    let title = md
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(name);
    let nav: String = PAGES
        .iter()
        .map(|(n, _)| format!(r#"<a href="/docs/api-reference/{n}">{n}</a>"#))
        .collect();
    Some(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · Synaptiq API</title><style>{STYLE}</style></head><body><nav>{nav}</nav><main>{body}</main></body></html>"
    ))
}

/// `GET /docs`: the index page.
pub async fn index(State(_): State<AppState>) -> Response {
    page(Path("index".to_owned())).await
}

/// `GET /docs/api-reference/{page}`.
pub async fn page(Path(name): Path<String>) -> Response {
    match render(&name) {
        Some(html) => {
            ([(header::CACHE_CONTROL, "public, max-age=300")], Html(html)).into_response()
        }
        None => ApiError::not_found("documentation page").into_response(),
    }
}

/// The documentation pages (not API operations).
pub const RESOURCE: crate::routes::Resource = crate::routes::Resource {
    routes: || {
        vec![
            crate::routes::page("/docs", index),
            crate::routes::page("/docs/api-reference/{page}", page),
        ]
    },
    openapi: crate::routes::Resource::no_operations,
    doc_rules: crate::openapi::DocRules::default,
};
