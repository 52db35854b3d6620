#!/usr/bin/env bash
# bench/stream_paced.sh: streams from an upstream that spaces its chunks, as a model does.
#
# bench/guard_rails.sh and bench/ab_stream.sh stream from a mock that sends a chunk per loop
# turn, so keel gets a stream's chunks in bursts.  A real model sends a token every few tens of
# milliseconds; keel then reads, checks and writes per chunk.  Here `keel mock-upstream`
# waits DELAY ms (default 2) between the ~170 chunks of bench/lib.sh's 1 KiB answer; wrk
# keeps 64 streams open on `plain` and `railed` (bench/guard_rails.sh's models), ROUNDS
# times, SECS seconds each.  Each line gives keel's user and system CPU per stream (from
# /proc over the turn); the end gives the output rail's mean windows per stream and their
# check time (its GUARDRAIL observations' metadata).
# Usage: [DELAY=2] [SECS=8] [ROUNDS=2] KEEL_BIN=... bench/stream_paced.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "needs wrk (make deps)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3"; exit 1; }
. bench/lib.sh
DELAY=${DELAY:-2} SECS=${SECS:-8} ROUNDS=${ROUNDS:-2}
P_MOCK=18161 P_KEEL=18162
"$KEEL" mock-upstream --listen 127.0.0.1:$P_MOCK --workers 1 --chunk-delay-ms "$DELAY" --log-level warn \
  2>"$TMP/mock.log" &
pids+=($!)
rails_config $P_KEEL $P_MOCK 1
answer1k "$TMP/answer1k.txt"
"$KEEL" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" &
pid=$!
pids+=($pid)
for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$P_KEEL/health" && break; sleep 0.1; done
TICK=$(getconf CLK_TCK)
printf "%-6s %-7s %8s %14s %14s\n" round model streams "user us/str" "system us/str"
for round in $(seq "$ROUNDS"); do
  for model in plain railed; do
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    out=$(MODEL=$model STREAM=1 ANSWER_FILE=$TMP/answer1k.txt wrk -t1 -c64 -d"${SECS}s" -s bench/chat.lua \
      "http://127.0.0.1:$P_KEEL/v1/chat/completions" 2>/dev/null | grep '^RESULT')
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    echo "$out" | awk -v r="$round" -v m="$model" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v tick="$TICK" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      n = v["requests"] ? v["requests"] : 1
      printf "%-6s %-7s %8d %14.0f %14.0f\n", r, m, v["requests"], u / tick * 1e6 / n, s / tick * 1e6 / n }'
  done
done
sleep 1.5  # the trace writer's last batch
db=$(ls "$TMP"/keel-data/*.db | head -1)
sqlite3 "$db" "SELECT printf('railed: %.1f windows per stream, %.0f us of checks in them',
  avg(json_extract(metadata, '$.stream_windows')), avg(json_extract(metadata, '$.stream_windows_us')))
  FROM observations WHERE name = 'guardrail.output'"
