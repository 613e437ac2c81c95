#!/usr/bin/env python3
"""Idle HTTP/2 flood (issue 24, item 2): one address opens N idle TLS+h2 connections while a
legitimate client from another address makes requests; prints how many flood connections the
server accepted and the legitimate success rate.

    idle_flood.py --port 8443 --cacert cert.pem --key sk_... [--flood 10000] [--requests 500]

The flood comes from 127.0.0.2 and the legitimate client from 127.0.0.1 (both loopback on
Linux). Standard library only.
"""
import argparse
import asyncio
import ssl
import sys
import time

from common import legit_me

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
# One request, so the connection counts as used (a connection that never asks anything is cut
# at the header timeout): GET /healthz as HPACK (indexed :method GET, :scheme https; :path and
# :authority as literals), one HEADERS frame with END_STREAM | END_HEADERS on stream 1.
_BLOCK = b"\x82\x87\x44\x08/healthz\x41\x09127.0.0.1"
REQUEST = len(_BLOCK).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + _BLOCK


async def flood_one(port, ctx, held, refused):
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx, local_addr=("127.0.0.2", 0),
                                    server_hostname="127.0.0.1"),
            timeout=10)
        w.write(PREFACE + REQUEST)
        await w.drain()
        held.append((r, w))
    except Exception:
        refused[0] += 1


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--flood", type=int, default=10000)
    p.add_argument("--requests", type=int, default=500)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.set_alpn_protocols(["h2"])
    legit_ctx = ssl.create_default_context(cafile=a.cacert)
    legit_ctx.set_alpn_protocols(["http/1.1"])
    held, refused = [], [0]
    t = time.monotonic()
    for i in range(0, a.flood, 500):
        await asyncio.gather(*(flood_one(a.port, ctx, held, refused)
                               for _ in range(min(500, a.flood - i))))
    flood_secs = time.monotonic() - t
    # Of the connections whose handshake completed, how many are still open a moment later.
    await asyncio.sleep(1)
    open_now = sum(1 for r, _ in held if not r.at_eof())
    ok, p50, p99 = await legit_me(a.port, legit_ctx, a.key, a.requests)
    print(f"FLOOD attempted={a.flood} handshakes={len(held)} refused={refused[0]} "
          f"open_after_1s={open_now} secs={flood_secs:.1f}")
    print(f"LEGIT requests={a.requests} ok={ok} success={ok / a.requests:.4f} "
          f"p50_ms={p50 * 1000:.1f} p99_ms={p99 * 1000:.1f}")
    for _, w in held:
        w.close()
    return 0 if ok / a.requests >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
