#!/usr/bin/env python3
"""kill -9 under writes (issue 24): writers create leads as fast as they are answered while the
server is killed with SIGKILL and restarted, CYCLES times; then every lead whose creation was
acknowledged (201) must be in the database.

    kill9.py --bin target/release/synaptiq --data-dir DIR --port 18610 --policy FILE \
             [--cycles 10] [--seconds 2] [--writers 4]
"""
import argparse
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time


def start(a):
    out = open(os.path.join(os.path.dirname(os.path.abspath(a.data_dir)), "serve.err"), "ab")
    proc = subprocess.Popen(
        [a.bin, "--data-dir", a.data_dir, "serve", "--listen", f"127.0.0.1:{a.port}",
         "--rate-policy", a.policy],
        stdout=subprocess.PIPE, stderr=out, env={k: v for k, v in os.environ.items()
                                                   if not k.startswith("SYNAPTIQ_")})
    key = None
    for line in proc.stdout:
        text = line.decode(errors="replace")
        if "sk_test_" in text and key is None:
            key = text.split("sk_test_")[1].split()[0].strip('"')
            key = "sk_test_" + key
        if "Synaptiq listening on" in text:
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, key


def writer(a, ctx, key, n, acked, stop):
    i = 0
    conn = None
    while not stop.is_set():
        i += 1
        email = f"k{n}-{i}@kill9.test"
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=5)
            conn.request("POST", "/api/v1/leads", body=json.dumps({"email": email}),
                         headers={"Authorization": f"Bearer {key}",
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status == 201:
                acked.append(email)
        except Exception:
            conn = None
            time.sleep(0.05)


def all_emails(a, ctx, key):
    found = set()
    page = 1
    while True:
        conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=30)
        conn.request("GET", f"/api/v1/leads?limit=100&page={page}",
                     headers={"Authorization": f"Bearer {key}"})
        body = json.loads(conn.getresponse().read())
        data = body["data"]
        found.update(l["email"] for l in data)
        if len(data) < 100:
            return found
        page += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--seconds", type=float, default=2)
    p.add_argument("--writers", type=int, default=4)
    a = p.parse_args()
    proc, key = start(a)
    ctx = ssl.create_default_context(cafile=os.path.join(a.data_dir, "tls", "cert.pem"))
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=writer, args=(a, ctx, key, n, acked, stop))
               for n in range(a.writers)]
    for t in threads:
        t.start()
    restarts = []
    for _ in range(a.cycles):
        time.sleep(a.seconds)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        t0 = time.monotonic()
        proc, _ = start(a)
        restarts.append(time.monotonic() - t0)
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join()
    found = all_emails(a, ctx, key)
    proc.terminate()
    proc.wait()
    lost = [e for e in acked if e not in found]
    restarts.sort()
    print(f"KILL9 cycles={a.cycles} acknowledged={len(acked)} stored={len(found)} "
          f"lost={len(lost)} restart_p50_ms={restarts[len(restarts) // 2] * 1000:.0f} "
          f"restart_max_ms={restarts[-1] * 1000:.0f}")
    return 1 if lost or not acked else 0


if __name__ == "__main__":
    sys.exit(main())
