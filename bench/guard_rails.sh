#!/usr/bin/env bash
# bench/guard_rails.sh: gateway throughput with guardrails on vs off, side by side in one run.
#
# One keel (tracing on) in front of `keel mock-upstream`, two public names for the same
# upstream: `plain` (no policy) and `railed` (every in-process scanner kind on: input pii,
# secrets, injection, banned, topics, invisible, token_limit; output pii, secrets, canary,
# refusal, urls, banned).  wrk alternates between them (off, on, off, on) so drift on this
# shared 2-core machine hits both alike; the report is railed / plain throughput, for a short
# prompt and for a ~4 KiB one, non-streamed and streamed.  Throughput on this shared machine
# drifts with whatever else runs; keel's CPU per request (user+sys of all its threads, loop and
# trace writer, over the requests served) is the steadier figure and is printed too.
# Usage: bench/guard_rails.sh [SECONDS per run, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
command -v wrk >/dev/null || { echo "needs wrk (make deps)"; exit 1; }
. bench/lib.sh
P_MOCK=18111 P_KEEL=18112
start_mock $P_MOCK 1
rails_config $P_KEEL $P_MOCK 1
"$KEEL" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" &
pids+=($!)
KEEL_PID=$!
for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$P_KEEL/health" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$P_KEEL/health" || { cat "$TMP/keel.log"; exit 1; }

# a ~4 KiB prompt of ordinary prose with a few entities, JSON-escaped for chat.lua
python3 - "$TMP/prompt4k.txt" <<'PY'
import json, sys
para = ("Our quarterly review covered onboarding, the migration of the billing service and the "
        "support backlog. Contact the team lead at maria.lopez@example.org or +44 20 7946 0958 "
        "if anything is unclear; the staging host is 10.20.30.40. ")
text = (para * 40)[:4096]
open(sys.argv[1], "w").write(json.dumps(text)[1:-1])
PY

keel_ticks() { awk '{print $14 + $15}' "/proc/$KEEL_PID/stat"; }
TICK=$(getconf CLK_TCK)
run() {  # model prompt_file stream -> "req/s us-of-keel-CPU-per-request"
  local t0 t1 out
  t0=$(keel_ticks)
  out=$(MODEL=$1 PROMPT_FILE=$2 STREAM=$3 wrk -t1 -c32 -d"${SECS}s" -s bench/chat.lua \
    "http://127.0.0.1:$P_KEEL/v1/chat/completions" 2>/dev/null | grep '^RESULT')
  t1=$(keel_ticks)
  echo "$out" | awk -v d=$((t1 - t0)) -v tick="$TICK" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s %.1f\n", v["rps"], v["requests"] ? d / tick * 1e6 / v["requests"] : 0 }'
}
printf "%-26s %12s %12s %8s %14s %14s\n" "case" "off req/s" "on req/s" "on/off" "off CPU us/req" "on CPU us/req"
for prompt in "" "$TMP/prompt4k.txt"; do
  for stream in 0 1; do
    name="$( [ -z "$prompt" ] && echo short || echo 4KiB ) $( [ "$stream" = 1 ] && echo stream || echo json )"
    off1=$(run plain "$prompt" $stream); on1=$(run railed "$prompt" $stream)
    off2=$(run plain "$prompt" $stream); on2=$(run railed "$prompt" $stream)
    echo "$off1 $on1 $off2 $on2" | awk -v n="$name" '{
      off = ($1 + $5) / 2; on = ($3 + $7) / 2
      printf "%-26s %12.0f %12.0f %8.3f %14.1f %14.1f\n", n, off, on, on / off, ($2 + $6) / 2, ($4 + $8) / 2 }'
  done
done
