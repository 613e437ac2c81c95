"""Schemathesis hooks for scripts/schemathesis.sh.

Two rules of the Synaptiq API are stated in the OpenAPI document in words, because JSON Schema
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


@schemathesis.hook
def map_case(context, case):
    """Generated cases (coverage, fuzzing and stateful phases)."""
    return _future_expiry(case)


@schemathesis.hook
def before_add_examples(context, examples):
    """Cases of the examples phase, which does not pass through `map_case`."""
    for case in examples:
        _future_expiry(case)
