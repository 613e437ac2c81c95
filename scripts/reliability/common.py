"""What the reliability scenarios share: a server process, an HTTPS client, a private
PostgreSQL cluster and a private Redis. Standard library only; loopback only."""
import asyncio
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time


async def legit_me(port, ctx, key, n, pause=0.0):
    """N legitimate `GET /api/v1/me`, one HTTP/1.1 connection each from 127.0.0.1, PAUSE seconds
    apart; returns (successes, p50 seconds, p99 seconds)."""
    ok, lat = 0, []
    for _ in range(n):
        t = time.monotonic()
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=ctx, local_addr=("127.0.0.1", 0),
                                        server_hostname="127.0.0.1"),
                timeout=5)
            w.write(f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}"
                    "\r\nConnection: close\r\n\r\n".encode())
            await w.drain()
            if (await asyncio.wait_for(r.readline(), timeout=5)).startswith(b"HTTP/1.1 200"):
                ok += 1
            w.close()
        except Exception:
            pass
        lat.append(time.monotonic() - t)
        if pause:
            await asyncio.sleep(pause)
    return ok, pct(lat, 0.5), pct(lat, 0.99)


def skipped(scenario, why):
    """Reports a scenario this machine cannot run: a pass, unless RELIABILITY_STRICT=1 (CI,
    which installs what every scenario needs, so a skip there is a failure)."""
    strict = os.environ.get("RELIABILITY_STRICT") == "1"
    print(f"{scenario} skipped: {why}" + (" (RELIABILITY_STRICT=1: a failure)" if strict else ""))
    return 1 if strict else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`synaptiq serve` on 127.0.0.1:PORT with DATA_DIR (and DATABASE_URL when given). The
    environment's SYNAPTIQ_* variables are dropped so a run is what its flags say."""

    def __init__(self, bin, data_dir, port, flags=(), database_url=None):
        self.bin, self.data_dir, self.port = bin, data_dir, port
        self.flags, self.database_url = list(flags), database_url
        self.key = None
        self.proc = None

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        err = open(os.path.join(os.path.dirname(os.path.abspath(self.data_dir)),
                                f"serve-{self.port}.err"), "ab")
        args = [self.bin, "--data-dir", self.data_dir]
        if self.database_url:
            args += ["--database-url", self.database_url]
        args += ["serve", "--listen", f"127.0.0.1:{self.port}"] + self.flags
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPTIQ_")}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env)
        for line in self.proc.stdout:
            text = line.decode(errors="replace")
            if "sk_test_" in text and self.key is None:
                self.key = "sk_test_" + text.split("sk_test_")[1].split()[0].strip('"')
            if "Synaptiq listening on" in text:
                break
        else:
            raise RuntimeError(f"server on {self.port} exited before listening")
        out = self.proc.stdout
        threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
        return self

    def kill(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            self.proc.wait()

    def context(self):
        return ssl.create_default_context(cafile=os.path.join(self.data_dir, "tls", "cert.pem"))


class Client:
    """One keep-alive HTTPS connection, reopened after an error. `call` never raises: a
    transport failure is status 0."""

    def __init__(self, port, ctx, timeout=10):
        self.port, self.ctx, self.timeout = port, ctx, timeout
        self.conn = None

    def call(self, method, path, key, body=None):
        headers = {"Authorization": f"Bearer {key}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                        timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return r.status, parsed, r.getheader("Retry-After")
        except Exception:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0, None, None


def pct(values, q):
    """The q-quantile (0..1) of `values` by rank; None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))]


class PrivateCluster:
    """A PostgreSQL cluster of our own (initdb + pg_ctl as the `postgres` user), so a scenario
    can stop, start or kill it without touching the machine's server. `None` from `create`
    when this machine cannot make one (no initdb, not root)."""

    @staticmethod
    def create():
        root = "/usr/lib/postgresql"
        bins = sorted(os.path.join(root, v, "bin") for v in os.listdir(root)) \
            if os.path.isdir(root) else []
        bins = [b for b in bins if os.path.exists(os.path.join(b, "initdb"))]
        if not bins or os.geteuid() != 0 or not shutil.which("runuser"):
            return None
        c = PrivateCluster()
        c.bin = bins[-1]
        c.port = free_port()
        c.dir = tempfile.mkdtemp(prefix="synaptiq-pg-")
        subprocess.run(["chown", "postgres:postgres", c.dir], check=True)
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(c.bin, "initdb"),
                        "-A", "trust", "-U", "postgres", "-D", os.path.join(c.dir, "data")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c.ctl("start")
        return c

    def ctl(self, action):
        args = ["runuser", "-u", "postgres", "--", os.path.join(self.bin, "pg_ctl"), "-D",
                os.path.join(self.dir, "data"), "-w", "-m", "fast"]
        if action == "start":
            args += ["-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                     "-l", os.path.join(self.dir, "log")]
        subprocess.run(args + [action], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self):
        try:
            self.ctl("stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A `redis-server` of our own on a free port, keeping nothing on disk (as the machine's
    Redis); `None` from `create` without redis-server."""

    @staticmethod
    def create():
        exe = shutil.which("redis-server")
        if not exe:
            return None
        r = PrivateRedis()
        r.exe, r.port, r.proc = exe, free_port(), None
        r.start()
        return r

    def start(self):
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def url(self):
        return f"redis://127.0.0.1:{self.port}/"
