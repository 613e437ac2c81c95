#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time when a nightly toolchain and cargo-fuzz are
# present (skips with a note otherwise). New inputs go to a scratch directory, so the committed
# corpora (fuzz/corpus/<target>, replayed on stable by `cargo test`) stay as they are; a crash
# fails the script and is saved under fuzz/artifacts/<target>/. See fuzz/README.md.
#
# Usage: scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${1:-60}

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly' || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: skipped (needs a nightly toolchain and cargo-fuzz; see fuzz/README.md)"
  exit 0
fi

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
cargo +nightly fuzz build -O
for target in auth_header json_bodies query_params; do
  mkdir -p "$SCRATCH/$target"
  cargo +nightly fuzz run -O "$target" "$SCRATCH/$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -dict="dicts/$target.dict" -max_len=4096 \
    -print_final_stats=1 2>&1 | grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)|ERROR|panicked' \
    | sed "s/^/fuzz $target: /"
done
