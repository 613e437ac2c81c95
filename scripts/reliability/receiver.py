"""A webhook receiver for the reliability scenarios: a threaded HTTP server on 127.0.0.1 that
verifies every delivery with the PyPI `standardwebhooks` package (the reference
implementation, not ours), records it by `webhook-id`, and answers 204. A delivery that does
not verify is counted and answered 401.

Needs `standardwebhooks` (run.sh installs it, pinned, into the git-ignored .venv)."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """`start()` binds a free port; `url` is what to register. Thread-safe records:

    - `events`: webhook-id -> dict(type, lead, score, created_at, first, count)
    - `failures`: deliveries that did not verify (or had no webhook-id)
    - `by_change`: (type, data.id, data.score for lead.updated) -> set of webhook-ids
    """

    def __init__(self, secret, delay=0.0):
        self.webhook = Webhook(secret)
        self.delay = delay  # seconds before answering: keeps attempts in flight for a kill
        self.lock = threading.Lock()
        self.events, self.by_change = {}, {}
        self.failures = 0
        self.deliveries = 0
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                try:
                    event = receiver.webhook.verify(body, dict(self.headers.items()))
                    ok = event["id"] == self.headers.get("webhook-id")
                except (WebhookVerificationError, ValueError, KeyError, TypeError):
                    ok = False
                if receiver.delay:
                    time.sleep(receiver.delay)
                if ok:
                    receiver.record(self.headers["webhook-id"], event, now)
                    self.send_response(204)
                else:
                    with receiver.lock:
                        receiver.failures += 1
                    self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.request_queue_size = 1024
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def record(self, wid, event, now):
        data = event.get("data") or {}
        change = change_key(event["type"], data)
        with self.lock:
            self.deliveries += 1
            seen = self.events.get(wid)
            if seen is None:
                self.events[wid] = {"type": event["type"], "change": change, "first": now,
                                    "count": 1, "created_at": event.get("createdAt")}
                self.by_change.setdefault(change, set()).add(wid)
            else:
                seen["count"] += 1
                if seen["change"] != change:
                    # The same webhook-id with another payload: never expected.
                    self.failures += 1

    def snapshot(self):
        with self.lock:
            return dict(self.by_change), {k: dict(v) for k, v in self.events.items()}, \
                self.failures, self.deliveries

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def change_key(kind, data):
    """What identifies a change in the scenarios: a creation by its lead; an update by its lead
    and the score it set (each update sets a new score)."""
    if kind == "lead.updated":
        return (kind, data.get("id"), data.get("score"))
    return (kind, data.get("id"))


def new_secret():
    import base64
    import os
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def parse_created_at(text):
    """`2026-12-04T19:10:39.410Z` -> Unix seconds."""
    from datetime import datetime, timezone
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


if __name__ == "__main__":  # a quick manual check
    r = Receiver(new_secret()).start()
    print(json.dumps({"url": r.url}))
    time.sleep(3600)
