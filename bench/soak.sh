#!/usr/bin/env bash
# bench/soak.sh: keel's resident memory under steady load.  Runs keel (tracing on) in front of
# the mock upstream at RATE req/s (half of them streamed) for SECONDS, sampling RSS every 10 s.
# Usage: bench/soak.sh [SECONDS=600] [RATE=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}; RATE=${2:-1000}
KEEL=${KEEL_BIN:-./build/keel}
TMP=$(mktemp -d)
P_MOCK=18201 P_KEEL=18202
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
"$KEEL" mock-upstream --listen 127.0.0.1:$P_MOCK --log-level warn 2>/dev/null & pids+=($!)
cat >"$TMP/keel.yaml" <<YAML
listen: 127.0.0.1:$P_KEEL
data_dir: $TMP/data
log_level: warn
models:
  - {name: gpt-4o-mini, provider: openai, base_url: "http://127.0.0.1:$P_MOCK/v1", api_key: sk-soak}
YAML
"$KEEL" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" & KEEL_PID=$!; pids+=($KEEL_PID)
sleep 0.5
half=$((RATE / 2))
RATE=$half CONNS=10 wrk -t1 -c10 -d"${SECS}s" -s bench/chat.lua "http://127.0.0.1:$P_KEEL/v1/chat/completions" >"$TMP/w1" 2>&1 & pids+=($!)
STREAM=1 RATE=$half CONNS=10 wrk -t1 -c10 -d"${SECS}s" -s bench/chat.lua "http://127.0.0.1:$P_KEEL/v1/chat/completions" >"$TMP/w2" 2>&1 & pids+=($!)
echo "# soak: $RATE req/s for ${SECS}s; RSS of keel in KiB every 10 s"
samples=()
for ((t = 0; t <= SECS; t += 10)); do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$KEEL_PID/status)
  samples+=("$rss")
  echo "t=${t}s rss=${rss}"
  sleep 10
done
wait "${pids[2]}" "${pids[3]}" 2>/dev/null || true
grep RESULT "$TMP/w1" "$TMP/w2" || true
n=${#samples[@]}
printf 'first=%s KiB  at 1/4=%s KiB  last=%s KiB\n' "${samples[0]}" "${samples[$((n / 4))]}" "${samples[$((n - 1))]}"
curl -s "http://127.0.0.1:$P_KEEL/metrics" | grep -E '^keel_trace_observations_total|^keel_trace_queue_depth' || true
