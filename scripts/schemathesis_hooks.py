"""Schemathesis hooks for scripts/schemathesis.sh.

Four rules of the Synaptiq API are stated in the OpenAPI document in words, because JSON Schema
cannot express them. These hooks teach the generator those rules, and nothing else:

- `allowedIps` entries have `format: cidr` (an IPv4 or IPv6 address, or a CIDR block). JSON
  Schema has no such format, so schemathesis is given a strategy that draws valid ones.
- `expiresAt` of `POST /api/v1/keys` must lie in the future. A well-formed date-time that lies
  in the past is moved into the future; anything else (including malformed date-times, which
  negative tests send on purpose) is left alone, so a case stays valid or invalid as it was.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st


def _network(version: int, bits: int):
    return st.tuples(st.ip_addresses(v=version), st.integers(0, bits)).map(
        lambda pair: f"{pair[0]}/{pair[1]}"
    )


schemathesis.openapi.format(
    "cidr",
    st.one_of(st.ip_addresses().map(str), _network(4, 32), _network(6, 128)),
)

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _instant(value: str) -> datetime | None:
    if not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def _future_expiry(case):
    operation = case.operation
    if operation.method.upper() != "POST" or operation.path != "/api/v1/keys":
        return case
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("expiresAt"), str):
        return case
    instant = _instant(body["expiresAt"])
    now = datetime.now(timezone.utc)
    if instant is not None and instant <= now + timedelta(minutes=1):
        later = now + timedelta(days=1 + instant.toordinal() % 3650)
        body["expiresAt"] = later.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return case


_USABLE_URL = re.compile(r"https://(?:[1-9]|[1-9][0-9])(?:\.[0-9]{1,3}){3}(?:/[!-~]*)?", re.ASCII)


def _usable_webhook(case):
    operation = case.operation
    if not operation.path.startswith("/api/v1/webhooks"):
        return case
    if (operation.method.upper(), operation.path) not in (
        ("POST", "/api/v1/webhooks"),
        ("PATCH", "/api/v1/webhooks/{id}"),
    ):
        return case
    body = case.body
    if not isinstance(body, dict):
        return case
    url = body.get("url")
    if isinstance(url, str) and 1 <= len(url) <= 2048 and not _USABLE_URL.fullmatch(url):
        body["url"] = "https://93.184.216.34/hooks/" + str(len(url))
    events = body.get("events")
    if isinstance(events, list) and "*" in events and len(events) > 1:
        rest = [e for e in events if e != "*"]
        body["events"] = rest or ["*"]
    return case


def _recent_since(case):
    operation = case.operation
    if operation.method.upper() != "POST" or not operation.path.endswith("/recover"):
        return case
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("since"), str):
        return case
    instant = _instant(body["since"])
    now = datetime.now(timezone.utc)
    if instant is not None and not (now - timedelta(days=13) <= instant <= now):
        earlier = now - timedelta(seconds=60 + instant.toordinal() % (12 * 86400))
        body["since"] = earlier.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return case


@schemathesis.hook
def map_case(context, case):
    """Generated cases (coverage, fuzzing and stateful phases)."""
    return _usable_webhook(_recent_since(_future_expiry(case)))


@schemathesis.hook
def before_add_examples(context, examples):
    """Cases of the examples phase, which does not pass through `map_case`."""
    for case in examples:
        _usable_webhook(_recent_since(_future_expiry(case)))
