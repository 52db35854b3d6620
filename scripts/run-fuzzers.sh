#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, on its seed corpus in fuzz/corpus/<name>.
# A crash, leak or sanitizer report fails the run.
set -euo pipefail
dir=${1:-build-fuzz}; secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
n=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  seeds="$root/fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1 || {
    echo "fuzz: $name FAILED"; tail -50 "$work.log"; exit 1; }
  rm -rf "$work" "$work.log"
  n=$((n+1))
done
echo "fuzz: $n targets ran clean"
