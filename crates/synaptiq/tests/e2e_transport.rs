//! End-to-end transport tests against the real binary over real TLS: the seed's curl line,
//! plain HTTP refused (never redirected) and the key it carried flagged, HTTP/2 over ALPN,
//! TLS 1.2, graceful shutdown on SIGTERM, and the slowloris guard.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{
    End, Options, RawResponse, Server, call, curl, get, post_json, read_until_closed, send,
    set_read_timeout, shell_words, tcp_to,
};
use reqwest::Method;
use serde_json::Value;

fn key_in_list<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("key list is an array")
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} not in {list:#}"))
}

/// Asserts a raw plain-HTTP answer: `403 https_required`, JSON, no redirect, no HSTS, closed.
fn assert_https_required(raw: &[u8], end: End, key: Option<&str>) -> RawResponse {
    assert_eq!(
        end,
        End::Closed,
        "the server must close the connection after refusing plain HTTP; got {:?}",
        String::from_utf8_lossy(raw)
    );
    let r = RawResponse::parse(raw);
    assert!(
        r.status_line.starts_with("HTTP/1.1 403"),
        "status line: {r:#?}"
    );
    assert_eq!(
        r.header("location"),
        None,
        "plain HTTP is never redirected: {r:#?}"
    );
    // RFC 6797 §7.2: HSTS MUST NOT be sent over non-secure transport.
    assert_eq!(r.header("strict-transport-security"), None, "{r:#?}");
    assert_eq!(r.header("connection"), Some("close"), "{r:#?}");
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{r:#?}"
    );
    let j = r.json();
    assert_eq!(j["error"]["code"], "https_required", "{j:#}");
    let id = r.header("x-request-id").expect("X-Request-Id on the 403");
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(j["error"]["request_id"], id, "{j:#}");
    if let Some(k) = key {
        assert!(!r.body.contains(k), "the key must not be echoed: {r:#?}");
    }
    r
}

/// 1. The bootstrap's `curl` line, run with the real curl.
#[test]
fn seed_curl_line_works_verbatim() {
    let s = Server::start();
    let cert = s.cert_path.display().to_string();
    let prefix = format!("curl --cacert {cert} https://127.0.0.1:");
    let suffix = format!(
        "/api/v1/leads -H \"Authorization: Bearer {}\"",
        s.bootstrap_key
    );
    assert!(
        s.curl_line.starts_with(&prefix) && s.curl_line.ends_with(&suffix),
        "unexpected curl line: {:?}",
        s.curl_line
    );
    let mut words = shell_words(&s.curl_line);
    assert_eq!(words.len(), 6, "{words:?}");
    assert_eq!(words[0], "curl");
    // The printed URL carries the port given to --listen (0 here); aim it at the bound port.
    for w in &mut words {
        if w.starts_with("https://") {
            *w = s.url("/api/v1/leads");
        }
    }
    let mut args: Vec<String> = words[1..].to_vec();
    args.extend(
        [
            "--silent",
            "--show-error",
            "--max-time",
            "60",
            "-w",
            "\nHTTP Status: %{http_code}\n",
        ]
        .map(String::from),
    );
    let (code, out, err) = curl(&args);
    assert_eq!(code, Some(0), "curl failed: {err}\n{out}");
    let body = out
        .strip_suffix("\nHTTP Status: 200\n")
        .unwrap_or_else(|| panic!("expected `HTTP Status: 200` at the end of {out:?}"));
    let v: Value = serde_json::from_str(body).expect("JSON list");
    assert_eq!(v["data"], Value::Array(vec![]), "{v:#}");
    assert_eq!(v["pagination"]["total"], 0, "{v:#}");
    assert_eq!(v["pagination"]["page"], 1, "{v:#}");
    assert_eq!(v["pagination"]["limit"], 25, "{v:#}");
}

/// 2. Plain HTTP on the TLS port: 403 `https_required`, no redirect, closed; the key it
/// carried is flagged as exposed (policy `flag`: it keeps working over HTTPS).
#[tokio::test(flavor = "multi_thread")]
async fn plain_http_on_tls_port_is_refused_and_flags_the_key() {
    let s = Server::start();
    let (other_id, other_secret) = s.create_key(&s.org_id, "read", "test");
    let mut tcp = s.tcp();
    let head = format!(
        "GET /api/v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        s.bootstrap_key
    );
    tcp.write_all(head.as_bytes()).expect("write");
    let (raw, end) = read_until_closed(&mut tcp, Duration::from_secs(30));
    let r = assert_https_required(&raw, end, Some(&s.bootstrap_key));
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(msg.contains("HTTPS"), "{msg}");
    assert!(
        msg.contains("rotate"),
        "the message warns about the key: {msg}"
    );

    // Policy `flag`: the key still works over HTTPS …
    let c = s.client();
    let me = get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await;
    assert_eq!(me.status, 200, "{me:#?}");
    me.assert_common_headers();
    assert_eq!(me.json["key"]["id"], s.bootstrap_key_id.as_str());

    // … and it is marked exposed; the key that never crossed in clear is not.
    let list = s.cli_json(&["key", "list", "--org", &s.org_id, "--json"]);
    let exposed = key_in_list(&list, &s.bootstrap_key_id);
    assert!(
        exposed["exposedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "exposedAt must be set: {exposed:#}"
    );
    assert_eq!(exposed["status"], "active", "{exposed:#}");
    let other = key_in_list(&list, &other_id);
    assert_eq!(other["exposedAt"], Value::Null, "{other:#}");
    let still = get(&c, &s.url("/api/v1/me"), &other_secret).await;
    assert_eq!(still.status, 200, "{still:#?}");

    // The management API shows it too, and the audit log has a `key.exposed` event.
    let keys = get(&c, &s.url("/api/v1/keys"), &s.bootstrap_key).await;
    assert_eq!(keys.status, 200, "{keys:#?}");
    let k = key_in_list(&keys.json["data"], &s.bootstrap_key_id);
    assert_eq!(k["exposedAt"], exposed["exposedAt"], "{k:#}");
    let audit = get(
        &c,
        &s.url(&format!(
            "/api/v1/audit-events?type=key.exposed&keyId={}",
            s.bootstrap_key_id
        )),
        &s.bootstrap_key,
    )
    .await;
    assert_eq!(audit.status, 200, "{audit:#?}");
    let events = audit.json["data"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{audit:#?}");
    assert_eq!(events[0]["type"], "key.exposed");
    assert_eq!(events[0]["ip"], "127.0.0.1");
}

/// 2b. Plain HTTP without a key, or with a well-formed unknown key: the same 403, nothing
/// flagged.
#[test]
fn plain_http_without_a_real_key_gets_the_same_403() {
    let s = Server::start();
    for head in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        "DELETE /api/v1/leads/lead_01HQ3VXK9BWMN4F6T2P8R5GYSC HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer sk_live_notarealkeynotarealkeynotarealkey1\r\n\r\n"
            .to_owned(),
    ] {
        let mut tcp = s.tcp();
        tcp.write_all(head.as_bytes()).expect("write");
        let (raw, end) = read_until_closed(&mut tcp, Duration::from_secs(30));
        assert_https_required(&raw, end, None);
    }
    let list = s.cli_json(&["key", "list", "--org", &s.org_id, "--json"]);
    let k = key_in_list(&list, &s.bootstrap_key_id);
    assert_eq!(k["exposedAt"], Value::Null, "{k:#}");
}

/// 2c. `--http-listen`: every request there gets 403 `https_required`, and a real key is
/// flagged.
#[tokio::test(flavor = "multi_thread")]
async fn http_listen_port_refuses_everything_and_flags_keys() {
    let s = Server::start_with(Options::default().args(&["--http-listen", "127.0.0.1:0"]));
    let http_port = s.http_port.expect("the server printed its plain HTTP port");
    assert_ne!(http_port, s.port);
    for head in [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!(
            "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
            s.bootstrap_key
        ),
    ] {
        let mut tcp = tcp_to(http_port);
        tcp.write_all(head.as_bytes()).expect("write");
        let (raw, end) = read_until_closed(&mut tcp, Duration::from_secs(30));
        assert_https_required(&raw, end, Some(&s.bootstrap_key));
    }
    let list = s.cli_json(&["key", "list", "--org", &s.org_id, "--json"]);
    let k = key_in_list(&list, &s.bootstrap_key_id);
    assert!(k["exposedAt"].is_string(), "exposedAt must be set: {k:#}");
    // The HTTPS port is unaffected.
    let c = s.client();
    let me = get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await;
    assert_eq!(me.status, 200, "{me:#?}");
}

/// 2d. `--on-plaintext-key revoke`: the key that crossed in clear stops working at once.
#[tokio::test(flavor = "multi_thread")]
async fn plaintext_key_policy_revoke_revokes_the_key() {
    let s = Server::start_with(Options::default().args(&["--on-plaintext-key", "revoke"]));
    let c = s.client();
    // Warm the key cache first: revocation must not be hidden by it.
    let me = get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await;
    assert_eq!(me.status, 200, "{me:#?}");
    let mut tcp = s.tcp();
    let head = format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        s.bootstrap_key
    );
    tcp.write_all(head.as_bytes()).expect("write");
    let (raw, end) = read_until_closed(&mut tcp, Duration::from_secs(30));
    assert_https_required(&raw, end, Some(&s.bootstrap_key));
    let r = get(&c, &s.url("/api/v1/me"), &s.bootstrap_key).await;
    r.assert_error(401, "unauthorized");
    let msg = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("revoked"), "{msg}");
    let list = s.cli_json(&["key", "list", "--org", &s.org_id, "--json"]);
    let k = key_in_list(&list, &s.bootstrap_key_id);
    assert_eq!(k["status"], "revoked", "{k:#}");
    assert!(k["exposedAt"].is_string(), "{k:#}");
}

/// 4. HTTP/2 by ALPN, HTTP/1.1, and a TLS 1.2-only client.
#[tokio::test(flavor = "multi_thread")]
async fn http2_by_alpn_http11_and_tls12_clients_work() {
    let s = Server::start();
    let url = s.url("/api/v1/me");

    let r = get(&s.client(), &url, &s.bootstrap_key).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.version, reqwest::Version::HTTP_2, "ALPN must pick h2");
    r.assert_common_headers();

    let r = get(&s.client_h1(), &url, &s.bootstrap_key).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.version, reqwest::Version::HTTP_11);
    r.assert_common_headers();

    // Raw rustls: the server selects h2 when offered, http/1.1 otherwise.
    let t = s.tls_stream(&[b"h2", b"http/1.1"]);
    assert_eq!(t.conn.alpn_protocol(), Some(&b"h2"[..]));
    let t = s.tls_stream(&[b"http/1.1"]);
    assert_eq!(t.conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    // A TLS 1.2-only rustls client, speaking HTTP/1.1 by hand.
    let mut t = s.tls_stream_versions(&[b"http/1.1"], &[&rustls::version::TLS12]);
    assert_eq!(
        t.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let req = format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n\r\n",
        s.bootstrap_key
    );
    send(&mut t, req.as_bytes());
    let (raw, _) = read_until_closed(&mut t, Duration::from_secs(30));
    let resp = RawResponse::parse(&raw);
    assert!(resp.status_line.starts_with("HTTP/1.1 200"), "{resp:#?}");
    assert_eq!(
        resp.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // And the real curl restricted to TLS 1.2 (OpenSSL), over h2 and over HTTP/1.1.
    let cacert = s.cert_path.display().to_string();
    let auth = format!("Authorization: Bearer {}", s.bootstrap_key);
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let args: Vec<String> = [
            "-v",
            "--silent",
            "--show-error",
            "--max-time",
            "60",
            flag,
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--cacert",
            cacert.as_str(),
            url.as_str(),
            "-H",
            auth.as_str(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ]
        .map(String::from)
        .to_vec();
        let (code, out, err) = curl(&args);
        assert_eq!(code, Some(0), "curl failed: {err}");
        assert_eq!(out, format!("200 {version}"), "{err}");
        assert!(err.contains("TLSv1.2"), "curl did not use TLS 1.2: {err}");
    }
}

/// The client address the transport saw reaches the key's allow-list, the audit log and the
/// 403 message, over HTTP/2 (one future per stream) and HTTP/1.1 alike.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_address_reaches_allow_lists_over_h1_and_h2() {
    let s = Server::start();
    let keys = s.url("/api/v1/keys");
    let mut secrets = Vec::new();
    for (name, cidr) in [("here", "127.0.0.1/32"), ("elsewhere", "10.0.0.0/8")] {
        let body = serde_json::json!({"name": name, "scope": "read", "allowedIps": [cidr]});
        let r = post_json(&s.client(), &keys, &s.bootstrap_key, &body).await;
        assert_eq!(r.status, 201, "{r:#?}");
        secrets.push(r.json["secret"].as_str().expect("secret").to_owned());
    }
    let me = s.url("/api/v1/me");
    for client in [s.client(), s.client_h1()] {
        let r = get(&client, &me, &secrets[0]).await;
        assert_eq!(r.status, 200, "{r:#?}");
        let r = get(&client, &me, &secrets[1]).await;
        assert_eq!(r.status, 403, "{r:#?}");
        let msg = r.json["error"]["message"].as_str().expect("message");
        assert!(msg.contains("from 127.0.0.1:"), "{msg}");
    }
    let audit = get(
        &s.client(),
        &s.url("/api/v1/audit-events?type=key.created"),
        &s.bootstrap_key,
    )
    .await;
    assert_eq!(audit.status, 200, "{audit:#?}");
    let events = audit.json["data"].as_array().expect("events");
    let from_here = events.iter().filter(|e| e["ip"] == "127.0.0.1").count();
    assert_eq!(from_here, 2, "the two keys made over HTTPS: {audit:#?}");
}

mod bad_input;
mod hygiene;
mod lifecycle;
