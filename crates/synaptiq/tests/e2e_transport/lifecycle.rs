//! The server's lifecycle and its guards on slow or broken clients: signals, head timeouts, silent TLS, malformed heads, bound-port URLs, metrics.

use super::*;

/// 7. SIGTERM: a request in flight (head sent, body still arriving) completes with its
/// answer; idle keep-alive connections are closed; new connections are refused; the process
/// exits 0 and says so.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_request_in_flight_then_exits_zero() {
    let mut s = Server::start();

    // An idle keep-alive connection (one request done) must not hold the shutdown up.
    let mut idle = s.tls_stream(&[b"http/1.1"]);
    let req = format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        s.bootstrap_key
    );
    send(&mut idle, req.as_bytes());
    set_read_timeout(&idle, Duration::from_millis(300));
    let (first, end) = read_until_closed(&mut idle, Duration::from_secs(5));
    assert_eq!(end, End::TimedOut, "keep-alive connection stays open");
    assert!(
        String::from_utf8_lossy(&first).starts_with("HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&first)
    );

    // The in-flight request: its head, with `Expect: 100-continue` so that the server's
    // `100 Continue` proves the handler is running and waiting for the body.
    let body = br#"{"email":"drain@example.com","name":"In flight"}"#;
    let mut busy = s.tls_stream(&[b"http/1.1"]);
    let head = format!(
        "POST /api/v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        s.bootstrap_key,
        body.len()
    );
    send(&mut busy, head.as_bytes());
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut busy, &mut byte).expect("read the 100 Continue");
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );

    let signalled = Instant::now();
    s.terminate();

    // Shutdown has begun once the listener is gone: new connections are refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new connections still accepted 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        s.wait_exit(Duration::from_millis(200)),
        None,
        "the server exited while a request was in flight"
    );

    // The idle keep-alive connection is closed by the server.
    let (_, end) = read_until_closed(&mut idle, Duration::from_secs(10));
    assert_eq!(end, End::Closed, "idle connection closed on shutdown");

    // Finish the in-flight request: it gets its answer.
    send(&mut busy, body);
    set_read_timeout(&busy, Duration::from_secs(30));
    let (raw, end) = read_until_closed(&mut busy, Duration::from_secs(30));
    let r = RawResponse::parse(&raw);
    assert!(
        r.status_line.starts_with("HTTP/1.1 201"),
        "in-flight request must complete: {r:#?}"
    );
    assert_eq!(r.json()["email"], "drain@example.com");
    assert_eq!(end, End::Closed, "connection closed after the last answer");

    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("the server must exit within 10 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "exit status {status}");
    eprintln!(
        "exited {} ms after SIGTERM",
        signalled.elapsed().as_millis()
    );
    let out = s.stdout_lines();
    assert_eq!(
        out.last().map(String::as_str),
        Some("Synaptiq stopped."),
        "{out:#?}"
    );
}

/// 7b. SIGTERM (and SIGINT) with nothing in flight: a quick, clean exit.
#[test]
fn sigterm_or_sigint_when_idle_exits_zero_quickly() {
    for signal in ["-TERM", "-INT"] {
        let mut s = Server::start();
        // Serve one request first: the signal handler is installed once serving has begun
        // (see `sigterm_right_after_the_listening_line_is_graceful`).
        let mut t = s.tls_stream(&[b"http/1.1"]);
        send(
            &mut t,
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        );
        let (raw, _) = read_until_closed(&mut t, Duration::from_secs(30));
        assert!(raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");
        std::thread::sleep(Duration::from_millis(200));
        s.signal(signal);
        let status = s
            .wait_exit(Duration::from_secs(10))
            .expect("exit within 10 s");
        assert_eq!(status.code(), Some(0), "{signal}: {status}");
        assert!(
            s.stdout_lines().iter().any(|l| l == "Synaptiq stopped."),
            "{signal}: {:#?}",
            s.stdout_lines()
        );
    }
}

/// A SIGTERM that arrives as soon as the server says it is listening is still a graceful
/// stop (exit 0, "Synaptiq stopped."), not death by the signal's default action.
#[test]
fn sigterm_right_after_the_listening_line_is_graceful() {
    for _ in 0..5 {
        let mut s = Server::start();
        s.terminate();
        let status = s
            .wait_exit(Duration::from_secs(10))
            .expect("exit within 10 s");
        assert_eq!(status.code(), Some(0), "killed by the signal: {status}");
    }
}

/// Reads until closed and returns how long it took; fails if the connection stays open.
fn time_until_closed(r: &mut impl std::io::Read, what: &str) -> Duration {
    let start = Instant::now();
    let (bytes, end) = read_until_closed(r, Duration::from_secs(10));
    let took = start.elapsed();
    assert_eq!(
        end,
        End::Closed,
        "{what}: connection still open after 10 s (got {:?})",
        String::from_utf8_lossy(&bytes)
    );
    eprintln!("{what}: closed after {} ms", took.as_millis());
    took
}

/// 8. Slowloris: with `--header-timeout-secs 1`, a partial request head over TLS and a TCP
/// connection that never speaks are closed within about 3 s, while a prompt client is served.
#[tokio::test(flavor = "multi_thread")]
async fn slow_request_heads_are_cut_off() {
    let s = Server::start_with(Options::default().args(&["--header-timeout-secs", "1"]));
    let limit = Duration::from_secs(3);

    let mut partial = s.tls_stream(&[b"http/1.1"]);
    set_read_timeout(&partial, Duration::from_millis(100));
    send(
        &mut partial,
        format!(
            "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n",
            s.bootstrap_key
        )
        .as_bytes(),
    );
    let took = time_until_closed(&mut partial, "partial head over TLS");
    assert!(took <= limit, "partial head: closed after {took:?}");
    assert!(
        took >= Duration::from_millis(500),
        "closed too early ({took:?}): a timeout, not a rejection, was expected"
    );

    // A request line trickled in, one byte at a time, never finished.
    let mut trickle = s.tls_stream(&[b"http/1.1"]);
    set_read_timeout(&trickle, Duration::from_millis(100));
    let start = Instant::now();
    let mut closed = false;
    for b in
        b"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    {
        if trickle
            .write_all(&[*b])
            .and_then(|()| trickle.flush())
            .is_err()
        {
            closed = true;
            break;
        }
        let (_, end) = read_until_closed(&mut trickle, Duration::from_millis(200));
        if end == End::Closed {
            closed = true;
            break;
        }
    }
    let took = start.elapsed();
    assert!(
        closed,
        "a trickled head kept the connection open for {took:?}"
    );
    assert!(
        took <= limit + Duration::from_secs(1),
        "trickle: closed after {took:?}"
    );

    let mut silent_tcp = s.tcp();
    silent_tcp
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let took = time_until_closed(&mut silent_tcp, "silent TCP");
    assert!(took <= limit, "silent TCP: closed after {took:?}");

    // A TLS ClientHello that never completes.
    let mut hello = s.tcp();
    hello
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    hello.write_all(&[0x16, 0x03, 0x01]).expect("write");
    let took = time_until_closed(&mut hello, "partial ClientHello");
    assert!(took <= limit, "partial ClientHello: closed after {took:?}");

    // A normal client on the same server is unaffected.
    let r = call(
        &s.client(),
        Method::GET,
        &s.url("/api/v1/me"),
        Some(&s.bootstrap_key),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:#?}");
}

/// 8b. Slowloris after the TLS handshake: a client that completes the handshake and then
/// sends nothing, or only the start of the HTTP/2 preface, must be cut off like any slow head.
#[test]
fn silent_tls_connections_are_cut_off() {
    let s = Server::start_with(Options::default().args(&["--header-timeout-secs", "1"]));
    let limit = Duration::from_secs(3);
    let mut failures = Vec::new();

    let mut silent_tls = s.tls_stream(&[b"http/1.1"]);
    set_read_timeout(&silent_tls, Duration::from_millis(100));
    let start = Instant::now();
    let (_, end) = read_until_closed(&mut silent_tls, Duration::from_secs(10));
    if end != End::Closed || start.elapsed() > limit {
        failures.push(format!(
            "TLS handshake then silence: {end:?} after {:?}",
            start.elapsed()
        ));
    }

    let mut preface = s.tls_stream(&[b"h2"]);
    set_read_timeout(&preface, Duration::from_millis(100));
    send(&mut preface, b"PRI * HTTP/2.0\r\n");
    let start = Instant::now();
    let (_, end) = read_until_closed(&mut preface, Duration::from_secs(10));
    if end != End::Closed || start.elapsed() > limit {
        failures.push(format!(
            "half an HTTP/2 preface: {end:?} after {:?}",
            start.elapsed()
        ));
    }

    assert!(failures.is_empty(), "connections left open: {failures:#?}");
}

/// Links the server prints and returns (the bootstrap `curl` line, `doc_url`, the
/// `https_required` message) must name the address it actually listens on.
#[tokio::test(flavor = "multi_thread")]
async fn printed_and_returned_urls_name_the_bound_port() {
    let s = Server::start();
    let origin = format!("https://127.0.0.1:{}", s.port);
    assert!(
        s.curl_line.contains(&format!("{origin}/api/v1/leads")),
        "curl line: {}",
        s.curl_line
    );
    let r = call(&s.client(), Method::GET, &s.url("/api/v1/me"), None, None).await;
    r.assert_error(401, "unauthorized");
    let doc_url = r.json["error"]["doc_url"].as_str().unwrap_or_default();
    assert!(doc_url.starts_with(&format!("{origin}/docs/")), "{doc_url}");
    // The documentation page it names is served.
    let path = &doc_url[origin.len()..];
    let page = call(&s.client(), Method::GET, &s.url(path), None, None).await;
    assert_eq!(page.status, 200, "{path}: {page:#?}");
}

/// A request hyper itself rejects (malformed header line) still gets the contract's
/// headers and error envelope.
#[test]
#[ignore = "known limitation: hyper's own 400 bypasses the middleware (no X-Request-Id, no HSTS, \
            empty body); see the e2e report"]
fn malformed_request_heads_get_the_error_envelope() {
    let s = Server::start();
    let mut t = s.tls_stream(&[b"http/1.1"]);
    send(
        &mut t,
        b"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nThis is not a header\r\n\r\n",
    );
    let (raw, _) = read_until_closed(&mut t, Duration::from_secs(30));
    let r = RawResponse::parse(&raw);
    assert!(r.status_line.starts_with("HTTP/1.1 400"), "{r:#?}");
    assert!(
        r.header("x-request-id")
            .is_some_and(|v| v.starts_with("req_")),
        "X-Request-Id: {r:#?}"
    );
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000"),
        "{r:#?}"
    );
    assert_eq!(r.json()["error"]["code"], "invalid_request", "{r:#?}");
}

/// `--metrics-listen` serves Prometheus text; every answer is counted by its status class
/// (the counter handles are registered once, after the recorder is installed).
#[tokio::test]
async fn metrics_count_responses_by_class() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let s = Server::start_with(Options::default().args(&["--metrics-listen", &metrics]));
    let client = s.client();
    for _ in 0..3 {
        let r = get(&client, &s.url("/api/v1/me"), &s.bootstrap_key).await;
        assert_eq!(r.status, 200);
    }
    let r = get(&client, &s.url("/api/v1/me"), "sk_test_not_a_key").await;
    assert_eq!(r.status, 401);
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    let count = |class: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "synaptiq_http_responses_total{{class=\"{class}\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {class} counter in:\n{text}"))
    };
    assert!(count("2xx") >= 3, "{text}");
    assert!(count("4xx") >= 1, "{text}");
    assert_eq!(count("5xx"), 0, "{text}");
}
