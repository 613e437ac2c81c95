#!/usr/bin/env bash
# Synaptiq benchmark harness (issue 7). See docs/PERFORMANCE.md.
#
#   bench/run.sh            throughput and latency of the scenarios against an nginx peer, three
#                           rounds, then p99 at a fixed rate of half the measured /api/v1/me maximum;
#                           the last four lines are the ratios me/peer, me/bare, leads/me,
#                           unauthorized/peer
#   bench/run.sh fixed      only the fixed-rate measurement (measures the /api/v1/me maximum first)
#   bench/run.sh scale      memory and latency with 1,000,000 keys and 1,000,000 leads
#   bench/run.sh profile    perf profile of the server under the /api/v1/me load
#   bench/run.sh callgrind  instructions per request of each scenario (valgrind --tool=callgrind:
#                           exact counts, unaffected by other load on the machine) and the
#                           functions that cost them
#
# Everything runs on 127.0.0.1, bounded in time. The server (and the nginx peer) are pinned to
# CPU $BENCH_SERVER_CPU (0), wrk to CPU $BENCH_CLIENT_CPU (1). Data, keys and configuration live
# in a temporary directory (deleted at the end unless BENCH_KEEP=1); the report is kept in
# $BENCH_RESULTS/<time>-<mode>/ (default /tmp/synaptiq-bench-results). Nothing is written into
# the repository except the release build in target/bench-release.
#
# Knobs (environment): BENCH_DURATION (10 s per run), BENCH_ROUNDS (3), BENCH_CONNECTIONS (64),
# BENCH_KEYS (10000), BENCH_LEADS (100000), BENCH_SCALE_KEYS (1000000), BENCH_SCALE_LEADS
# (1000000), BENCH_PORT (18443; the peer uses +1), BENCH_SERVER_CPU, BENCH_CLIENT_CPU,
# BENCH_TARGET_DIR (target/bench-release), BENCH_FIXED_TOOL (oha|none), BENCH_KEEP,
# BENCH_RESULTS, BENCH_SKIP_BUILD=1 (use the existing release binaries), BENCH_PROFILE (me|leads:
# what `profile` records), BENCH_DB (sqlite|postgres: the server's database; postgres creates a
# fresh database on the PostgreSQL server of BENCH_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432, and drops it at the end; that server is not pinned, and
# its CPU time is not in the server's figures but shows in "others").
#
# No number here is a pass/fail gate: the script reports, it never fails on a figure.

set -euo pipefail

MODE=${1:-all}
case "$MODE" in all | fixed | scale | profile | callgrind) ;; *)
    echo "usage: bench/run.sh [all|fixed|scale|profile|callgrind]" >&2
    exit 2
    ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
LUA=$BENCH/wrk/bench.lua
TARGET=${BENCH_TARGET_DIR:-$ROOT/target/bench-release}
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-64}
NKEYS=${BENCH_KEYS:-10000}
NLEADS=${BENCH_LEADS:-100000}
SCALE_KEYS=${BENCH_SCALE_KEYS:-1000000}
SCALE_LEADS=${BENCH_SCALE_LEADS:-1000000}
PORT=${BENCH_PORT:-18443}
PEER_PORT=$((PORT + 1))
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
FIXED_TOOL=${BENCH_FIXED_TOOL:-oha}
FIXED_WARMUP=2
WRK_TIMEOUT=5s
CLK_TCK=$(getconf CLK_TCK)
if [ "$(id -u)" = 0 ]; then NICE=${BENCH_NICE:--20}; else NICE=${BENCH_NICE:-0}; fi
# Command prefixes: pinned to a CPU, at nice $NICE. (Arrays, not a function: `"${ON_SERVER_CPU[@]}"
# cmd &` must leave the command's own pid in $!, as taskset and nice exec it.)
ON_SERVER_CPU=(taskset -c "$SERVER_CPU" nice -n "$NICE")
ON_CLIENT_CPU=(taskset -c "$CLIENT_CPU" nice -n "$NICE")
# With autogroup scheduling (Debian's default), nice only ranks processes within one session;
# between sessions the CPU is shared per session. So the session running the benchmark gets
# autogroup nice $NICE for the duration, and its previous value back at the end.
AUTOGROUP_RESTORE=
boost_session() {
    [ "$NICE" -lt 0 ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] || return 0
    local cur
    cur=$(awk '{print $3}' "/proc/$$/autogroup" 2>/dev/null) || return 0
    if echo "$NICE" 2>/dev/null >"/proc/$$/autogroup"; then AUTOGROUP_RESTORE=$cur; fi
}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=${BENCH_RESULTS:-/tmp/synaptiq-bench-results}/$STAMP-$MODE
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/synaptiq-bench.XXXXXX)
RUNS=$RESULTS/runs.tsv
BIN=$TARGET/release/synaptiq
SEED=$TARGET/release/examples/bench_seed
SPID=
SERVER_WRAP=
SERVER_EXTRA=
NGINX_PID=
BG_PID=
DB=${BENCH_DB:-sqlite}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=
case "$DB" in sqlite | postgres) ;; *)
    echo "BENCH_DB must be sqlite or postgres" >&2
    exit 2
    ;;
esac
# The server reads its database from SYNAPTIQ_DATABASE_URL when set: one left in the caller's
# environment must not point the benchmark at another database (seed() sets it for postgres).
unset SYNAPTIQ_DATABASE_URL

exec > >(tee -a "$RESULTS/report.txt") 2>&1

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    log "ERROR: $*"
    exit 1
}

cleanup() {
    set +e
    [ -z "$AUTOGROUP_RESTORE" ] || echo "$AUTOGROUP_RESTORE" >"/proc/$$/autogroup"
    [ -n "$BG_PID" ] && kill -INT "$BG_PID" 2>/dev/null
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
    [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [ -n "$PG_DB" ] && psql -q "$PG_BASE/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    [ -f "$WORK/server.log" ] && cp "$WORK/server.log" "$RESULTS/server.log"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORK (contains key secrets: delete it when done)"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM # (a shell started in the background ignores INT: stop it with TERM)

# ---------------------------------------------------------------------------------------------
# Tools, build, seed

APT_UPDATED=0
apt_install() {
    [ "$(id -u)" = 0 ] || die "missing $*: install them (Debian: apt-get install $*)"
    if [ $APT_UPDATED = 0 ]; then
        log "apt-get update"
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_tools() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    if [ "$MODE" = profile ]; then command -v perf >/dev/null || missing+=(linux-perf); fi
    if [ "$MODE" = callgrind ]; then command -v valgrind >/dev/null || missing+=(valgrind); fi
    if [ "$DB" = postgres ]; then command -v psql >/dev/null || missing+=(postgresql-client); fi
    [ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
    local nginx_bin
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    NGINX=$nginx_bin
    [ "$(nproc)" -ge 2 ] || log "WARNING: fewer than 2 CPUs: server and client will share one"
}

build() {
    if [ "${BENCH_SKIP_BUILD:-0}" = 1 ] && [ -x "$BIN" ] && [ -x "$SEED" ]; then
        log "using existing release build in $TARGET"
        return
    fi
    log "building release (CARGO_TARGET_DIR=$TARGET; ~9 min cold on 2 cores)"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p synaptiq \
        --bin synaptiq --example bench_seed) || die "release build failed"
}

# seed DIR KEYS LEADS
seed() {
    local db_args=()
    if [ "$DB" = postgres ]; then
        # A database of its own, dropped at the end. The server gets it through the environment
        # (SYNAPTIQ_DATABASE_URL), so its URL is not in the server's command line; the seeder
        # takes it as --database-url.
        PG_DB=synaptiq_bench_${STAMP,,}_$$
        psql -q "$PG_BASE/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null ||
            die "BENCH_DB=postgres needs a PostgreSQL server at $PG_BASE where this user may create databases (BENCH_POSTGRES_URL)"
        export SYNAPTIQ_DATABASE_URL=$PG_BASE/$PG_DB
        db_args=(--database-url "$SYNAPTIQ_DATABASE_URL")
    fi
    log "seeding $2 keys and $3 leads (bench_seed, $DB)"
    "$SEED" --data-dir "$1/data" --out "$1/secrets" --keys "$2" --leads "$3" --orgs 4 "${db_args[@]}"
}

# Size of the seeded database.
db_size() {
    if [ "$DB" = postgres ]; then
        psql -tA "$PG_BASE/postgres" -c "SELECT pg_size_pretty(pg_database_size('$PG_DB'))"
    else
        du -sh "$WORK/data" | cut -f1
    fi
}

write_policy() {
    cp "$BENCH/unlimited-policy.toml" "$WORK/policy.toml"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() {
    port_free "$PORT" || die "port $PORT is in use (set BENCH_PORT)"
    write_policy
    # shellcheck disable=SC2086
    # shellcheck disable=SC2086
    "${ON_SERVER_CPU[@]}" $SERVER_WRAP "$BIN" --data-dir "$WORK/data" serve $SERVER_EXTRA --listen "127.0.0.1:$PORT" \
        --rate-policy "$WORK/policy.toml" >"$WORK/server.log" 2>&1 &
    SPID=$!
    local i
    for i in $(seq 1 1200); do
        grep -q "Synaptiq listening on" "$WORK/server.log" && break
        kill -0 "$SPID" 2>/dev/null || {
            cat "$WORK/server.log"
            die "server exited"
        }
        sleep 0.1
    done
    grep -q "Synaptiq listening on" "$WORK/server.log" || die "server did not start in 120 s"
    [ "$(readlink "/proc/$SPID/exe")" != "$(readlink -f /bin/bash)" ] || die "internal: server pid $SPID is a shell"
    log "server pid $SPID on https://127.0.0.1:$PORT, pinned to CPU $SERVER_CPU ($(ls /proc/$SPID/task | wc -l) threads)"
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

# ---------------------------------------------------------------------------------------------
# Measuring

# Sum of utime+stime (clock ticks) of the given pids (all their threads, live and exited).
ticks() {
    local t=0 p v
    for p in "$@"; do
        v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
        t=$((t + v))
    done
    echo "$t"
}

# CHILD_CPU := CPU seconds (user+sys) of this shell's reaped children, from the `times` builtin
# (which must run in this shell, not in a $(…) subshell).
CHILD_CPU=0
child_cpu() {
    local f=$WORK/times
    times >"$f"
    CHILD_CPU=$(tail -1 "$f" | awk '{
        n = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); n += a[1] * 60 + a[2] }
        printf "%.3f", n }')
}

# "busy total" clock ticks of one CPU from /proc/stat; busy = user + nice + system (interrupt
# time is left out: much of it is our own loopback traffic).
cpu_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# Other processes share this machine (other builds and tests on the same 2 CPUs). Our server,
# the peer and the load generators run at nice $BENCH_NICE (default -20 when root, so the
# scheduler gives them the CPU over a concurrent build), and before each run we wait (at most
# BENCH_QUIET_WAIT s, default 20) until both CPUs are below BENCH_QUIET_MAX % busy (default 10)
# with our processes idle, then go on regardless. The CPU time others still took on our two CPUs
# during a run is measured and printed with it ("others a%/b%").
QUIET_WAIT=${BENCH_QUIET_WAIT:-20}
QUIET_MAX=${BENCH_QUIET_MAX:-10}
wait_quiet() {
    local deadline=$((SECONDS + QUIET_WAIT)) a0 a1 b0 b1 busy
    while :; do
        read -r a0 a1 <<<"$(cpu_ticks "$SERVER_CPU")"
        read -r b0 b1 <<<"$(cpu_ticks "$CLIENT_CPU")"
        sleep 1
        busy=$(awk -v a0="$a0" -v a1="$a1" -v b0="$b0" -v b1="$b1" -v s="$(cpu_ticks "$SERVER_CPU")" -v c="$(cpu_ticks "$CLIENT_CPU")" 'BEGIN {
            split(s, x, " "); split(c, y, " ")
            p = (x[2] > a1) ? (x[1] - a0) * 100 / (x[2] - a1) : 0
            q = (y[2] > b1) ? (y[1] - b0) * 100 / (y[2] - b1) : 0
            printf "%d", (p > q) ? p : q }')
        if [ "$busy" -le "$QUIET_MAX" ]; then return 0; fi
        if [ $SECONDS -ge $deadline ]; then
            log "  (machine still busy: ${busy}% of a benchmark CPU used by others; running anyway)"
            return 0
        fi
    done
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# field NAME LINE: value of NAME=… in a BENCH line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# wrk_run ROUND SCENARIO URL "PIDS" [CONNS] -- lua args…
# Runs wrk pinned to the client CPU and appends one row to $RUNS.
wrk_run() {
    local round=$1 scenario=$2 url=$3 pids=$4 conns=$5
    shift 6
    local t0 c0 out line t1 c1 s0 s1 k0 k1
    wait_quiet
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    child_cpu
    c0=$CHILD_CPU
    s0=$(cpu_ticks "$SERVER_CPU")
    k0=$(cpu_ticks "$CLIENT_CPU")
    out=$("${ON_CLIENT_CPU[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$LUA" \
        "$url" -- "$@" 2>&1) || true
    s1=$(cpu_ticks "$SERVER_CPU")
    k1=$(cpu_ticks "$CLIENT_CPU")
    child_cpu
    c1=$CHILD_CPU
    # shellcheck disable=SC2086
    t1=$(ticks $pids)
    line=$(grep '^BENCH ' <<<"$out" | tail -1)
    [ -n "$line" ] || {
        echo "$out"
        die "wrk gave no result for $scenario"
    }
    FOREIGN=$(foreign "$s0" "$s1" "$k0" "$k1" "$((t1 - t0))" "$c0" "$c1")
    record "$round" "$scenario" "$line" "$((t1 - t0))" "$c0" "$c1" "$conns"
}

# foreign "S0" "S1" "K0" "K1" SERVER_TICKS CLIENT_CPU0 CLIENT_CPU1: "a b" = % of the server CPU
# and of the client CPU used by processes other than ours during a run.
foreign() {
    awk -v s0="$1" -v s1="$2" -v k0="$3" -v k1="$4" -v dt="$5" -v c0="$6" -v c1="$7" -v hz="$CLK_TCK" 'BEGIN {
        split(s0, a, " "); split(s1, b, " "); split(k0, c, " "); split(k1, d, " ")
        fs = (b[2] > a[2]) ? ((b[1] - a[1]) - dt) * 100 / (b[2] - a[2]) : 0
        fc = (d[2] > c[2]) ? ((d[1] - c[1]) - (c1 - c0) * hz) * 100 / (d[2] - c[2]) : 0
        if (fs < 0) fs = 0
        if (fc < 0) fc = 0
        printf "%.0f %.0f", fs, fc }'
}

# record ROUND SCENARIO BENCHLINE SERVER_TICKS CLIENT_CPU0 CLIENT_CPU1 CONNS
record() {
    local round=$1 scenario=$2 line=$3 dt=$4 c0=$5 c1=$6 conns=$7
    local req dur rps p50 p90 p99 mean bytes errs
    req=$(field requests "$line")
    dur=$(field duration_us "$line")
    rps=$(field rps "$line")
    p50=$(field p50_us "$line")
    p90=$(field p90_us "$line")
    p99=$(field p99_us "$line")
    mean=$(field mean_us "$line")
    bytes=$(field bytes "$line")
    errs="$(field err_connect "$line")/$(field err_read "$line")/$(field err_write "$line")/$(field err_timeout "$line")"
    local non2xx
    non2xx=$(field err_status "$line")
    local stats
    stats=$(awk -v dt="$dt" -v hz="$CLK_TCK" -v req="$req" -v dur="$dur" -v c0="$c0" -v c1="$c1" -v bytes="$bytes" 'BEGIN {
        cpu_us = (req > 0) ? dt * 1e6 / hz / req : 0
        util = dt / hz / (dur / 1e6) * 100
        cutil = (c1 - c0) / (dur / 1e6) * 100
        bpr = (req > 0) ? bytes / req : 0
        printf "%.2f\t%.0f\t%.0f\t%.0f", cpu_us, util, cutil, bpr }')
    local fs fc
    read -r fs fc <<<"${FOREIGN:-0 0}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$rps" \
        "$p50" "$p90" "$p99" "$mean" "$req" "$non2xx" "$errs" "$conns" "$stats" "$fs" "$fc" >>"$RUNS"
    IFS=$'\t' read -r cpu_us util cutil bpr <<<"$stats"
    printf '  %-22s %9s req/s  p50 %7s us  p99 %7s us  server %7s us/req (%3s%% CPU)  wrk %3s%% CPU  others %s%%/%s%%  non-2xx %s  err %s  %s B/resp\n' \
        "$scenario" "$rps" "$p50" "$p99" "$cpu_us" "$util" "$cutil" "$fs" "$fc" "$non2xx" "$errs" "$bpr"
}

runs_header() {
    printf 'round\tscenario\trps\tp50_us\tp90_us\tp99_us\tmean_us\trequests\tnon2xx\terrors_c/r/w/t\tconnections\tserver_cpu_us_per_req\tserver_cpu_pct\tclient_cpu_pct\tbytes_per_resp\tothers_on_server_cpu_pct\tothers_on_client_cpu_pct\n' >"$RUNS"
}

# Status code and body size of one request: check URL EXPECTED [curl args…]
check() {
    local url=$1 want=$2
    shift 2
    local got
    got=$(curl -sk -o "$WORK/body" -w '%{http_code}' "$@" "$url") || got=000
    if [ "$got" != "$want" ]; then
        log "sanity check FAILED: $url gave $got, expected $want: $(head -c 300 "$WORK/body")" >&2
        exit 1
    fi
    wc -c <"$WORK/body"
}

machine() {
    echo "== machine"
    echo "date (UTC):  $(date -u '+%Y-%m-%d %H:%M:%S')"
    echo "CPUs:        $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel:      $(uname -sr)"
    echo "rustc:       $(rustc --version 2>/dev/null || echo '?')"
    echo "nginx:       $("$NGINX" -v 2>&1 | sed 's/.*: //')"
    echo "wrk:         $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
    if [ "$DB" = postgres ]; then
        echo "database:    PostgreSQL $(psql -tA "$PG_BASE/postgres" -c 'SHOW server_version' 2>/dev/null || echo '?') at ${PG_BASE#*@} (a separate service, not pinned)"
    else
        echo "database:    SQLite, in the server's process (on its CPU)"
    fi
    echo "commit:      $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "pinning:     server/peer CPU $SERVER_CPU, wrk CPU $CLIENT_CPU, nice $NICE (session: $(cat /proc/$$/autogroup 2>/dev/null || echo '?')); wrk -t1 -c$CONNS -d${DURATION}s"
}

# ---------------------------------------------------------------------------------------------
# The nginx peer

start_peer() {
    port_free "$PEER_PORT" || die "port $PEER_PORT is in use (set BENCH_PORT)"
    local prefix=$WORK/nginx me_size=$1 unauth_size=$2
    mkdir -p "$prefix/www" "$prefix/tmp"
    awk 'NF { printf "    \"Bearer %s\" 1;\n", $1 }' "$WORK/secrets/keys.txt" |
        { echo 'map $http_authorization $bench_ok {'; cat; echo '    default 0;'; echo '}'; } \
            >"$prefix/keys.map"
    python3 - "$me_size" "$unauth_size" "$prefix" <<'PY'
import json, sys
me, unauth, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def padded(obj, size):
    base = json.dumps(obj, separators=(",", ":"))
    pad = size - len(base) - len(',"pad":""')
    if pad < 0:
        raise SystemExit(f"body template longer than {size}")
    obj = dict(obj, pad="x" * pad)
    s = json.dumps(obj, separators=(",", ":"))
    assert len(s) == size, (len(s), size)
    return s
with open(f"{prefix}/www/me.json", "w") as f:
    f.write(padded({"key": {"id": "key_bench", "scope": "read", "status": "active"}}, me))
with open(f"{prefix}/unauthorized.json", "w") as f:
    f.write(padded({"error": {"code": "unauthorized", "message": "Invalid or missing API key."}}, unauth))
PY
    local body
    body=$(cat "$prefix/unauthorized.json")
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PEER_PORT|g" \
        -e "s|@CERT@|$WORK/data/tls/cert.pem|g" -e "s|@KEY@|$WORK/data/tls/key.pem|g" \
        -e "s|@UNAUTHORIZED_BODY@|$body|g" -e "s|@USER@|$(id -un)|g" "$BENCH/nginx/nginx.conf.tmpl" >"$prefix/nginx.conf"
    "$NGINX" -t -q -p "$prefix" -c "$prefix/nginx.conf" || die "nginx configuration rejected"
    "${ON_SERVER_CPU[@]}" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" &
    NGINX_PID=$!
    local i
    for i in $(seq 1 100); do
        port_free "$PEER_PORT" || break
        sleep 0.1
    done
    sleep 0.3
    NGINX_PIDS="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
    log "nginx peer (pids $NGINX_PIDS) on https://127.0.0.1:$PEER_PORT, pinned to CPU $SERVER_CPU"
}

# ---------------------------------------------------------------------------------------------
# Fixed rate

# The open-loop load generator. wrk2 (-R) would do, but Debian has no wrk2 package (checked with
# apt-cache on bookworm), so oha (-q with --latency-correction) from crates.io is used.
fixed_tool() {
    local oha_bin
    [ "$FIXED_TOOL" != none ] || {
        echo none
        return
    }
    oha_bin=$(command -v oha || true)
    [ -n "$oha_bin" ] || [ ! -x "$HOME/.cargo/bin/oha" ] || oha_bin=$HOME/.cargo/bin/oha
    if [ -z "$oha_bin" ]; then
        log "installing oha from crates.io (cargo install oha --locked; once, ~8 min on 2 cores)" >&2
        cargo install --quiet --locked oha >&2 || die "cargo install oha failed"
        oha_bin=$HOME/.cargo/bin/oha
    fi
    echo "$oha_bin"
}

# fixed_rate LABEL URL RATE PIDS KEY TOOL
fixed_rate() {
    local label=$1 url=$2 rate=$3 pids=$4 key=$5 tool=$6
    local t0 t1 c0 c1 out s0 s1 k0 k1
    wait_quiet
    s0=$(cpu_ticks "$SERVER_CPU")
    k0=$(cpu_ticks "$CLIENT_CPU")
    # shellcheck disable=SC2086
    t0=$(ticks $pids)
    child_cpu
    c0=$CHILD_CPU
    # oha: open loop at -q req/s. With --latency-correction a request's latency counts from
    # when oha's pacer released it, so time spent waiting for a free connection is counted.
    # The pacer sleeps on tokio's timer, whose resolution is 1 ms (oha 1.16, client.rs
    # `work_until_with_qps_latency_correction`): the requests due within each millisecond are
    # released together, and the release time, not the ideal schedule, is the start. Every
    # request is recorded (--db-url) so that the first
    # $FIXED_WARMUP s (64 TLS handshakes, cold caches) can be left out of the percentiles.
    local db=$RESULTS/fixed-$label.db
    rm -f "$db"
    out=$("${ON_CLIENT_CPU[@]}" "$tool" --no-tui --worker-threads 1 --output-format json \
        -z "$((DURATION + FIXED_WARMUP))s" -q "$rate" -c "$CONNS" --latency-correction --insecure \
        --db-url "$db" -H "Authorization: Bearer $key" "$url" 2>/dev/null) || true
    s1=$(cpu_ticks "$SERVER_CPU")
    k1=$(cpu_ticks "$CLIENT_CPU")
    child_cpu
    c1=$CHILD_CPU
    # shellcheck disable=SC2086
    t1=$(ticks $pids)
    echo "$out" >"$RESULTS/fixed-$label.json"
    read -r fs fc <<<"$(foreign "$s0" "$s1" "$k0" "$k1" "$((t1 - t0))" "$c0" "$c1")"
    python3 - "$label" "$rate" "$((t1 - t0))" "$CLK_TCK" "$c0" "$c1" "$RESULTS/fixed.tsv" \
        "$RESULTS/fixed-$label.json" "$db" "$FIXED_WARMUP" "$DURATION" "$fs" "$fc" <<'PY' || die "oha output not understood"
import json, sqlite3, sys
label, rate, dt, hz, c0, c1, tsv, js, db, warm, dur, fs, fc = sys.argv[1:14]
rate, dt, hz, c0, c1, warm, dur = float(rate), int(dt), int(hz), float(c0), float(c1), float(warm), float(dur)
d = json.load(open(js))
# oha ends a timed run by aborting the requests still in flight ("aborted due to deadline"):
# those are not failures of the server, and are reported apart from real errors.
dist = d.get("errorDistribution", {})
cut = sum(int(v) for k, v in dist.items() if k == "aborted due to deadline")
errs = sum(int(v) for v in dist.values()) - cut
c = sqlite3.connect(db)
rows = c.execute("SELECT duration, status FROM oha WHERE start_latency_correction >= ?", (warm,)).fetchall()
lat = sorted(r[0] for r in rows)
n = len(lat)
ok = sum(1 for r in rows if 200 <= r[1] < 300)
def pct(p):
    return lat[min(n - 1, int(p / 100 * n))] * 1e6 if n else float("nan")
total = sum(int(v) for v in d.get("statusCodeDistribution", {}).values())
cpu_us = dt * 1e6 / hz / total if total else 0
whole = d["summary"]["total"]
util = dt / hz / whole * 100
cutil = (c1 - c0) / whole * 100
achieved = n / dur
print(f"  {label:<10} target {rate:6.0f} req/s  achieved {achieved:6.0f}  p50 {pct(50):6.0f} us  p99 {pct(99):7.0f} us  "
      f"p99.9 {pct(99.9):7.0f} us  max {lat[-1] * 1e6 if n else 0:7.0f} us  server {cpu_us:5.2f} us/req ({util:.0f}% CPU)  "
      f"oha {cutil:.0f}% CPU  others {fs}%/{fc}%  2xx {ok}/{n}  errors {errs}  cut at the end {cut}")
with open(tsv, "a") as f:
    f.write(f"{label}\t{rate:.0f}\t{achieved:.0f}\t{pct(50):.0f}\t{pct(99):.0f}\t{pct(99.9):.0f}\t{cpu_us:.2f}\t{util:.0f}\t{cutil:.0f}\t{ok}\t{n}\t{errs}\t{fs}\t{fc}\n")
PY
}

# ---------------------------------------------------------------------------------------------
# Summaries

summarize() {
    python3 - "$RUNS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
order = ["peer", "peer_unauthorized", "me", "me_one_key", "bare", "leads", "leads_uncached", "unauthorized", "post_leads"]
names = {
    "bare": "(a) GET /healthz",
    "me": "(b) GET /api/v1/me, random of the keys",
    "me_one_key": "    GET /api/v1/me, always the same key",
    "leads": "(c) GET /api/v1/leads?limit=25",
    "leads_uncached": "    the same, --page-cache-mb 0 (no cache)",
    "unauthorized": "(d) 401: well-formed unknown key",
    "post_leads": "(e) POST /api/v1/leads",
    "peer": "(f) nginx peer: map + limit_req, 200",
    "peer_unauthorized": "    nginx peer, 401 (unknown key)",
}
med = {}
cpu = {}
print()
print("== results: median of %d rounds (requests/s, latency in microseconds, server CPU per request)" % max(int(r["round"]) for r in rows))
print(f"{'scenario':<42} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} {'CPU us/req':>10} {'server CPU':>10} {'wrk CPU':>8} {'others':>7}  {'rounds (req/s)'}")
for sc in order:
    rs = [r for r in rows if r["scenario"] == sc]
    if not rs:
        continue
    m = lambda k: statistics.median(float(r[k]) for r in rs)
    med[sc] = m("rps")
    cpu[sc] = m("server_cpu_us_per_req")
    rounds = " / ".join(f"{float(r['rps']):.0f}" for r in rs)
    others = max(float(r["others_on_server_cpu_pct"]) for r in rs)
    print(f"{names.get(sc, sc):<42} {m('rps'):>9.0f} {m('p50_us'):>8.0f} {m('p99_us'):>8.0f} "
          f"{m('server_cpu_us_per_req'):>10.2f} {m('server_cpu_pct'):>9.0f}% {m('client_cpu_pct'):>7.0f}% {others:>6.0f}%  {rounds}")
bad = [r for r in rows if r["scenario"] not in ("unauthorized", "peer_unauthorized") and int(r["non2xx"]) > 0]
bad += [r for r in rows if r["errors_c/r/w/t"] != "0/0/0/0"]
for r in bad:
    print(f"WARNING: round {r['round']} {r['scenario']}: non-2xx {r['non2xx']}, socket errors {r['errors_c/r/w/t']}")
print("(others: the most CPU time that other processes took on the server's CPU in any round;"
      " CPU us/req counts the server's own user+system time only)")
noisy = [r for r in rows if float(r["others_on_server_cpu_pct"]) > 10 or float(r["others_on_client_cpu_pct"]) > 10]
for r in noisy:
    print(f"NOTE: round {r['round']} {r['scenario']}: other processes used {r['others_on_server_cpu_pct']}% of the server CPU "
          f"and {r['others_on_client_cpu_pct']}% of the client CPU")
busy = [r for r in rows if float(r["client_cpu_pct"]) >= 95]
for r in busy:
    print(f"NOTE: round {r['round']} {r['scenario']}: wrk used {r['client_cpu_pct']}% of its CPU (the client may be the limit)")
with open(sys.argv[1] + ".medians", "w") as f:
    for k, v in med.items():
        f.write(f"{k}\t{v:.1f}\n")
with open(sys.argv[1] + ".cpu", "w") as f:
    for k, v in cpu.items():
        f.write(f"{k}\t{v:.3f}\n")
PY
}

# ratios FILE [inverse]: the four ratios of the medians in FILE (requests/s; with `inverse`,
# CPU per request, so that a ratio still reads "how many of a per one of b").
ratios() {
    python3 - "$1" "${2:-}" <<'PY'
import sys
m = dict(l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l)
m = {k: float(v) for k, v in m.items()}
inverse = sys.argv[2] == "inverse"
def r(a, b):
    if a not in m or b not in m or not m[b] or not m[a]:
        return "n/a"
    x = m[b] / m[a] if inverse else m[a] / m[b]
    return f"{x:.2f}" if x >= 0.1 else f"{x:.4f}"
print(f"me/peer = {r('me', 'peer')}")
print(f"me/bare = {r('me', 'bare')}")
print(f"leads/me = {r('leads', 'me')}")
print(f"unauthorized/peer = {r('unauthorized', 'peer')}")
PY
}

# ---------------------------------------------------------------------------------------------
# Modes

prepare() {
    need_tools
    build
    machine
    echo
    seed "$WORK" "$NKEYS" "$NLEADS"
    start_server
    local base=https://127.0.0.1:$PORT
    KEY1=$(head -1 "$WORK/secrets/keys.txt")
    LKEY1=$(head -1 "$WORK/secrets/leads_keys.txt")
    PKEY1=$(head -1 "$WORK/secrets/post_keys.txt")
    UNKNOWN=$(head -1 "$WORK/secrets/unknown_key.txt")
    check "$base/healthz" 200 >/dev/null
    ME_SIZE=$(check "$base/api/v1/me" 200 -H "Authorization: Bearer $KEY1")
    check "$base/api/v1/leads?limit=25" 200 -H "Authorization: Bearer $LKEY1" >/dev/null
    UNAUTH_SIZE=$(check "$base/api/v1/me" 401 -H "Authorization: Bearer $UNKNOWN")
    check "$base/api/v1/leads" 201 -H "Authorization: Bearer $PKEY1" \
        -H 'Content-Type: application/json' -d "{\"email\":\"sanity-$STAMP@example.com\"}" >/dev/null
    log "sanity checks passed: /api/v1/me body $ME_SIZE bytes, 401 body $UNAUTH_SIZE bytes"
}

ME_RPS=

mode_all() {
    prepare
    start_peer "$ME_SIZE" "$UNAUTH_SIZE"
    local peer=https://127.0.0.1:$PEER_PORT base=https://127.0.0.1:$PORT
    check "$peer/api/v1/me" 200 -H "Authorization: Bearer $KEY1" >/dev/null
    check "$peer/api/v1/me" 401 -H "Authorization: Bearer $UNKNOWN" >/dev/null
    local peer_size
    peer_size=$(check "$peer/api/v1/me" 200 -H "Authorization: Bearer $KEY1")
    log "nginx peer body $peer_size bytes (ours $ME_SIZE)"
    local keys=$WORK/secrets/keys.txt lkeys=$WORK/secrets/leads_keys.txt pkeys=$WORK/secrets/post_keys.txt
    runs_header
    local r
    for r in $(seq 1 "$ROUNDS"); do
        echo
        log "round $r of $ROUNDS"
        # The peer runs right before ours in odd rounds and right after in even ones, so that
        # a drift of the machine's speed during a round does not always favour the same side.
        [ $((r % 2)) = 0 ] ||
            wrk_run "$r" peer "$peer" "$NGINX_PIDS" "$CONNS" -- mode=keys path=/api/v1/me "keys=$keys" "seed=$r"
        # Steady state: every key verified once just before (cached keys are trusted for 60 s,
        # so each round would otherwise start with 10,000 lookups).
        drive_each_key_once - "$keys"
        wrk_run "$r" me "$base" "$SPID" "$CONNS" -- mode=keys path=/api/v1/me "keys=$keys" "seed=$r"
        [ $((r % 2)) = 1 ] ||
            wrk_run "$r" peer "$peer" "$NGINX_PIDS" "$CONNS" -- mode=keys path=/api/v1/me "keys=$keys" "seed=$r"
        wrk_run "$r" me_one_key "$base" "$SPID" "$CONNS" -- mode=static path=/api/v1/me "key=$KEY1"
        wrk_run "$r" peer_unauthorized "$peer" "$NGINX_PIDS" "$CONNS" -- mode=static path=/api/v1/me "key=$UNKNOWN"
        wrk_run "$r" bare "$base" "$SPID" "$CONNS" -- mode=static path=/healthz
        drive_each_key_once - "$lkeys"
        wrk_run "$r" leads "$base" "$SPID" "$CONNS" -- mode=keys "path=/api/v1/leads?limit=25" "keys=$lkeys" "seed=$r"
        # The same requests with the page cache off (every answer rendered from the database):
        # what a list costs when its organization's leads keep changing.
        stop_server
        SERVER_EXTRA="--page-cache-mb 0" start_server
        drive_each_key_once - "$lkeys"
        wrk_run "$r" leads_uncached "$base" "$SPID" "$CONNS" -- mode=keys "path=/api/v1/leads?limit=25" "keys=$lkeys" "seed=$r"
        stop_server
        start_server
        wrk_run "$r" unauthorized "$base" "$SPID" "$CONNS" -- mode=static path=/api/v1/me "key=$UNKNOWN"
        drive_each_key_once - "$pkeys"
        wrk_run "$r" post_leads "$base" "$SPID" "$CONNS" -- mode=post path=/api/v1/leads "keys=$pkeys" "run=$STAMP-$r" "seed=$r"
    done
    check "$base/api/v1/me" 401 -H "Authorization: Bearer $UNKNOWN" >/dev/null
    summarize
    ME_RPS=$(awk '$1 == "me" {print $2}' "$RUNS.medians")
    fixed_part
    echo
    # What one core of the server can do, whatever limited the run (wrk near 100% of its CPU,
    # or the VM's speed drifting between runs): the inverse ratio of CPU per request.
    echo "== the same ratios by server CPU per request (median µs/req; capacity of the pinned core)"
    ratios "$RUNS.cpu" inverse | sed 's/^/  /'
    echo
    echo "== ratios (median requests/s)"
    ratios "$RUNS.medians"
}

fixed_part() {
    local tool
    tool=$(fixed_tool)
    echo
    if [ "$tool" = none ]; then
        log "fixed-rate measurement skipped (BENCH_FIXED_TOOL=none)"
        return
    fi
    local rate
    rate=$(awk -v r="$ME_RPS" 'BEGIN { printf "%d", r / 2 }')
    echo "== fixed rate: half the measured /api/v1/me maximum ($rate req/s), $CONNS connections, ${DURATION}s, $(basename "$tool")"
    echo "   (open loop, released by oha in 1-ms batches; latency counted from the release, including any wait for a connection; one key per run;"
    echo "    the first ${FIXED_WARMUP}s of each run, with the connection handshakes, are left out)"
    : >"$RESULTS/fixed.tsv"
    local r
    for r in $(seq 1 "$ROUNDS"); do
        check "https://127.0.0.1:$PORT/api/v1/me" 200 -H "Authorization: Bearer $KEY1" >/dev/null
        fixed_rate "me-r$r" "https://127.0.0.1:$PORT/api/v1/me" "$rate" "$SPID" "$KEY1" "$tool"
        if [ -n "$NGINX_PID" ]; then
            fixed_rate "peer-r$r" "https://127.0.0.1:$PEER_PORT/api/v1/me" "$rate" "$NGINX_PIDS" "$KEY1" "$tool"
        fi
    done
    python3 - "$RESULTS/fixed.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines() if l]
for who in ("me", "peer"):
    rs = [r for r in rows if r[0].startswith(who + "-")]
    if rs:
        print(f"  median {who:<5} p99 {statistics.median(float(r[4]) for r in rs):.0f} us "
              f"(p50 {statistics.median(float(r[3]) for r in rs):.0f} us, p99.9 {statistics.median(float(r[5]) for r in rs):.0f} us) "
              f"at {rs[0][1]} req/s")
PY
}

mode_fixed() {
    prepare
    runs_header
    log "measuring the /api/v1/me maximum"
    wrk_run 1 me "https://127.0.0.1:$PORT" "$SPID" "$CONNS" -- mode=keys path=/api/v1/me \
        "keys=$WORK/secrets/keys.txt"
    ME_RPS=$(awk -F'\t' '$2 == "me" {print $3}' "$RUNS")
    fixed_part
}

# Drives each key of FILE once (wrk stops itself and touches a file; see bench.lua).
# drive_each_key_once LABEL FILE: each key of FILE once; LABEL "-" warms without recording.
drive_each_key_once() {
    local label=$1 file=$2
    local done=$WORK/seq.done t0 c0 c1 t1 out
    rm -f "$done"
    [ "$label" = - ] || wait_quiet
    local s0 s1 k0 k1
    s0=$(cpu_ticks "$SERVER_CPU")
    k0=$(cpu_ticks "$CLIENT_CPU")
    t0=$(ticks "$SPID")
    child_cpu
    c0=$CHILD_CPU
    "${ON_CLIENT_CPU[@]}" wrk -t1 -c"$CONNS" -d3600s --timeout 10s -s "$LUA" \
        "https://127.0.0.1:$PORT" -- mode=seq path=/api/v1/me "keys=$file" "done=$done" \
        >"$WORK/seq.out" 2>&1 &
    BG_PID=$!
    local limit=$((SECONDS + 1800))
    while [ ! -f "$done" ] && kill -0 "$BG_PID" 2>/dev/null && [ $SECONDS -lt $limit ]; do sleep 0.1; done
    kill -INT "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
    BG_PID=
    s1=$(cpu_ticks "$SERVER_CPU")
    k1=$(cpu_ticks "$CLIENT_CPU")
    child_cpu
    c1=$CHILD_CPU
    t1=$(ticks "$SPID")
    FOREIGN=$(foreign "$s0" "$s1" "$k0" "$k1" "$((t1 - t0))" "$c0" "$c1")
    out=$(grep '^BENCH ' "$WORK/seq.out" | tail -1)
    [ -n "$out" ] || {
        cat "$WORK/seq.out"
        die "wrk gave no result for $label"
    }
    [ "$label" != - ] || return 0
    record scale "$label" "$out" "$((t1 - t0))" "$c0" "$c1" "$CONNS"
}

mode_scale() {
    need_tools
    build
    machine
    echo
    local t=$SECONDS
    seed "$WORK" "$SCALE_KEYS" "$SCALE_LEADS"
    log "seeded in $((SECONDS - t)) s; database $(db_size)"
    # The page cache off: list and search latencies below are the database's, not a reuse.
    SERVER_EXTRA="--page-cache-mb 0" start_server
    local base=https://127.0.0.1:$PORT keys=$WORK/secrets/keys.txt
    KEY1=$(head -1 "$keys")
    LKEY1=$(head -1 "$WORK/secrets/leads_keys.txt")
    check "$base/api/v1/me" 200 -H "Authorization: Bearer $KEY1" >/dev/null
    check "$base/api/v1/leads?limit=25" 200 -H "Authorization: Bearer $LKEY1" >/dev/null
    head -n 10000 "$keys" >"$WORK/keys10k.txt"
    runs_header
    sleep 5
    local rss_idle
    rss_idle=$(rss_kb "$SPID")
    echo
    echo "== memory and latency with $SCALE_KEYS keys and $SCALE_LEADS leads ($CONNS connections unless noted)"
    log "RSS at idle (after two requests): $rss_idle kB"
    log "verifying each of the $SCALE_KEYS keys once (each a cache miss: HMAC + database lookup)"
    drive_each_key_once first_use_1M "$keys"
    sleep 6 # let the usage flush (every 5 s) write last-use facts
    local rss_keys
    rss_keys=$(rss_kb "$SPID")
    log "RSS after $SCALE_KEYS distinct keys verified once: $rss_keys kB (peak $(hwm_kb "$SPID") kB)"
    log "verification latency: random keys of the first 10,000 (warmed: each used once first)"
    drive_each_key_once warm_10k "$WORK/keys10k.txt"
    wrk_run scale me_random_10k "$base" "$SPID" "$CONNS" -- mode=keys path=/api/v1/me "keys=$WORK/keys10k.txt"
    log "verification latency: random keys of all $SCALE_KEYS"
    wrk_run scale me_random_1M "$base" "$SPID" "$CONNS" -- mode=keys path=/api/v1/me "keys=$keys"
    local rss_keys2
    rss_keys2=$(rss_kb "$SPID")
    log "RSS after random use of $SCALE_KEYS keys: $rss_keys2 kB (peak $(hwm_kb "$SPID") kB)"
    local last_page=$(((SCALE_LEADS + 24) / 25)) mid_page=$(((SCALE_LEADS / 25) / 2))
    log "leads with $SCALE_LEADS leads in one organization: one connection (latency = service time; page 1 also with $CONNS)"
    local lkeys=$WORK/secrets/leads_keys.txt c
    WRK_TIMEOUT=60s
    wrk_run scale list_page1_c1 "$base" "$SPID" 1 -- mode=keys "path=/api/v1/leads?limit=25" "keys=$lkeys"
    wrk_run scale "list_page1_c$CONNS" "$base" "$SPID" "$CONNS" -- mode=keys "path=/api/v1/leads?limit=25" "keys=$lkeys"
    wrk_run scale "list_page${mid_page}_c1" "$base" "$SPID" 1 -- mode=keys "path=/api/v1/leads?limit=25&page=$mid_page" "keys=$lkeys"
    wrk_run scale "list_page${last_page}_c1" "$base" "$SPID" 1 -- mode=keys "path=/api/v1/leads?limit=25&page=$last_page" "keys=$lkeys"
    wrk_run scale search_selective_c1 "$base" "$SPID" 1 -- mode=keys "path=/api/v1/leads/search?q=lead424242&limit=25" "keys=$lkeys"
    wrk_run scale search_broad_c1 "$base" "$SPID" 1 -- mode=keys "path=/api/v1/leads/search?q=company42&limit=25" "keys=$lkeys"
    WRK_TIMEOUT=5s
    local rss_leads
    rss_leads=$(rss_kb "$SPID")
    echo
    echo "== memory (VmRSS of the server process)"
    printf '  %-58s %8s kB\n' "idle, database seeded" "$rss_idle"
    printf '  %-58s %8s kB\n' "after $SCALE_KEYS distinct keys verified once" "$rss_keys"
    printf '  %-58s %8s kB\n' "after 10 s of random keys of all $SCALE_KEYS" "$rss_keys2"
    printf '  %-58s %8s kB\n' "after list/search runs over $SCALE_LEADS leads" "$rss_leads"
    printf '  %-58s %8s kB\n' "peak (VmHWM)" "$(hwm_kb "$SPID")"
}

mode_profile() {
    prepare
    command -v perf >/dev/null || apt_install linux-perf
    local base=https://127.0.0.1:$PORT
    runs_header
    # BENCH_PROFILE=leads profiles the cached lead list instead of random-key /api/v1/me.
    local what=${BENCH_PROFILE:-me} path=/api/v1/me keys=$WORK/secrets/keys.txt
    case "$what" in
    me) ;;
    leads) path="/api/v1/leads?limit=25" keys=$WORK/secrets/leads_keys.txt ;;
    *) die "BENCH_PROFILE must be me or leads" ;;
    esac
    log "warm-up"
    DURATION=5 wrk_run 0 "$what" "$base" "$SPID" "$CONNS" -- mode=keys "path=$path" "keys=$keys"
    log "perf record (cpu-clock, DWARF call graphs) during a ${DURATION}s $path run"
    perf record -e cpu-clock -F 1000 --call-graph dwarf,16384 -p "$SPID" -o "$RESULTS/perf.data" \
        -- sleep "$DURATION" >/dev/null 2>&1 &
    local perf_pid=$!
    wrk_run 1 "$what" "$base" "$SPID" "$CONNS" -- mode=keys "path=$path" "keys=$keys"
    wait "$perf_pid" || true
    perf report -i "$RESULTS/perf.data" --no-children --sort symbol --percent-limit 0.7 --stdio -g none \
        2>/dev/null | grep -v '^$' >"$RESULTS/perf-self.txt" || true
    perf report -i "$RESULTS/perf.data" --children --sort symbol --percent-limit 3 --stdio -g none \
        2>/dev/null | grep -v '^$' >"$RESULTS/perf-children.txt" || true
    echo
    echo "== perf: self time by function (top 40)"
    grep -E '^ +[0-9]' "$RESULTS/perf-self.txt" | head -40
    echo
    echo "== perf: inclusive time by function (top 40)"
    grep -E '^ +[0-9]' "$RESULTS/perf-children.txt" | head -40
    log "perf data and reports in $RESULTS"
}

# Instruction counts per request under callgrind: the server runs under valgrind (~50x slower),
# wrk keeps 4 connections busy for $DURATION s per scenario, and the counters are zeroed before
# and dumped after each scenario. Counts are user-space instructions only (the kernel's TCP work
# is not included) and do not depend on what else the machine is doing.
mode_callgrind() {
    prepare
    runs_header
    stop_server
    local out=$RESULTS/callgrind.out
    SERVER_WRAP="valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out"
    log "restarting the server under valgrind --tool=callgrind"
    start_server
    local base=https://127.0.0.1:$PORT keys=$WORK/secrets/keys.txt
    local saved=$CONNS
    CONNS=4
    log "warming the key cache: each of the $NKEYS keys once"
    drive_each_key_once warm "$keys"
    : >"$RESULTS/callgrind-labels.tsv"
    cg_run() {
        local label=$1 conns=$2
        shift 2
        callgrind_control -z "$SPID" >/dev/null
        local line
        line=$("${ON_CLIENT_CPU[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 60s -s "$LUA" "$base" -- "$@" 2>&1 | grep '^BENCH ' || true)
        callgrind_control -d "$label" "$SPID" >/dev/null
        printf '%s\t%s\n' "$label" "$(field requests "$line")" >>"$RESULTS/callgrind-labels.tsv"
        log "  $label: $(field requests "$line") requests (non-2xx $(field err_status "$line"))"
    }
    cg_run bare 4 mode=static path=/healthz
    cg_run me_one_key 4 mode=static path=/api/v1/me "key=$KEY1"
    cg_run me_random_keys 4 mode=keys path=/api/v1/me "keys=$keys"
    cg_run unauthorized 4 mode=static path=/api/v1/me "key=$UNKNOWN"
    cg_run leads 1 mode=keys "path=/api/v1/leads?limit=25" "keys=$WORK/secrets/leads_keys.txt"
    cg_run post_leads 4 mode=post path=/api/v1/leads "keys=$WORK/secrets/post_keys.txt" "run=$STAMP-cg"
    CONNS=$saved
    stop_server
    python3 - "$out" "$RESULTS/callgrind-labels.tsv" <<'PY'
import glob, re, subprocess, sys
out, labels = sys.argv[1], sys.argv[2]
reqs = dict(l.split("\t") for l in open(labels).read().splitlines() if l)
files = {}
for f in glob.glob(out + ".*"):
    text = open(f, errors="replace").read(4096)
    m = re.search(r"^desc: Trigger: dump (\S+)", text, re.M)
    if m:
        files[m.group(1)] = f
def total(f):
    for line in open(f, errors="replace"):
        if line.startswith("summary:"):
            return int(line.split()[1])
    return 0
print()
print("== instructions per request (callgrind, user space only)")
per = {}
for label in reqs:
    if label in files and int(reqs[label] or 0) > 0:
        per[label] = total(files[label]) / int(reqs[label])
        print(f"  {label:<16} {per[label]:>12,.0f}   ({reqs[label]} requests)")
def top(label, pattern, n):
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", files[label]],
                          capture_output=True, text=True).stdout
    seen, rows = set(), []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([\d.% ]+\)\s+)?(\S.*)$", line)
        if not m:
            continue
        name = re.sub(r" \[/[^\]]*\]$", "", m.group(2))
        fn = name.split(":", 1)[1] if ":" in name else name
        fn = re.sub(r" \(\d[\d,]*x\)$", "", fn)
        if fn in seen or not re.search(pattern, fn):
            continue
        seen.add(fn)
        rows.append((int(m.group(1).replace(",", "")) / int(reqs[label]), fn))
    for v, fn in sorted(rows, reverse=True)[:n]:
        print(f"  {v:>10,.0f}  {fn[:150]}")
interesting = (r"synaptiq|serde_json::ser|Json<T>|Pepper|sha2::|hmac|HdrName|HeaderMap|format_inner|"
               r"malloc|free|realloc|sqlx_core::query|sqlite3_step|hyper::proto::h1::role|rustls::conn|"
               r"ring::aead|ulid|metrics::")
for label in ("me_one_key", "me_random_keys", "leads", "post_leads"):
    if label in files:
        print()
        print(f"== {label}: inclusive instructions per request of selected functions")
        top(label, interesting, 30)
PY
}

log "synaptiq bench: mode $MODE; report in $RESULTS"
boost_session
case "$MODE" in
all) mode_all ;;
fixed) mode_fixed ;;
scale) mode_scale ;;
profile) mode_profile ;;
callgrind) mode_callgrind ;;
esac
