#!/usr/bin/env bash
# The dashboard in a real browser (issue 8): builds the binary, then drives Debian's chromium
# with playwright-core (no browser download) through sign-in, create, rotate, Revoke Old Key
# and sign-out, checking each key against the API. Screenshots: target/browser-artifacts/.
# Installs chromium, chromium-driver, node/npm and the npm dependency when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if [ ! -d scripts/browser/node_modules/playwright-core ]; then
  (cd scripts/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build -p synaptiq --bin synaptiq
rm -rf target/browser-artifacts
mkdir -p target/browser-artifacts
SYNAPTIQ_BIN="$PWD/target/debug/synaptiq" CHROMIUM="$(command -v chromium)" \
  ARTIFACTS="$PWD/target/browser-artifacts" node scripts/browser/dashboard.mjs
