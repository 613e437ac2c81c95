//! Connection hygiene (issue 24): idle HTTP/1.1 and HTTP/2 connections are closed after the
//! idle timeout (HTTP/2 with GOAWAY), and one client address cannot take every slot.

use std::io::{Read, Write};
use std::net::Ipv4Addr;

use super::*;
use crate::common::TlsStream;

/// Reads HTTP/2 frames until a GOAWAY (type 7) or the end; the time it came, if it did.
fn wait_for_goaway(t: &mut TlsStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    set_read_timeout(t, Duration::from_millis(200));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while start.elapsed() < within {
        match t.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        // Walk the frames read so far: 9-byte headers, a 24-bit length, the type at byte 3.
        let mut at = 0;
        while at + 9 <= buf.len() {
            let len = usize::from(buf[at]) << 16
                | usize::from(buf[at + 1]) << 8
                | usize::from(buf[at + 2]);
            if buf[at + 3] == 7 {
                return Some(start.elapsed());
            }
            at += 9 + len;
        }
    }
    None
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let s = Server::start_with(Options::default().args(&["--idle-timeout-secs", "2"]));

    // HTTP/1.1 keep-alive: one answer, then nothing; the server closes it.
    let mut t = s.tls_stream(&[b"http/1.1"]);
    send(&mut t, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let start = Instant::now();
    let (raw, _) = read_until_closed(&mut t, Duration::from_secs(15));
    let took = start.elapsed();
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));
    assert!(
        took >= Duration::from_millis(1500) && took <= Duration::from_secs(6),
        "HTTP/1.1 idle connection closed after {took:?} (idle timeout 2 s)"
    );

    // HTTP/2: the preface and SETTINGS, then nothing (the server's PINGs are acknowledged by
    // nobody and count for nothing): GOAWAY comes at the idle timeout.
    let mut t = s.tls_stream(&[b"h2"]);
    t.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("preface");
    t.flush().expect("flush");
    let at = wait_for_goaway(&mut t, Duration::from_secs(15))
        .expect("no GOAWAY within 15 s of an idle HTTP/2 connection (idle timeout 2 s)");
    assert!(at <= Duration::from_secs(6), "GOAWAY after {at:?}");

    // A connection in use is not idle: requests every second for 4 s on one connection.
    let mut t = s.tls_stream(&[b"http/1.1"]);
    set_read_timeout(&t, Duration::from_secs(5));
    for _ in 0..4 {
        send(&mut t, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let mut chunk = [0u8; 2048];
        let n = t
            .read(&mut chunk)
            .expect("an answer on the busy connection");
        assert!(String::from_utf8_lossy(&chunk[..n]).starts_with("HTTP/1.1 200"));
        std::thread::sleep(Duration::from_millis(1000));
    }
}

#[test]
fn one_address_cannot_take_every_connection() {
    let s = Server::start_with(Options::default().args(&["--max-connections-per-ip", "3"]));
    let from = Ipv4Addr::new(127, 0, 0, 2);
    let versions = rustls::ALL_VERSIONS;
    let held: Vec<TlsStream> = (0..3)
        .map(|_| {
            s.tls_over(s.tcp_from(from), &[b"http/1.1"], versions)
                .expect("a connection under the cap")
        })
        .collect();
    // A fourth from the same address is closed at once (no TLS handshake).
    let start = Instant::now();
    let fourth = s.tls_over(s.tcp_from(from), &[b"http/1.1"], versions);
    assert!(
        fourth.is_err(),
        "a fourth connection from 127.0.0.2 was served"
    );
    assert!(
        start.elapsed() <= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // Other addresses are not affected.
    let mut t = s.tls_stream(&[b"http/1.1"]);
    send(
        &mut t,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    let (raw, _) = read_until_closed(&mut t, Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"));
    // A closed connection gives its slot back.
    drop(held);
    let again = (0..50).find_map(|_| {
        std::thread::sleep(Duration::from_millis(100));
        s.tls_over(s.tcp_from(from), &[b"http/1.1"], versions).ok()
    });
    assert!(again.is_some(), "127.0.0.2 never got a slot back");
}
