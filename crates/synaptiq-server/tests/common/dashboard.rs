//! Driving the dashboard in-process like a browser: users, sign-in, cookies, forms and the
//! CSRF token of the current page.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use synaptiq_store::Role;

use super::{Reply, TestApp};

/// The origin a browser on the test server sends (`ServerConfig::new`'s public URL).
pub const ORIGIN: &str = "https://127.0.0.1:8443";
/// A password for test users (not a real credential).
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in browser: its session cookie value.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The `__Host-synaptiq_session` value.
    pub session: String,
}

/// Every `Set-Cookie` of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// The value `name` is set to by a response, if any.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookies(headers).into_iter().find_map(|c| {
        c.split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    })
}

/// The HTML of a reply.
pub fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap_or("")
}

/// The secret shown once on a page (after create or rotate).
pub fn secret_of(page: &str) -> String {
    let marker = r#"id="new-secret" class="secret" type="text" readonly value=""#;
    let i = page.find(marker).expect("secret shown") + marker.len();
    page[i..].split('"').next().unwrap_or_default().to_owned()
}

/// The CSRF token in a page's forms.
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    page.find(marker)
        .map(|i| page[i + marker.len()..].chars().take(64).collect())
        .unwrap_or_default()
}

impl TestApp {
    /// Creates a dashboard user of organization A with [`PASSWORD`]; returns the email.
    pub async fn dash_user(&self, role: Role) -> String {
        let email = format!("{}-{}@example.com", role.as_str(), ulid::Ulid::new()).to_lowercase();
        let hash = synaptiq_core::password::hash(PASSWORD).expect("hash");
        self.store
            .create_user(&self.org_a, &email, role, hash.as_str())
            .await
            .expect("user");
        email
    }

    /// A GET as a browser with `cookies` (`name=value; …`).
    pub async fn browse(&self, path: &str, cookies: &str) -> Reply {
        let mut b = Request::builder().method(Method::GET).uri(path);
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies);
        }
        self.send(b.body(Body::empty()).expect("request")).await
    }

    /// A form POST with browser headers (`Origin` = ours, `Sec-Fetch-Site: same-origin`)
    /// unless `headers` overrides them.
    pub async fn submit(
        &self,
        path: &str,
        cookies: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies);
        }
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !has("origin") {
            b = b.header(header::ORIGIN, ORIGIN);
        }
        if !has("sec-fetch-site") {
            b = b.header("sec-fetch-site", "same-origin");
        }
        for (k, v) in headers {
            if !v.is_empty() {
                b = b.header(*k, *v);
            }
        }
        self.send(b.body(Body::from(body)).expect("request")).await
    }

    /// Signs in through the real form, presenting `previous` session cookie if given.
    /// Returns the reply of the POST.
    pub async fn sign_in_as(&self, email: &str, password: &str, previous: Option<&str>) -> Reply {
        let page = self.browse("/dashboard/login", "").await;
        assert_eq!(page.status, StatusCode::OK);
        let login = cookie_value(&page.headers, "__Host-synaptiq_login").expect("login cookie");
        let token = csrf_of(html(&page));
        assert_eq!(token, login, "double-submit token");
        let mut cookies = format!("__Host-synaptiq_login={login}");
        if let Some(p) = previous {
            cookies.push_str(&format!("; __Host-synaptiq_session={p}"));
        }
        self.submit(
            "/dashboard/login",
            &cookies,
            &[("email", email), ("password", password), ("csrf", &token)],
            &[],
        )
        .await
    }

    /// The CSRF token of `browser`'s session, read from a page as a browser would.
    pub async fn csrf(&self, browser: &Browser) -> String {
        csrf_of(html(
            &self.browse("/dashboard/keys", &browser.cookies()).await,
        ))
    }

    /// Signs in (must succeed) and returns the browser.
    pub async fn sign_in(&self, email: &str) -> Browser {
        let r = self.sign_in_as(email, PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
        Browser {
            session: cookie_value(&r.headers, "__Host-synaptiq_session").expect("session cookie"),
        }
    }
}

impl Browser {
    /// The `Cookie` header value.
    pub fn cookies(&self) -> String {
        format!("__Host-synaptiq_session={}", self.session)
    }
}
