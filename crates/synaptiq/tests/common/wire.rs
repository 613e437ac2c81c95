//! Talking to the server below the typed client: raw TLS reads and writes, parsed raw answers, JSON calls, curl, and file and byte helpers for the secret checks.

use super::*;

/// How a raw read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The peer closed the connection (EOF, TLS close_notify, or a reset).
    Closed,
    /// Nothing more arrived before the deadline; the connection is still open.
    TimedOut,
}

/// Reads until the peer closes or `timeout` passes.
pub fn read_until_closed(r: &mut impl Read, timeout: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            return (out, End::TimedOut);
        }
        match r.read(&mut buf) {
            Ok(0) => return (out, End::Closed),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (out, End::Closed),
        }
    }
}

/// Sets the read timeout of the socket under a TLS stream.
pub fn set_read_timeout(s: &TlsStream, t: Duration) {
    s.sock.set_read_timeout(Some(t)).expect("read timeout");
}

/// Writes all of `bytes` to a TLS stream and flushes.
pub fn send(s: &mut TlsStream, bytes: &[u8]) {
    s.write_all(bytes).expect("write");
    s.flush().expect("flush");
}

/// A raw HTTP/1.1 response split into status line, headers (lower-cased names) and body.
#[derive(Debug)]
pub struct RawResponse {
    /// `HTTP/1.1 403 Forbidden`.
    pub status_line: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes as text.
    pub body: String,
}

impl RawResponse {
    /// Parses one response (the first) from raw bytes.
    pub fn parse(raw: &[u8]) -> RawResponse {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {text:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        RawResponse {
            status_line,
            headers,
            body: body.to_owned(),
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (honouring Content-Length when present).
    pub fn json(&self) -> Value {
        let body = match self.header("content-length").and_then(|v| v.parse().ok()) {
            Some(n) if n <= self.body.len() => &self.body[..n],
            _ => self.body.as_str(),
        };
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}"))
    }
}

/// An HTTPS answer, read completely.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// HTTP version used.
    pub version: reqwest::Version,
    /// Body text.
    pub text: String,
    /// Body as JSON (`Null` if not JSON).
    pub json: Value,
}

impl Reply {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the headers every HTTPS response must carry.
    pub fn assert_common_headers(&self) {
        let id = self.header("x-request-id");
        assert!(
            id.starts_with("req_") && id.len() == 30,
            "X-Request-Id missing or malformed: {self:#?}"
        );
        assert_eq!(
            self.header("strict-transport-security"),
            "max-age=31536000",
            "HSTS: {self:#?}"
        );
    }

    /// Asserts an error response: status, code, the envelope, and the common headers.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status: {self:#?}");
        assert_eq!(self.code(), code, "error code: {self:#?}");
        assert!(
            self.header("content-type").starts_with("application/json"),
            "error content type: {self:#?}"
        );
        let err = &self.json["error"];
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "message: {self:#?}"
        );
        assert!(
            err["doc_url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://") && u.contains("/docs/")),
            "doc_url: {self:#?}"
        );
        assert_eq!(
            err["request_id"].as_str(),
            Some(self.header("x-request-id")),
            "request_id matches X-Request-Id: {self:#?}"
        );
        self.assert_common_headers();
    }
}

/// Sends one request and reads the whole answer.
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Reply {
    let mut req = client.request(method, url);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e:?}"));
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let version = res.version();
    let text = res.text().await.expect("response body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        version,
        text,
        json,
    }
}

/// `GET url` with a key.
pub async fn get(client: &reqwest::Client, url: &str, key: &str) -> Reply {
    call(client, reqwest::Method::GET, url, Some(key), None).await
}

/// `POST url` with a JSON value and a key.
pub async fn post_json(client: &reqwest::Client, url: &str, key: &str, v: &Value) -> Reply {
    let body = serde_json::to_vec(v).expect("json");
    call(
        client,
        reqwest::Method::POST,
        url,
        Some(key),
        Some(("application/json", body)),
    )
    .await
}

/// Runs the real `curl` and returns (exit code, stdout, stderr).
pub fn curl(args: &[String]) -> (Option<i32>, String, String) {
    let out = Command::new("curl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl (is it installed?)");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Splits a shell command line: whitespace-separated words, double or single quotes group.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in {line:?}");
    if in_word {
        words.push(cur);
    }
    words
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
