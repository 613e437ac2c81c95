#!/usr/bin/env bash
# Paired A/B runs: is build B cheaper or dearer than build A per request, beyond noise?
#
#   bench/paired.sh A_TARGET_DIR B_TARGET_DIR
#
# Each TARGET_DIR holds a release build (release/synaptiq and release/examples/bench_seed), e.g.
# a worktree of the base commit built with CARGO_TARGET_DIR=target/bench-base and this checkout
# built with CARGO_TARGET_DIR=target/bench-release. Both servers run at once on CPU
# $BENCH_SERVER_CPU (0), each on its own copy of one seeded data set (A's seeder; each server
# applies its own migrations at start); wrk runs on CPU $BENCH_CLIENT_CPU (1). For every
# scenario, PAIRS pairs of short runs alternate the order (AB, BA, …); each run's server CPU
# per request comes from /proc/<pid>/stat. The report gives, per scenario, the median of B/A
# and in how many pairs B was cheaper. The same build against itself gives about 1.00 ± 0.02.
#
# Knobs: BENCH_PAIRS (10), BENCH_SECONDS (3), BENCH_CONNECTIONS (64), BENCH_KEYS (10000),
# BENCH_LEADS (100000), BENCH_PORT (18443, and +1), BENCH_SCENARIOS ("me leads post").
# Everything on 127.0.0.1; the data (with key secrets) lives in a temporary directory that is
# deleted at the end.
set -euo pipefail

A=${1:?usage: bench/paired.sh A_TARGET_DIR B_TARGET_DIR}
B=${2:?usage: bench/paired.sh A_TARGET_DIR B_TARGET_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LUA=$ROOT/bench/wrk/bench.lua
PAIRS=${BENCH_PAIRS:-10}
SECS=${BENCH_SECONDS:-3}
CONNS=${BENCH_CONNECTIONS:-64}
NKEYS=${BENCH_KEYS:-10000}
NLEADS=${BENCH_LEADS:-100000}
PORT=${BENCH_PORT:-18443}
SCENARIOS=${BENCH_SCENARIOS:-me leads post}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
HZ=$(getconf CLK_TCK)

for t in "$A" "$B"; do
    [ -x "$t/release/synaptiq" ] || { echo "no release build in $t" >&2; exit 2; }
done
[ -x "$A/release/examples/bench_seed" ] || { echo "no bench_seed in $A" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/synaptiq-paired.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "seeding $NKEYS keys and $NLEADS leads"
"$A/release/examples/bench_seed" --data-dir "$WORK/seed/data" --out "$WORK/secrets" \
    --keys "$NKEYS" --leads "$NLEADS" --orgs 4 >/dev/null
cp "$ROOT/bench/unlimited-policy.toml" "$WORK/policy.toml"

# start NAME TARGET PORT
start() {
    cp -a "$WORK/seed" "$WORK/$1"
    taskset -c "$SERVER_CPU" "$2/release/synaptiq" --data-dir "$WORK/$1/data" serve \
        --listen "127.0.0.1:$3" --rate-policy "$WORK/policy.toml" >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 600); do
        grep -q "Synaptiq listening on" "$WORK/$1.log" && return
        sleep 0.1
    done
    cat "$WORK/$1.log" >&2
    exit 1
}
start a "$A" "$PORT"
PID_A=${PIDS[0]}
start b "$B" "$((PORT + 1))"
PID_B=${PIDS[1]}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run PID PORT SCENARIO RUN_ID: prints the server's CPU microseconds per request. RUN_ID makes
# the emails of `post` unique across runs (each run is its own subshell: no shared counter).
run() {
    local pid=$1 port=$2 args
    case $3 in
    me) args=("mode=keys" "path=/api/v1/me" "keys=$WORK/secrets/keys.txt") ;;
    leads) args=("mode=static" "path=/api/v1/leads" "key=$(head -1 "$WORK/secrets/leads_keys.txt")") ;;
    post) args=("mode=post" "path=/api/v1/leads" "keys=$WORK/secrets/post_keys.txt" "run=$4$$") ;;
    esac
    local t0 t1 out line reqs errs
    t0=$(ticks "$pid")
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 5s -s "$LUA" \
        "https://127.0.0.1:$port" -- "${args[@]}" 2>&1) || true
    t1=$(ticks "$pid")
    line=$(grep '^BENCH ' <<<"$out" | tail -1)
    reqs=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
    errs=$(sed -n 's/.* err_status=\([0-9]*\).*/\1/p' <<<"$line")
    [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "$out" >&2; exit 1; }
    # Every answer must be a success: a run measuring error paths would compare nothing.
    [ "${errs:-1}" = 0 ] || {
        echo "$3: $errs non-2xx answers in one run; the servers' last errors:" >&2
        (cd "$WORK" && grep "ERROR" a.log b.log | tail -3 >&2)
        exit 1
    }
    awk -v d="$((t1 - t0))" -v n="$reqs" -v hz="$HZ" 'BEGIN { printf "%.3f\n", d * 1e6 / hz / n }'
}

echo "A: $A   B: $B   ($PAIRS pairs of ${SECS}-s runs per scenario, wrk -c$CONNS)"
for s in $SCENARIOS; do
    run "$PID_A" "$PORT" "$s" "$s-warm-a" >/dev/null # warm both
    run "$PID_B" "$((PORT + 1))" "$s" "$s-warm-b" >/dev/null
    ratios=()
    for i in $(seq 1 "$PAIRS"); do
        if [ $((i % 2)) = 1 ]; then
            a=$(run "$PID_A" "$PORT" "$s" "$s-$i-a")
            b=$(run "$PID_B" "$((PORT + 1))" "$s" "$s-$i-b")
        else
            b=$(run "$PID_B" "$((PORT + 1))" "$s" "$s-$i-b")
            a=$(run "$PID_A" "$PORT" "$s" "$s-$i-a")
        fi
        ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')")
        echo "  $s pair $i: A $a us/req, B $b us/req, B/A ${ratios[-1]}"
    done
    printf '%s\n' "${ratios[@]}" | sort -n | awk -v s="$s" '
        { r[NR] = $1; if ($1 < 1) cheaper++ }
        END { m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
              printf "%s: median B/A %.3f, B cheaper in %d of %d pairs\n", s, m, cheaper, NR }'
done
