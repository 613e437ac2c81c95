#!/usr/bin/env bash
# Dependencies point inward: core <- types <- store <- app <- server <- dashboard <- binary (HOUSE.md).
# Fails when an inner crate pulls in an outer framework.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # crate, forbidden dependencies...
  local crate=$1; shift
  local deps
  deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)
  for bad in "$@"; do
    if grep -qx "$bad" <<<"$deps"; then
      echo "layering: $crate must not depend on $bad" >&2
      fail=1
    fi
  done
}
check synaptiq-core tokio axum sqlx reqwest hyper utoipa
check synaptiq-types sqlx axum hyper reqwest tokio
check synaptiq-store axum hyper reqwest
check synaptiq-app axum hyper reqwest tower
check synaptiq-dashboard reqwest
check synaptiq-webhooks axum
check synaptiq-client sqlx axum
[ "$fail" = 0 ] && echo "layering: ok"
exit "$fail"
