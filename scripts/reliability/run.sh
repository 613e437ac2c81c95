#!/usr/bin/env bash
# Reliability scenarios against the release binary, real processes, loopback only; each prints
# its figure (issue 24, docs/RELIABILITY.md).
#
#   scripts/reliability/run.sh [SCENARIO…]   (default: all of them, in this order)
#
#   idle-flood     10,000 idle HTTP/2 connections from one address; legitimate traffic beside
#   slowloris      800 request heads trickled a byte a second; legitimate traffic beside
#   bad-input      the table of oversized, stalled and malformed requests
#   pepper         a node with another pepper, or without its pepper file
#   kill9          kill -9 under writes, SQLite
#   kill9-pg       kill -9 under writes, PostgreSQL (a private cluster)
#   pg-outage      PostgreSQL stopped and started under writes (a private cluster)
#   redis-outage   Redis killed and restarted under one key's load (a private redis-server)
#   revoke-rotate  two nodes on one database: revocation and rotation under load
#   abandon        clients hanging up mid-creation beside steady writes and key changes
#   webhooks-kill9     leads created and updated while the server is killed with SIGKILL; every
#                      acknowledged change's event must reach a receiver that verifies it with
#                      the PyPI `standardwebhooks` package (at least once), SQLite
#   webhooks-two-nodes two nodes on one PostgreSQL (a private cluster), both delivering: every
#                      event exactly once
#
# Knobs: RELIABILITY_FLOOD (10000 idle connections), RELIABILITY_REQUESTS (500 legitimate
# requests), RELIABILITY_KILLS (40 kill -9 cycles, 2 s apart), RELIABILITY_SLOW (800 slow
# heads), RELIABILITY_PHASE (20 s per Redis phase, and the abandon run's length),
# RELIABILITY_WEBHOOK_CHANGES (1000 lead changes under webhooks-kill9), RELIABILITY_WEBHOOK_KILLS
# (5 kill -9 cycles under webhooks-kill9, 2 s apart), RELIABILITY_WEBHOOK_LEADS (10000 leads for
# webhooks-two-nodes), RELIABILITY_SKIP_BUILD=1 (use target/release as it is), RELIABILITY_BIN
# (a binary), RELIABILITY_STRICT=1 (a scenario this machine cannot run fails instead of passing;
# CI sets it).
# The short CI version: RELIABILITY_FLOOD=1000 RELIABILITY_REQUESTS=200 RELIABILITY_KILLS=3
# RELIABILITY_SLOW=100 RELIABILITY_PHASE=5 RELIABILITY_WEBHOOK_CHANGES=200
# RELIABILITY_WEBHOOK_KILLS=2 RELIABILITY_WEBHOOK_LEADS=500.
#
# The webhook scenarios run with the git-ignored $ROOT/.venv (as scripts/schemathesis.sh), where
# this script installs the pinned `standardwebhooks` when it is missing.
#
# PostgreSQL and Redis scenarios run private servers of their own (initdb + pg_ctl as the
# postgres user, redis-server on a free port); without them the scenario says it was skipped.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FLOOD=${RELIABILITY_FLOOD:-10000}
REQUESTS=${RELIABILITY_REQUESTS:-500}
KILLS=${RELIABILITY_KILLS:-40}
SLOW=${RELIABILITY_SLOW:-800}
PHASE=${RELIABILITY_PHASE:-20}
WEBHOOK_CHANGES=${RELIABILITY_WEBHOOK_CHANGES:-1000}
WEBHOOK_KILLS=${RELIABILITY_WEBHOOK_KILLS:-5}
WEBHOOK_LEADS=${RELIABILITY_WEBHOOK_LEADS:-10000}
STANDARDWEBHOOKS=1.0.1
SCENARIOS=${*:-idle-flood slowloris bad-input pepper kill9 kill9-pg pg-outage redis-outage revoke-rotate abandon webhooks-kill9 webhooks-two-nodes}
HERE="$ROOT/scripts/reliability"
POLICY="$ROOT/bench/unlimited-policy.toml"
BIN=${RELIABILITY_BIN:-$ROOT/target/release/synaptiq}
VENV=$ROOT/.venv
# The webhook scenarios' receiver verifies with the reference implementation, pinned, in the venv.
if [[ " $SCENARIOS " == *" webhooks-"* ]] &&
    ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('standardwebhooks') != '$STANDARDWEBHOOKS')" 2>/dev/null; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    fi
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "standardwebhooks==$STANDARDWEBHOOKS"
fi
if [ -z "${RELIABILITY_BIN:-}" ] && [ "${RELIABILITY_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release --bin synaptiq)
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/synaptiq-reliability.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME PORT FLAGS…: a fresh server; sets KEY, CERT and PID.
start() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$WORK/$name"
    # Rate limits out of the way: these scenarios measure availability, not quotas.
    "$BIN" --data-dir "$WORK/$name/data" serve --listen "127.0.0.1:$port" \
        --rate-policy "$POLICY" "$@" \
        >"$WORK/$name/out.log" 2>"$WORK/$name/err.log" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 1 300); do
        grep -q "Synaptiq listening on" "$WORK/$name/out.log" 2>/dev/null && break
        sleep 0.1
    done
    KEY=$(grep -o 'sk_test_[A-Za-z0-9]*' "$WORK/$name/out.log" | head -1)
    CERT="$WORK/$name/data/tls/cert.pem"
    [ -n "$KEY" ] || { cat "$WORK/$name/out.log" "$WORK/$name/err.log" >&2; exit 1; }
}

rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

idle_flood() {
    echo "== idle-flood: $FLOOD idle h2 connections from 127.0.0.2, $REQUESTS requests from 127.0.0.1"
    local rc=0
    for mode in "defaults" "per-address cap off"; do
        local flags=()
        [ "$mode" = "defaults" ] || flags=(--max-connections-per-ip 0)
        start "flood-${mode// /-}" 18600 "${flags[@]}"
        local before
        before=$(rss_mb "$PID")
        local out
        out=$(python3 "$ROOT/scripts/reliability/idle_flood.py" --port 18600 --cacert "$CERT" \
            --key "$KEY" --flood "$FLOOD" --requests "$REQUESTS") || true
        echo "-- $mode (server RSS ${before} MB before, $(rss_mb "$PID") MB during the flood)"
        echo "$out"
        if [ "$mode" = "defaults" ] && ! grep -q 'success=0.99\|success=1.0' <<<"$out"; then
            rc=1
        fi
        kill "$PID"
        wait "$PID" 2>/dev/null || true
    done
    return $rc
}

bad_input() {
    echo "== bad-input: each request, the status it got, how long the answer took (request timeout 5 s)"
    start bad-input 18601 --request-timeout-secs 5
    local rc=0
    python3 "$ROOT/scripts/reliability/bad_input.py" --port 18601 --cacert "$CERT" --key "$KEY" \
        --request-timeout 5 || rc=1
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    return $rc
}

# refuses NAME WANT ENV…: serve must exit non-zero within 30 s saying WANT.
refuses() {
    local name=$1 want=$2 t0 code=0
    shift 2
    t0=$(date +%s%N)
    env "$@" timeout 30 "$BIN" --data-dir "$WORK/pepper/data" serve --listen 127.0.0.1:18603 \
        >/dev/null 2>"$WORK/pepper/$name.err" || code=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$code" != 0 ] && [ "$code" != 124 ] && grep -q "$want" "$WORK/pepper/$name.err"; then
        echo "-- $name: refused to start in $ms ms, exit $code: $(head -c 160 "$WORK/pepper/$name.err")…"
    else
        echo "-- $name: NOT refused (exit $code after $ms ms)"
        return 1
    fi
}

pepper() {
    echo "== pepper: a node with another pepper, or without its pepper file, must refuse to start"
    start pepper 18602
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    local rc=0 other
    other="v1:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    refuses "another pepper" "not this database's" SYNAPTIQ_KEY_PEPPER="$other" || rc=1
    mv "$WORK/pepper/data/pepper" "$WORK/pepper/pepper.saved"
    refuses "pepper file missing" "is missing" PATH="$PATH" || rc=1
    [ -e "$WORK/pepper/data/pepper" ] && { echo "-- a new pepper file was written"; rc=1; }
    return $rc
}

slowloris() {
    echo "== slowloris: $SLOW request heads a byte a second from 127.0.0.2-5, $REQUESTS requests from 127.0.0.1 (header timeout 10 s)"
    start slowloris 18604
    local rc=0
    python3 "$HERE/slowloris.py" --port 18604 --cacert "$CERT" --key "$KEY" --conns "$SLOW" \
        --requests "$REQUESTS" --header-timeout 10 || rc=1
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    return $rc
}

# kill9 BACKEND: writers create leads while the server is killed with SIGKILL $KILLS times.
kill9() {
    echo "== kill9 ($1): writers create leads while the server is killed with SIGKILL $KILLS times"
    mkdir -p "$WORK/kill9-$1"
    local flags=()
    [ "$1" = sqlite ] || flags=(--postgres)
    python3 "$HERE/kill9.py" --bin "$BIN" --data-dir "$WORK/kill9-$1/data" \
        --port 18610 --policy "$POLICY" --cycles "$KILLS" "${flags[@]}"
}

webhooks() {
    "$VENV/bin/python" "$HERE/webhooks.py" --bin "$BIN" --work "$WORK" --policy "$POLICY" "$@"
}

faults() {
    python3 "$HERE/faults.py" --bin "$BIN" --work "$WORK/$1" --policy "$POLICY" \
        --phase "$PHASE" "$1"
}

status=0
for s in $SCENARIOS; do
    case $s in
    idle-flood) idle_flood || status=1 ;;
    bad-input) bad_input || status=1 ;;
    pepper) pepper || status=1 ;;
    slowloris) slowloris || status=1 ;;
    kill9) kill9 sqlite || status=1 ;;
    kill9-pg) kill9 postgres || status=1 ;;
    pg-outage)
        echo "== pg-outage: leads created while a private PostgreSQL is stopped, then started"
        faults pg-outage || status=1 ;;
    redis-outage)
        echo "== redis-outage: one key at 20 req/s against 120/min; Redis up, killed, restarted (${PHASE} s each)"
        faults redis-outage || status=1 ;;
    revoke-rotate)
        echo "== revoke-rotate: two nodes, one PostgreSQL; a key revoked, then one rotated, under load"
        faults revoke-rotate || status=1 ;;
    abandon)
        echo "== abandon: 4 clients hang up on lead creations 0-3 ms in, beside 2 writers and key changes (SQLite, ${PHASE} s)"
        faults abandon || status=1 ;;
    webhooks-kill9)
        echo "== webhooks-kill9: $WEBHOOK_CHANGES lead changes, the server killed with SIGKILL $WEBHOOK_KILLS times; every acknowledged change delivered and verified (SQLite)"
        webhooks kill9 --changes "$WEBHOOK_CHANGES" --kills "$WEBHOOK_KILLS" || status=1 ;;
    webhooks-two-nodes)
        echo "== webhooks-two-nodes: $WEBHOOK_LEADS leads over two nodes on one PostgreSQL, both delivering; each event exactly once"
        webhooks two-nodes --leads "$WEBHOOK_LEADS" || status=1 ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
    esac
done
exit $status
