#!/usr/bin/env bash
# External conformance: schemathesis attacks the real binary over real TLS from its own OpenAPI
# document, with three identities (organization A live admin, organization A test admin,
# organization B live admin) so `object_level_authorization` hunts cross-organization and
# cross-environment reads.
#
# Required result: 0 server errors, 0 schema/status violations, 0 authorization findings.
# The last two lines of output are the request count and the findings count; the exit status
# is non-zero on any finding.
#
# Environment (optional): SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_EXAMPLES, SCHEMATHESIS_MIN_REQUESTS,
# SCHEMATHESIS_KEEP=1 (keep the work directory: HAR/JSON reports, server logs; kept anyway on
# failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
VERSION=4.32.5
SEED=${SCHEMATHESIS_SEED:-20261128}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-450}
MIN_REQUESTS=${SCHEMATHESIS_MIN_REQUESTS:-5000}

# --- what a fresh machine lacks ----------------------------------------------------------------
need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v jq >/dev/null || need_apt+=(jq)
if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need_apt+=(python3 python3-venv python3-pip)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- schemathesis, pinned, in the git-ignored venv --------------------------------------------
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qx "schemathesis, version $VERSION"; then
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
fi

# --- the real binary ----------------------------------------------------------------------------
cargo build -q -p synaptiq --bin synaptiq
BIN=$ROOT/target/debug/synaptiq

WORK=$(mktemp -d)
SERVER_PID=
MINT_PID=
cleanup() {
  if [ -n "$MINT_PID" ]; then kill "$MINT_PID" 2>/dev/null || true; wait "$MINT_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${SCHEMATHESIS_KEEP:-0}" = 1 ]; then
    echo "schemathesis: work directory kept at $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT INT TERM

DATA=$WORK/data
mkdir -p "$DATA"
# A policy that never rate-limits the run (keys and the failed-authentication throttle).
printf '[plans.starter]\nread = 100000000\nwrite = 100000000\nadmin = 100000000\n[auth_failures]\nper_minute = 100000000\n' \
  >"$WORK/policy.toml"

"$BIN" --data-dir "$DATA" serve --listen 127.0.0.1:0 --rate-policy "$WORK/policy.toml" \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

PORT=
for _ in $(seq 1 600); do
  PORT=$(sed -n 's|^Synaptiq listening on https://127\.0\.0\.1:\([0-9]*\) (sqlite storage)$|\1|p' "$WORK/server.out")
  [ -n "$PORT" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "schemathesis: the server exited before listening:" >&2
    cat "$WORK/server.out" "$WORK/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "schemathesis: the server did not report its port within 60 s" >&2
  exit 1
fi
CERT=$(sed -n 's|^Generated a self-signed TLS certificate: \(.*\)$|\1|p' "$WORK/server.out")
[ -f "$CERT" ] || { echo "schemathesis: no certificate path in the server output" >&2; exit 1; }
BASE=https://127.0.0.1:$PORT

# --- three identities ---------------------------------------------------------------------------
# The run manages keys with admin keys, so sooner or later it revokes, rotates, deletes or
# IP-restricts the very key it calls with (it reads that key's id from GET /api/v1/me). With
# fixed headers the rest of the run would be 401s. So each identity "logs in" through a small
# local helper that mints a fresh admin key with the CLI: schemathesis logs in again on a 401
# and every few seconds, and an identity always has a working key.
org() { "$BIN" --data-dir "$DATA" org create --name "$1" --plan starter --json | jq -er .id; }
ORG_A=$(org "Schemathesis A")
ORG_B=$(org "Schemathesis B")

cat >"$WORK/mint.py" <<'PY'
import json, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN, DATA, PORT_FILE, ORG_A, ORG_B = sys.argv[1:6]
IDENTITIES = {  # name -> (organization, environment)
    "org_a_live_admin": (ORG_A, "live"),
    "org_a_test_admin": (ORG_A, "test"),
    "org_b_live_admin": (ORG_B, "live"),
}


class Mint(BaseHTTPRequestHandler):
    def do_POST(self):
        who = IDENTITIES.get(self.path.rsplit("/", 1)[-1])
        if who is None:
            self.send_error(404)
            return
        org, env = who
        out = subprocess.run(
            [BIN, "--data-dir", DATA, "key", "create", "--org", org, "--scope", "admin",
             "--env", env, "--name", f"schemathesis {env}", "--json"],
            capture_output=True, check=True,
        ).stdout
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Mint)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
PY
"$VENV/bin/python" "$WORK/mint.py" "$BIN" "$DATA" "$WORK/mint.port" "$ORG_A" "$ORG_B" \
  2>"$WORK/mint.err" &
MINT_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/mint.port" ] && break; sleep 0.1; done
MINT=http://127.0.0.1:$(cat "$WORK/mint.port")

jq -n --arg mint "$MINT" '{
  schemaVersion: "0.1.0",
  authTemplate: {loginEndpointAuth: {verb: "POST", token: {
    extractFrom: "body", extractSelector: "/secret",
    sendIn: "header", sendName: "Authorization", sendTemplate: "Bearer {token}"}}},
  auth: [
    {name: "org_a_live_admin", loginEndpointAuth: {externalEndpointURL: ($mint + "/org_a_live_admin")}},
    {name: "org_a_test_admin", loginEndpointAuth: {externalEndpointURL: ($mint + "/org_a_test_admin")}},
    {name: "org_b_live_admin", loginEndpointAuth: {externalEndpointURL: ($mint + "/org_b_live_admin")}}
  ]}' >"$WORK/auth.json"
# `peers` (identities that must not see each other's objects) is only settable in the config file.
cat >"$WORK/schemathesis.toml" <<EOF
[auth.wfc]
path = "$WORK/auth.json"
refresh_interval = 5
peers = ["org_a_live_admin", "org_a_test_admin", "org_b_live_admin"]
EOF

# Each identity can log in and call the API before the run starts.
for who in org_a_live_admin org_a_test_admin org_b_live_admin; do
  key=$(curl -sf -X POST "$MINT/$who" | jq -er .secret)
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERT" "$BASE/api/v1/me" \
    -H "Authorization: Bearer $key" || true)
  [ "$code" = 200 ] || { echo "schemathesis: a minted $who key is refused ($code)" >&2; exit 1; }
done

# --- the run ------------------------------------------------------------------------------------
status=0
# From the work directory: schemathesis keeps its caches (.hypothesis, .schemathesis) in the cwd.
# The hooks teach the generator two rules JSON Schema cannot state (see the file).
(cd "$WORK" && SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py" "$VENV/bin/schemathesis" --no-color --config-file "$WORK/schemathesis.toml" run "$BASE/api/v1/openapi.json" \
  --tls-verify "$CERT" \
  --auth-wfc "$WORK/auth.json" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --workers 2 \
  --report json,har --report-json-path "$WORK/report.json" --report-har-path "$WORK/report.har") \
  || status=$?

# Requests: every interaction schemathesis recorded (the checks' own probes included).
requests=$(jq '.log.entries | length' "$WORK/report.har" 2>/dev/null || echo 0)
findings=$(jq '([.failures[].count] | add // 0) + ([.errors[].count] | add // 0)' \
  "$WORK/report.json" 2>/dev/null || echo unknown)
ok=1
if [ "$status" != 0 ] || [ "$findings" != 0 ]; then
  ok=0
  [ "$findings" = 0 ] && findings="unknown (schemathesis exited with $status)"
fi
if [ "$requests" -lt "$MIN_REQUESTS" ]; then
  echo "schemathesis: only $requests requests (at least $MIN_REQUESTS expected)" >&2
  ok=0
fi
[ "$ok" = 1 ] || SCHEMATHESIS_KEEP=1
echo "schemathesis requests: $requests"
echo "schemathesis findings: $findings"
[ "$ok" = 1 ]
