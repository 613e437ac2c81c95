#!/usr/bin/env bash
# Webhook fan-out benchmark: the release binary on SQLite, BENCH_WEBHOOK_ENDPOINTS (10)
# receivers on loopback each subscribed to lead.created, BENCH_WEBHOOK_LEADS (10000) lead
# creations paced at BENCH_WEBHOOK_RATE (1000) per second, so 10,000 events x 10 endpoints.
# Prints deliveries per second, p50/p99 from each lead's 201 to its arrival at a receiver, and
# the server's CPU per lead creation (utime+stime from /proc) with the endpoints and in the same
# run without any, as a ratio. See bench/webhooks.py.
#
# Knobs: BENCH_WEBHOOK_LEADS, BENCH_WEBHOOK_RATE, BENCH_WEBHOOK_ENDPOINTS, BENCH_WEBHOOK_CLIENTS
# (2 client processes), BENCH_WEBHOOK_RECEIVER_PROCS (2 receiver processes), BENCH_SKIP_BUILD=1
# (use target/release/synaptiq as it is), BENCH_BIN (a binary), BENCH_WEBHOOK_BACKLOG=1 (also the
# drain rate of a queue filled with the worker off, then the server restarted with it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/target/release/synaptiq}
if [ -z "${BENCH_BIN:-}" ] && [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --bin synaptiq)
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/synaptiq-bench-webhooks.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/webhooks.py" --bin "$BIN" --policy "$ROOT/bench/unlimited-policy.toml" \
    --work "$WORK" --leads "${BENCH_WEBHOOK_LEADS:-10000}" --rate "${BENCH_WEBHOOK_RATE:-1000}" \
    --endpoints "${BENCH_WEBHOOK_ENDPOINTS:-10}" --clients "${BENCH_WEBHOOK_CLIENTS:-2}" \
    --receiver-procs "${BENCH_WEBHOOK_RECEIVER_PROCS:-2}" ${BENCH_WEBHOOK_BACKLOG:+--backlog}
