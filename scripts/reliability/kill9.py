#!/usr/bin/env python3
"""kill -9 under writes (issue 24): writers create leads as fast as they are answered while the
server is killed with SIGKILL and restarted, CYCLES times; then every lead whose creation was
acknowledged (201) must be in the database.

    kill9.py --bin target/release/synaptiq --data-dir DIR --port 18610 --policy FILE \
             [--postgres] [--cycles 10] [--seconds 2] [--writers 4]

With --postgres the server writes to a private PostgreSQL cluster made for the run.
"""
import argparse
import signal
import sys
import threading
import time

from common import Client, PrivateCluster, Server, skipped


def writer(port, ctx, key, n, acked, stop):
    client = Client(port, ctx, timeout=5)
    i = 0
    while not stop.is_set():
        i += 1
        email = f"k{n}-{i}@kill9.test"
        status, _, _ = client.call("POST", "/api/v1/leads", key, {"email": email})
        if status == 201:
            acked.append(email)
        elif status == 0:
            time.sleep(0.05)


def all_emails(port, ctx, key):
    client = Client(port, ctx, timeout=30)
    found, page = set(), 1
    while True:
        status, body, _ = client.call("GET", f"/api/v1/leads?limit=100&page={page}", key)
        if status != 200:
            raise RuntimeError(f"listing leads answered {status}")
        found.update(lead["email"] for lead in body["data"])
        if len(body["data"]) < 100:
            return found
        page += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("--postgres", action="store_true")
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--seconds", type=float, default=2)
    p.add_argument("--writers", type=int, default=4)
    a = p.parse_args()
    cluster = None
    if a.postgres:
        cluster = PrivateCluster.create()
        if cluster is None:
            return skipped("KILL9 postgres", "no initdb/runuser here, or not root")
    try:
        return run(a, cluster)
    finally:
        if cluster:
            cluster.destroy()


def run(a, cluster):
    server = Server(a.bin, a.data_dir, a.port, ["--rate-policy", a.policy],
                    cluster.url() if cluster else None).start()
    key, ctx = server.key, server.context()
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=writer, args=(a.port, ctx, key, n, acked, stop))
               for n in range(a.writers)]
    for t in threads:
        t.start()
    restarts = []
    for _ in range(a.cycles):
        time.sleep(a.seconds)
        server.kill(signal.SIGKILL)
        t0 = time.monotonic()
        server.start()
        restarts.append(time.monotonic() - t0)
    time.sleep(a.seconds)
    stop.set()
    for t in threads:
        t.join()
    found = all_emails(a.port, ctx, key)
    server.kill()
    lost = [e for e in acked if e not in found]
    restarts.sort()
    backend = "postgres" if cluster else "sqlite"
    print(f"KILL9 backend={backend} cycles={a.cycles} acknowledged={len(acked)} "
          f"stored={len(found)} lost={len(lost)} "
          f"restart_p50_ms={restarts[len(restarts) // 2] * 1000:.0f} "
          f"restart_max_ms={restarts[-1] * 1000:.0f}")
    return 1 if lost or not acked else 0


if __name__ == "__main__":
    sys.exit(main())
