#!/usr/bin/env python3
"""Webhook fan-out benchmark (see bench/webhooks.sh): one server on SQLite, ENDPOINTS receivers
on loopback each subscribed to lead.created, LEADS creations paced at RATE per second; then
deliveries per second, latency from each lead's 201 (client clock) to its arrival at each
receiver (receiver clock, the same machine), and the server's CPU per lead creation with the
endpoints and in the same run without any.

    webhooks.py --bin BIN --policy FILE [--leads 10000] [--rate 1000] [--endpoints 10]
                [--clients 2] [--receiver-procs 2]

Receivers: RECEIVER_PROCS processes, each an asyncio loop serving its share of the ENDPOINTS
ports (HTTP/1.1 keep-alive, answer 204). They record arrival time, webhook-id and the lead's
id; they do not verify signatures (the reliability suite does, with `standardwebhooks`). Their
CPU use over the run is printed, so one can see they are not saturated.
"""
import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                                "reliability"))
from common import Client, Server, free_port, pct  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def machine_busy():
    """(busy, total) jiffies of all CPUs from /proc/stat; niced time (another job's
    background build) counts as idle: it yields to this run."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[1] + v[3] + v[4]
    return sum(v) - idle, sum(v)


def cpu_seconds(pid):
    """utime + stime of PID (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


# --- receivers --------------------------------------------------------------------------------

class Hook(asyncio.Protocol):
    def __init__(self, index, log):
        self.index, self.log, self.buf = index, log, b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            now = time.time()
            try:
                event = json.loads(body)
                lead = event["data"]["id"]
                created = event.get("createdAt")
            except (ValueError, KeyError, TypeError):
                lead, created = None, None
            self.log.append((self.index, now, headers.get("webhook-id"), lead, created))
            self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")


def receivers_main(ports, first_index, conn):
    """A receiver process: serves PORTS; answers `count` and `dump` on CONN."""
    log = []

    async def run():
        loop = asyncio.get_running_loop()
        for i, port in enumerate(ports):
            await loop.create_server(lambda i=i: Hook(first_index + i, log), "127.0.0.1", port,
                                     backlog=1024)
        conn.send("ready")
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd == "count":
                conn.send(len(log))
            elif cmd == "dump":
                conn.send((log, cpu_seconds(os.getpid())))
                return

    asyncio.run(run())


class Receivers:
    def __init__(self, endpoints, procs):
        self.ports = [free_port() for _ in range(endpoints)]
        self.procs, self.conns = [], []
        share = [self.ports[i::procs] for i in range(procs)]
        index = 0
        for ports in share:
            if not ports:
                continue
            parent, child = mp.Pipe()
            p = mp.Process(target=receivers_main, args=(ports, index, child), daemon=True)
            p.start()
            assert parent.recv() == "ready"
            self.procs.append(p)
            self.conns.append(parent)
            index += len(ports)
        # The index each receiver records is its position in the order of the shares.
        self.urls = [f"http://127.0.0.1:{p}/hook" for ports in share for p in ports]

    def count(self):
        n = 0
        for c in self.conns:
            c.send("count")
            n += c.recv()
        return n

    def cpu(self):
        return [cpu_seconds(p.pid) for p in self.procs]

    def dump(self):
        logs, cpus = [], []
        for c, p in zip(self.conns, self.procs):
            c.send("dump")
            log, cpu = c.recv()
            logs += log
            cpus.append(cpu)
            p.join()
        return logs, cpus


# --- clients ----------------------------------------------------------------------------------

def client_main(port, cafile, key, slots, t0, rate, tag, conn):
    """Creates the leads of SLOTS (indexes), each due at T0 + index / RATE."""
    import ssl
    ctx = ssl.create_default_context(cafile=cafile)
    client = Client(port, ctx, timeout=30)
    acked, failed, lat = [], 0, []
    for i in slots:
        wait = t0 + i / rate - time.time()
        if wait > 0:
            time.sleep(wait)
        sent = time.time()
        status, body, _ = client.call("POST", "/api/v1/leads", key,
                                      {"email": f"b{tag}-{i}@fanout.bench"})
        if status == 201:
            acked.append((body["id"], time.time()))
            lat.append(acked[-1][1] - sent)
        else:
            failed += 1
    conn.send((acked, failed, lat, cpu_seconds(os.getpid())))


def create_leads(server, a, tag):
    t0 = time.time() + 0.5
    procs, conns = [], []
    cafile = os.path.join(server.data_dir, "tls", "cert.pem")
    for c in range(a.clients):
        parent, child = mp.Pipe()
        p = mp.Process(target=client_main,
                       args=(server.port, cafile, server.key, range(c, a.leads, a.clients), t0,
                             a.rate, tag, child))
        p.start()
        procs.append(p)
        conns.append(parent)
    acked, failed, lat, cpu = [], 0, [], 0.0
    for c, p in zip(conns, procs):
        got, f, l, u = c.recv()
        acked += got
        failed += f
        lat += l
        cpu += u
        p.join()
    return t0, acked, failed, lat, cpu


# --- one run ----------------------------------------------------------------------------------

def run(a, endpoints, backlog=False):
    """BACKLOG: the leads are created with the worker off (--no-webhook-worker), then the
    server is restarted with it: the drain rate of a full queue."""
    work = os.path.join(a.work, f"run-{endpoints}-{backlog}")
    flags = ["--rate-policy", a.policy, "--webhook-allow-http", "--webhook-allow-private"]
    server = Server(a.bin, os.path.join(work, "data"), free_port(),
                    flags + (["--no-webhook-worker"] if backlog else [])).start()
    pid = server.proc.pid
    receivers = Receivers(endpoints, a.receiver_procs) if endpoints else None
    if receivers:
        admin = Client(server.port, server.context(), timeout=30)
        for url in receivers.urls:
            status, body, _ = admin.call("POST", "/api/v1/webhooks", server.key,
                                         {"url": url, "events": ["lead.created"]})
            assert status == 201, (status, body)
    time.sleep(0.5)
    cpu0 = cpu_seconds(pid)
    rcpu0 = receivers.cpu() if receivers else []
    busy0 = machine_busy()
    t0, acked, failed, create_lat, client_cpu = create_leads(server, a, f"{endpoints}{backlog}")
    t_created = time.time()
    cpu_created = cpu_seconds(pid)
    busy1 = machine_busy()
    if backlog:
        server.kill()
        server.flags = flags
        server.start()
        pid = server.proc.pid
        t0 = time.time()  # latencies and rates from the restart
        cpu0 = cpu_created = cpu_seconds(pid)
        acked = [(lead, t0) for lead, _ in acked]
    wanted = len(acked) * endpoints
    drained, got = None, 0
    if receivers:
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            got = receivers.count()
            if got >= wanted:
                drained = time.time()
                break
            time.sleep(0.2)
    cpu_drained = cpu_seconds(pid)
    logs, rcpu1 = receivers.dump() if receivers else ([], [])
    server.kill()
    created = len(acked)
    span = max(t for _, t in acked) - t0 if acked else 0
    out = {
        "endpoints": endpoints, "created": created, "refused": failed,
        "create_rate": created / span if span else 0,
        "cpu_create_s": cpu_created - cpu0,
        "cpu_per_lead_ms": (cpu_created - cpu0) / created * 1000 if created else 0,
        "cpu_total_s": cpu_drained - cpu0,
        "create_window_s": t_created - t0,
        "create_lat_p50_ms": pct(create_lat, 0.5) * 1000 if create_lat else None,
        "create_lat_p99_ms": pct(create_lat, 0.99) * 1000 if create_lat else None,
        "client_cpu_s": client_cpu,
        "machine_busy_pct_during_creation": round(
            (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) * 100, 1),
    }
    if receivers:
        ack = dict(acked)
        first = {}
        for idx, at, wid, lead, _ in logs:
            k = (idx, lead)
            if k not in first or at < first[k]:
                first[k] = at
        lat = [at - ack[lead] for (idx, lead), at in first.items() if lead in ack]
        lat_body = []
        from datetime import datetime, timezone
        for _, at, _, _, created_at in logs:
            if created_at:
                ts = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=timezone.utc).timestamp()
                lat_body.append(at - ts)
        arrivals = sorted(at for _, at, _, _, _ in logs)
        end = drained or time.time()
        out.update({
            "expected_deliveries": wanted, "received": len(logs),
            "distinct": len(first),
            "duplicates": len(logs) - len({(i, w) for i, _, w, _, _ in logs}),
            "drained": drained is not None,
            "deliveries_per_s_from_start": len(logs) / (end - t0),
            "deliveries_per_s_first_to_last_arrival":
                len(logs) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0,
            "drain_after_last_201_s": (end - (t0 + span)),
            "lat_p50_ms": pct(lat, 0.5) * 1000 if lat else None,
            "lat_p99_ms": pct(lat, 0.99) * 1000 if lat else None,
            "lat_max_ms": max(lat) * 1000 if lat else None,
            "lat_createdAt_p50_ms": pct(lat_body, 0.5) * 1000 if lat_body else None,
            "lat_createdAt_p99_ms": pct(lat_body, 0.99) * 1000 if lat_body else None,
            "receiver_cpu_pct_of_one_core": [
                round((c1 - c0) / (end - t0) * 100, 1) for c0, c1 in zip(rcpu0, rcpu1)],
        })
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--policy", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--leads", type=int, default=10000)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--endpoints", type=int, default=10)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--receiver-procs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--backlog", action="store_true",
                   help="also measure the drain of a queue filled with the worker off")
    a = p.parse_args()
    with_endpoints = run(a, a.endpoints)
    print("WITH", json.dumps(with_endpoints), flush=True)
    without = run(a, 0)
    print("WITHOUT", json.dumps(without), flush=True)
    w, n = with_endpoints, without
    print(f"WEBHOOKS-FANOUT leads={w['created']} (asked {a.leads} at {a.rate:.0f}/s; achieved "
          f"{w['create_rate']:.0f}/s with endpoints, {n['create_rate']:.0f}/s without) "
          f"endpoints={a.endpoints} deliveries={w.get('received')}/{w.get('expected_deliveries')} "
          f"duplicates={w.get('duplicates')} drained={w.get('drained')}")
    print(f"WEBHOOKS-FANOUT deliveries_per_s={w.get('deliveries_per_s_from_start', 0):.0f} "
          f"(creation start to last arrival; "
          f"{w.get('deliveries_per_s_first_to_last_arrival', 0):.0f}/s first to last arrival) "
          f"drain_after_last_201_s={w.get('drain_after_last_201_s', 0):.1f}")
    print(f"WEBHOOKS-FANOUT latency 201->arrival (client clock vs receiver clock): "
          f"p50_ms={w.get('lat_p50_ms') or 0:.0f} p99_ms={w.get('lat_p99_ms') or 0:.0f} "
          f"max_ms={w.get('lat_max_ms') or 0:.0f}; createdAt->arrival p50_ms="
          f"{w.get('lat_createdAt_p50_ms') or 0:.0f} p99_ms={w.get('lat_createdAt_p99_ms') or 0:.0f}")
    print(f"WEBHOOKS-FANOUT creation latency (client): with endpoints p50_ms="
          f"{w['create_lat_p50_ms']:.1f} p99_ms={w['create_lat_p99_ms']:.1f}; without p50_ms="
          f"{n['create_lat_p50_ms']:.1f} p99_ms={n['create_lat_p99_ms']:.1f}; machine busy during "
          f"creation {w['machine_busy_pct_during_creation']}% with, "
          f"{n['machine_busy_pct_during_creation']}% without (all CPUs = 100%, niced time counted idle); client processes "
          f"cpu {w['client_cpu_s']:.1f}s with, {n['client_cpu_s']:.1f}s without")
    if a.backlog:
        b = run(a, a.endpoints, backlog=True)
        print("BACKLOG", json.dumps(b), flush=True)
        print(f"WEBHOOKS-FANOUT backlog drain (worker off while creating, then restarted): "
              f"{b.get('received')}/{b.get('expected_deliveries')} in "
              f"{b.get('received', 0) / max(1e-9, b.get('deliveries_per_s_from_start', 1)):.1f}s = "
              f"{b.get('deliveries_per_s_from_start', 0):.0f} deliveries/s from the restart; "
              f"server cpu {b['cpu_total_s']:.1f}s "
              f"({b['cpu_total_s'] / max(1, b.get('received', 1)) * 1e6:.0f} us per delivery); "
              f"receiver cpu % {b.get('receiver_cpu_pct_of_one_core')}")
    ratio = w["cpu_per_lead_ms"] / n["cpu_per_lead_ms"] if n["cpu_per_lead_ms"] else 0
    print(f"WEBHOOKS-FANOUT server_cpu_per_lead_ms during creation: with={w['cpu_per_lead_ms']:.3f} "
          f"without={n['cpu_per_lead_ms']:.3f} ratio={ratio:.2f}; server cpu until drained: "
          f"with={w['cpu_total_s']:.1f}s without={n['cpu_total_s']:.1f}s; receiver processes "
          f"cpu % of one core: {w.get('receiver_cpu_pct_of_one_core')}")
    return 0 if w.get("drained") else 1


if __name__ == "__main__":
    sys.exit(main())
