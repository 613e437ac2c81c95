#!/usr/bin/env python3
"""Webhook delivery under failure (at least once) and across nodes (exactly once without
failures). The receiver verifies each delivery with the PyPI `standardwebhooks` package.

    webhooks.py --bin BIN --work DIR --policy FILE kill9 [--changes 1000] [--kills 3]
    webhooks.py --bin BIN --work DIR --policy FILE two-nodes [--leads 10000]

kill9 (SQLite): writers create and update leads while the server is killed with SIGKILL and
restarted KILLS times; afterwards every acknowledged change must have reached the receiver
(a verified delivery of the right type for the right lead), a change delivered twice only
under one webhook-id, no delivery failing verification, none `failed` in the server's log.
The changes are paced over the kills, and the receiver answers after 50 ms (--receiver-delay) so
a kill finds attempts in flight; the run then waits until the server lists no delivery
`pending` (an attempt cut by a kill is retried once its 60-s lease lapses).

two-nodes (PostgreSQL, a private cluster): two `serve` processes on one database, both
running the worker; LEADS creations spread over both; every event must arrive exactly once.
"""
import argparse
import os
import signal
import sys
import threading
import time

from common import Client, PrivateCluster, Server, free_port, pct, skipped
from receiver import Receiver, change_key, new_secret

WEBHOOK_FLAGS = ["--webhook-allow-http", "--webhook-allow-private"]


def add_endpoint(client, key, url, events, secret):
    status, body, _ = client.call("POST", "/api/v1/webhooks", key,
                                  {"url": url, "events": events, "secret": secret})
    if status != 201:
        raise RuntimeError(f"adding the endpoint answered {status}: {body}")
    return body["id"]


def deliveries(client, key, endpoint, status):
    """The deliveries of ENDPOINT with STATUS (first page of 100: enough to say none/some)."""
    for _ in range(3):  # status 0: an idle keep-alive connection closed; once more
        code, body, _ = client.call(
            "GET", f"/api/v1/webhooks/{endpoint}/deliveries?status={status}&limit=100", key)
        if code == 200:
            return body["data"]
        time.sleep(0.2)
    print(f"deliveries?status={status} answered {code}: {body}")
    return None


def wait_for(receiver, expected, timeout, settle=None):
    """Waits until every change in EXPECTED (change key -> ack time) has a verified delivery,
    then until SETTLE() is true (both within TIMEOUT); returns seconds waited, or None."""
    t0 = time.monotonic()
    arrived = False
    while time.monotonic() - t0 < timeout:
        by_change, _, _, _ = receiver.snapshot()
        if not arrived and all(c in by_change for c in expected):
            arrived = True
            arrived_after = time.monotonic() - t0
        if arrived and (settle is None or settle()):
            return arrived_after, time.monotonic() - t0
        time.sleep(0.5)
    return (arrived_after if arrived else None), None


def judge(name, receiver, expected, failed_log):
    """Prints the figures; returns (rc, missing, figures)."""
    by_change, events, failures, total = receiver.snapshot()
    missing = [c for c in expected if c not in by_change]
    split = [c for c, ids in by_change.items() if len(ids) > 1]  # one change, several ids
    dups = sum(e["count"] - 1 for e in events.values())
    dup_events = sum(1 for e in events.values() if e["count"] > 1)
    delays = [min(events[w]["first"] for w in by_change[c]) - t
              for c, t in expected.items() if c in by_change]
    extra = sum(1 for c in by_change if c not in expected)  # committed, never acknowledged
    figures = (f"acknowledged={len(expected)} distinct_events={len(events)} "
               f"events_of_unacknowledged_changes={extra} "
               f"deliveries={total} duplicate_deliveries={dups} events_duplicated={dup_events} "
               f"changes_with_several_ids={len(split)} missing={len(missing)} "
               f"verification_failures={failures} failed_in_log={failed_log} "
               f"delay_p50_ms={pct(delays, 0.5) * 1000 if delays else 0:.0f} "
               f"delay_p99_ms={pct(delays, 0.99) * 1000 if delays else 0:.0f} "
               f"delay_max_ms={max(delays) * 1000 if delays else 0:.0f}")
    rc = 1 if (missing or split or failures or failed_log or not expected) else 0
    for c in missing[:5]:
        print(f"{name} missing: {c}")
    return rc, dups, figures


def kill9(a):
    work = os.path.join(a.work, "webhooks-kill9")
    os.makedirs(work, exist_ok=True)
    port = free_port()
    server = Server(a.bin, os.path.join(work, "data"), port,
                    ["--rate-policy", a.policy] + WEBHOOK_FLAGS).start()
    key, ctx = server.key, server.context()
    secret = new_secret()
    # The receiver takes DELAY to answer, so a kill finds attempts in flight (their outcome is
    # lost: redelivered once the 60-s lease lapses).
    receiver = Receiver(secret, a.receiver_delay).start()
    admin = Client(port, ctx, timeout=30)
    endpoint = add_endpoint(admin, key, receiver.url, ["lead.created", "lead.updated"], secret)

    expected, lock = {}, threading.Lock()  # change key -> ack time (Unix seconds)
    t_start = time.monotonic()
    budget = [a.changes]
    stop = threading.Event()

    # Paced so the changes span the kills: CHANGES over (KILLS + 1) * SECONDS.
    rate = a.changes / ((a.kills + 1) * a.seconds)
    issued = [0]

    def take():
        with lock:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            issued[0] += 1
            due = t_start + issued[0] / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        return True

    def writer(n):
        client = Client(port, ctx, timeout=5)
        mine, i = [], 0  # [lead id, last score]
        while not stop.is_set() and take():
            i += 1
            # Every third change a creation, the others updates of this writer's leads.
            lead = mine[i % len(mine)] if mine else None
            if lead is None or i % 3 == 0 or lead[1] >= 100:
                status, body, _ = client.call("POST", "/api/v1/leads", key,
                                              {"email": f"w{n}-{i}@webhooks.test"})
                if status == 201:
                    with lock:
                        expected[change_key("lead.created", body)] = time.time()
                    mine.append([body["id"], 0])
            else:
                lead[1] += 1
                status, body, _ = client.call("PATCH", f"/api/v1/leads/{lead[0]}", key,
                                              {"score": lead[1]})
                if status == 200:
                    with lock:
                        expected[change_key("lead.updated", body)] = time.time()
            if status == 0:
                with lock:
                    budget[0] += 1  # not acknowledged: try another change
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(a.writers)]
    for t in threads:
        t.start()
    # Kill while the writers are running: spread the kills over the expected writing time.
    restarts = []
    for _ in range(a.kills):
        time.sleep(a.seconds)
        if all(not t.is_alive() for t in threads):
            break
        server.kill(signal.SIGKILL)
        t0 = time.monotonic()
        server.start()
        restarts.append(time.monotonic() - t0)
    for t in threads:
        t.join()
    writing = time.monotonic() - t_start
    admin = Client(port, ctx, timeout=30)

    def settled():
        pending = deliveries(admin, key, endpoint, "pending")
        return pending is not None and not pending

    arrived, total = wait_for(receiver, dict(expected), a.timeout, settled)
    failed = deliveries(admin, key, endpoint, "failed")
    failed_log = len(failed) if failed is not None else "unknown"
    rc, _, figures = judge("WEBHOOKS-KILL9", receiver, expected,
                           failed_log if failed is not None else 1)
    server.kill()
    receiver.stop()
    print(f"WEBHOOKS-KILL9 kills={len(restarts)} writers={a.writers} writing_s={writing:.1f} "
          f"receiver_delay_ms={a.receiver_delay * 1000:.0f} "
          f"{figures} all_arrived_after_s={arrived if arrived is None else round(arrived, 1)} "
          f"settled_after_s={total if total is None else round(total, 1)} "
          f"(pending empty; lease 60 s)")
    if arrived is None:
        rc = 1
    return rc


def two_nodes(a):
    cluster = PrivateCluster.create()
    if cluster is None:
        return skipped("WEBHOOKS-TWO-NODES", "no initdb/runuser here, or not root")
    receiver = None
    nodes = []
    try:
        work = os.path.join(a.work, "webhooks-two-nodes")
        flags = ["--rate-policy", a.policy] + WEBHOOK_FLAGS
        node_a = Server(a.bin, os.path.join(work, "node-a"), free_port(), flags,
                        cluster.url()).start()
        nodes.append(node_a)
        node_b = Server(a.bin, os.path.join(work, "node-b"), free_port(), flags, cluster.url())
        os.makedirs(node_b.data_dir, exist_ok=True)
        with open(os.path.join(node_a.data_dir, "pepper")) as src, \
                open(os.path.join(node_b.data_dir, "pepper"), "w") as dst:
            dst.write(src.read())
        os.chmod(os.path.join(node_b.data_dir, "pepper"), 0o600)
        node_b.start()
        nodes.append(node_b)
        key = node_a.key
        secret = new_secret()
        receiver = Receiver(secret).start()
        admin = Client(node_a.port, node_a.context(), timeout=30)
        endpoint = add_endpoint(admin, key, receiver.url, ["lead.created"], secret)

        expected, lock = {}, threading.Lock()
        counter = [0]
        errors = [0]

        def writer(n):
            node = nodes[n % 2]
            client = Client(node.port, node.context(), timeout=10)
            while True:
                with lock:
                    if counter[0] >= a.leads:
                        return
                    counter[0] += 1
                    i = counter[0]
                status, body, _ = client.call("POST", "/api/v1/leads", key,
                                              {"email": f"n{n}-{i}@two-nodes.test"})
                if status == 201:
                    with lock:
                        expected[change_key("lead.created", body)] = time.time()
                else:
                    with lock:
                        errors[0] += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(a.writers)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writing = time.monotonic() - t0
        arrived, _ = wait_for(receiver, dict(expected), a.timeout)
        # Let a duplicate, if any were coming from a second claim, show itself.
        time.sleep(a.linger)
        failed = deliveries(admin, key, endpoint, "failed")
        rc, dups, figures = judge("WEBHOOKS-TWO-NODES", receiver, expected,
                                  len(failed) if failed is not None else 1)
        if dups or errors[0]:
            rc = 1
        print(f"WEBHOOKS-TWO-NODES nodes=2 writers={a.writers} requested={a.leads} "
              f"refused={errors[0]} writing_s={writing:.1f} "
              f"create_rate={len(expected) / writing:.0f}/s {figures} "
              f"all_arrived_after_writes_s={arrived if arrived is None else round(arrived, 1)} "
              f"linger_s={a.linger}")
        if arrived is None:
            rc = 1
        return rc
    finally:
        for n in nodes:
            n.kill()
        if receiver:
            receiver.stop()
        cluster.destroy()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("scenario", choices=["kill9", "two-nodes"])
    p.add_argument("--changes", type=int, default=1000)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2)
    p.add_argument("--leads", type=int, default=10000)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--linger", type=float, default=5)
    p.add_argument("--receiver-delay", type=float, default=0.05)
    a = p.parse_args()
    return {"kill9": kill9, "two-nodes": two_nodes}[a.scenario](a)


if __name__ == "__main__":
    sys.exit(main())
