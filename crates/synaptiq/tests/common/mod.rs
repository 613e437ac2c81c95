//! End-to-end harness: the real `synaptiq` binary, started in a fresh temporary data
//! directory, spoken to over real TLS (reqwest, curl, or a raw rustls stream).
//!
//! - [`Server::start`] runs `synaptiq serve --listen 127.0.0.1:0`, parses the bound port, the
//!   generated certificate and the first-run bootstrap key from its stdout, and keeps its stderr
//!   in `<tempdir>/server.stderr.log`. Dropping the [`Server`] kills the process (and, when a
//!   test panicked, prints the server's output to help the diagnosis).
//! - [`Server::cli`] runs another `synaptiq` command on the same data directory.
//! - [`Server::client`] is an HTTPS client trusting only the server's certificate.
//! - [`Server::tls_stream`] is a raw TLS connection for hand-written HTTP/1.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_synaptiq");

/// A rate policy that never gets in the way of a functional test.
pub const RELAXED_POLICY: &str = "[plans.starter]\nread = 100000\nwrite = 100000\nadmin = 100000\n\
                                  [auth_failures]\nper_minute = 100000\n";

/// How long a server may take to start (debug build, loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Installs the process-wide rustls provider reqwest needs (idempotent).
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Use [`RELAXED_POLICY`] (otherwise the seed's default limits apply).
    pub relaxed: bool,
    /// Extra `serve` flags.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Serve an existing data directory (a second node) instead of a fresh one; no bootstrap
    /// output is expected then.
    pub data_dir: Option<PathBuf>,
    /// Another node already bootstrapped the (shared) database: expect no bootstrap output.
    pub second_node: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            relaxed: true,
            args: Vec::new(),
            env: Vec::new(),
            data_dir: None,
            second_node: false,
        }
    }
}

impl Options {
    /// The seed's default rate limits.
    pub fn default_limits() -> Self {
        Self {
            relaxed: false,
            ..Self::default()
        }
    }

    /// Adds `serve` flags.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| (*s).to_owned()));
        self
    }

    /// A node joining a database another node already bootstrapped.
    pub fn second_node(mut self) -> Self {
        self.second_node = true;
        self
    }

    /// Serves `dir` (the data directory of another running node).
    pub fn shared_data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }
}

/// A running `synaptiq serve`.
pub struct Server {
    /// The HTTPS port actually bound.
    pub port: u16,
    /// The `--http-listen` port, when asked for.
    pub http_port: Option<u16>,
    /// `<data-dir>/tls/cert.pem` as printed by the server.
    pub cert_path: PathBuf,
    /// Its contents.
    pub cert_pem: Vec<u8>,
    /// The first-run `sk_test_` admin key.
    pub bootstrap_key: String,
    /// Its id (`key_…`).
    pub bootstrap_key_id: String,
    /// The "Default" organization's id.
    pub org_id: String,
    /// The printed `curl …` line, verbatim (leading spaces trimmed).
    pub curl_line: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The file receiving the server's stderr (its logs).
    pub stderr_path: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
    /// Environment given to the server, reused by [`Server::cli`].
    env: Vec<(String, String)>,
    child: Child,
    reader: Option<JoinHandle<()>>,
    exited: Option<ExitStatus>,
    dir: tempfile::TempDir,
}

/// Result of a CLI run.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliOutput {
    /// stdout as JSON; panics with the whole output if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("CLI output is not JSON ({e}): {self:#?}"))
    }
}

fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SYNAPTIQ_") {
            cmd.env_remove(k);
        }
    }
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

impl Server {
    /// Starts a server with the relaxed rate policy.
    pub fn start() -> Server {
        Self::start_with(Options::default())
    }

    /// Starts a server in a fresh temporary data directory and waits until it listens.
    pub fn start_with(opts: Options) -> Server {
        install_crypto();
        let dir = tempfile::tempdir().expect("tempdir");
        let second_node = opts.data_dir.is_some() || opts.second_node;
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let stderr_path = dir.path().join("server.stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr log file");
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg("--data-dir")
            .arg(&data_dir)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0");
        if opts.relaxed {
            let policy = dir.path().join("rate-policy.toml");
            std::fs::write(&policy, RELAXED_POLICY).expect("policy file");
            cmd.arg("--rate-policy").arg(&policy);
        }
        cmd.args(&opts.args);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("spawn synaptiq serve");
        let out = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("stdout lock").push(line.clone());
                let _ = tx.send(line);
            }
        });
        let wants_http = opts.args.iter().any(|a| a == "--http-listen");
        let (mut port, mut http_port) = (None, None);
        let (mut cert_path, mut key_line, mut org_id, mut curl_line) = (None, None, None, None);
        let deadline = Instant::now() + START_TIMEOUT;
        while port.is_none() || (wants_http && http_port.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "server did not start ({e:?}).\nstdout:\n{}\nstderr:\n{}",
                        lines.lock().expect("lock").join("\n"),
                        std::fs::read_to_string(&stderr_path).unwrap_or_default()
                    );
                }
            };
            if let Some(p) = after(&line, "TLS certificate: ") {
                cert_path = Some(PathBuf::from(p.trim()));
            } else if let Some(rest) = after(&line, "Test admin API key (") {
                key_line = Some(rest.to_owned());
            } else if let Some(rest) = after(&line, "created organization \"Default\" (") {
                org_id = rest.split(')').next().map(str::to_owned);
            } else if line.trim_start().starts_with("curl ") {
                curl_line = Some(line.trim_start().to_owned());
            } else if let Some(rest) = after(&line, "Synaptiq listening on https://127.0.0.1:") {
                let p = rest.split_whitespace().next().expect("port");
                port = Some(p.parse::<u16>().expect("port number"));
            } else if let Some(rest) = after(&line, "Plain HTTP on ") {
                let addr = rest.split_whitespace().next().expect("address");
                let addr: std::net::SocketAddr = addr.parse().expect("socket address");
                http_port = Some(addr.port());
            }
        }
        let cert_path = cert_path.expect("the server printed its certificate path");
        let cert_pem = std::fs::read(&cert_path).expect("read the certificate");
        // "key_…): sk_test_…"
        let key_line = match key_line {
            Some(l) => l,
            None if second_node => "): ".to_owned(),
            None => panic!("first run prints the bootstrap key"),
        };
        let (id, secret) = key_line.split_once("): ").expect("key line shape");
        let org_id = if second_node {
            Some(org_id.unwrap_or_default())
        } else {
            org_id
        };
        let curl_line = if second_node {
            Some(curl_line.unwrap_or_default())
        } else {
            curl_line
        };
        Server {
            port: port.expect("port"),
            http_port,
            cert_path,
            cert_pem,
            bootstrap_key: secret.trim().to_owned(),
            bootstrap_key_id: id.to_owned(),
            org_id: org_id.expect("bootstrap organization id"),
            curl_line: curl_line.expect("bootstrap curl line"),
            data_dir,
            stderr_path,
            stdout: lines,
            env: opts.env.clone(),
            child,
            reader: Some(reader),
            exited: None,
            dir,
        }
    }

    /// The temporary directory holding the data directory and the logs.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed on stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lock").clone()
    }

    /// The server's stderr log so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The server's certificate for reqwest.
    pub fn certificate(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(&self.cert_pem).expect("certificate PEM")
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        install_crypto();
        reqwest::Client::builder()
            .tls_certs_only([self.certificate()])
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(30))
    }

    /// HTTPS client trusting only this server's certificate; ALPN offers h2 and http/1.1.
    pub fn client(&self) -> reqwest::Client {
        self.builder().build().expect("reqwest client")
    }

    /// HTTPS client speaking HTTP/1.1 only.
    pub fn client_h1(&self) -> reqwest::Client {
        self.builder().http1_only().build().expect("reqwest client")
    }

    /// Runs `synaptiq --data-dir <this server's data dir> ARGS…`.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        cli_with_env(&self.data_dir, &self.env, args)
    }

    /// Runs a CLI command that must succeed and print JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert_eq!(
            out.code,
            Some(0),
            "`synaptiq {}` failed: {out:#?}",
            args.join(" ")
        );
        out.json()
    }

    /// Creates an organization through the CLI; returns its id.
    pub fn create_org(&self, name: &str, plan: &str) -> String {
        let v = self.cli_json(&["org", "create", "--name", name, "--plan", plan, "--json"]);
        v["id"].as_str().expect("organization id").to_owned()
    }

    /// Creates a key through the CLI; returns (id, secret).
    pub fn create_key(&self, org: &str, scope: &str, env: &str) -> (String, String) {
        let v = self.cli_json(&[
            "key", "create", "--org", org, "--scope", scope, "--env", env, "--json",
        ]);
        (
            v["id"].as_str().expect("key id").to_owned(),
            v["secret"].as_str().expect("key secret").to_owned(),
        )
    }

    /// Sends SIGTERM with the system's `kill` command.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends a signal (`-TERM`, `-INT`, …) with the system's `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.exited {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(s);
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A TLS 1.2/1.3 connection offering `alpn`, handshake done.
    pub fn tls_stream(&self, alpn: &[&[u8]]) -> TlsStream {
        self.tls_stream_versions(alpn, rustls::ALL_VERSIONS)
    }

    /// A TLS connection restricted to `versions`, handshake done.
    pub fn tls_stream_versions(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsStream {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&self.cert_pem) {
            roots.add(c.expect("certificate")).expect("add root");
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = ServerName::try_from("127.0.0.1").expect("server name");
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client connection");
        let sock = self.tcp();
        let mut s = rustls::StreamOwned::new(conn, sock);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).expect("TLS handshake");
        }
        s
    }

    /// A plain TCP connection to the HTTPS port, with a 30 s read timeout.
    pub fn tcp(&self) -> TcpStream {
        tcp_to(self.port)
    }
}

/// A raw TLS client stream.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A plain TCP connection to `127.0.0.1:port`, with a 30 s read timeout.
pub fn tcp_to(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Runs `synaptiq --data-dir DIR ARGS…` and collects its output.
pub fn cli_in(data_dir: &Path, args: &[&str]) -> CliOutput {
    cli_with_env(data_dir, &[], args)
}

/// Runs `synaptiq --data-dir DIR ARGS…` with extra environment variables.
pub fn cli_with_env(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> CliOutput {
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.arg("--data-dir").arg(data_dir).args(args);
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("run synaptiq");
    CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- server stdout ----\n{}\n---- server stderr ----\n{}",
                self.stdout_lines().join("\n"),
                self.stderr_text()
            );
        }
    }
}

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
