#!/usr/bin/env python3
"""The bad-input table (issue 24, item 5): each malformed or abusive request against a running
server over TLS, with the status it got and how long the answer took.

    bad_input.py --port 8443 --cacert cert.pem --key sk_... [--request-timeout 30]
"""
import argparse
import socket
import ssl
import sys
import time


def exchange(port, ctx, raw, wait):
    """Sends `raw`, waits up to `wait` s for the status line; (status, seconds)."""
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as tls:
            tls.settimeout(wait)
            tls.sendall(raw)
            buf = b""
            try:
                while b"\r\n" not in buf:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
            except (socket.timeout, ssl.SSLError, ConnectionError):
                pass
    line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
    status = line.split(" ")[1] if line.startswith("HTTP/1.1 ") else "none"
    return status, time.monotonic() - t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--request-timeout", type=int, default=30)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.set_alpn_protocols(["http/1.1"])
    auth = f"Authorization: Bearer {a.key}\r\n"
    head = lambda extra: (f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{extra}"
                          "Connection: close\r\n\r\n").encode()
    post = lambda extra, body=b"": (f"POST /api/v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                                    f"Content-Type: application/json\r\n{extra}\r\n").encode() + body
    wait = a.request_timeout + 10
    cases = [
        ("30 KB request head", head("X-Padding: " + "a" * 30 * 1024 + "\r\n"), "200"),
        ("40 KB request head", head("X-Padding: " + "a" * 40 * 1024 + "\r\n"), "431"),
        ("100 KB request head", head("X-Padding: " + "a" * 100 * 1024 + "\r\n"), "431"),
        ("Content-Length 10 MB, no body sent", post("Content-Length: 10485760\r\n"), "413"),
        ("body that stops arriving", post("Content-Length: 100\r\n", b'{"email":'), "408"),
        ("malformed JSON", post("Content-Length: 9\r\n", b'{"email":'), "400"),
    ]
    failed = 0
    print(f"{'case':<40} {'want':>4} {'got':>4} {'seconds':>8}")
    for name, raw, want in cases:
        got, secs = exchange(a.port, ctx, raw, wait)
        ok = got == want
        failed += not ok
        print(f"{name:<40} {want:>4} {got:>4} {secs:>8.2f}{'' if ok else '  <-- FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
