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

mod cli;
mod process;
pub use cli::*;
mod wire;
pub use wire::*;
