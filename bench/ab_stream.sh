#!/usr/bin/env bash
# bench/ab_stream.sh: two keel binaries side by side on streamed chat calls, in one run.
#
# For a change to the streaming path: keel A and keel B (e.g. before and after) take turns in
# front of the same `keel mock-upstream`, ROUNDS times, each turn SECS seconds of wrk (32
# connections) after a 2 s warm-up, on the two models of bench/guard_rails.sh: `plain` (no
# policy) and `railed` (every in-process scanner).  The answer is bench/guard_rails.sh's 1 KiB
# text in ~170 chunks.  Each line gives req/s and keel's CPU per request (user+sys of all its
# threads over the requests served; steadier than req/s on this shared machine); the summary
# gives B/A of the medians.
# Usage: [SECS=5] [ROUNDS=3] bench/ab_stream.sh KEEL_A KEEL_B
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 KEEL_A KEEL_B"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
SECS=${SECS:-5} ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null || { echo "needs wrk (make deps)"; exit 1; }
KEEL_BIN=$A . bench/lib.sh
P_MOCK=18131 P_KEEL=18132
start_mock $P_MOCK 1
rails_config $P_KEEL $P_MOCK 1
answer1k "$TMP/answer1k.txt"
TICK=$(getconf CLK_TCK)
turn() {  # binary model -> "req/s cpu-us-per-request"
  "$1" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" &
  local pid=$! t0 t1 out
  for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$P_KEEL/health" && break; sleep 0.1; done
  MODEL=$2 STREAM=1 ANSWER_FILE=$TMP/answer1k.txt wrk -t1 -c32 -d2s -s bench/chat.lua \
    "http://127.0.0.1:$P_KEEL/v1/chat/completions" >/dev/null 2>&1
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(MODEL=$2 STREAM=1 ANSWER_FILE=$TMP/answer1k.txt wrk -t1 -c32 -d"${SECS}s" -s bench/chat.lua \
    "http://127.0.0.1:$P_KEEL/v1/chat/completions" 2>/dev/null | grep '^RESULT')
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$TMP/keel-data"
  echo "$out" | awk -v d=$((t1 - t0)) -v tick="$TICK" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s %.1f\n", v["rps"], v["requests"] ? d / tick * 1e6 / v["requests"] : 0 }'
}
printf "%-6s %-7s %-2s %10s %16s\n" round model "" "req/s" "keel CPU us/req"
for r in $(seq "$ROUNDS"); do
  for m in plain railed; do
    for side in A B; do
      bin=$A; [ $side = B ] && bin=$B
      read -r rps cpu <<<"$(turn "$bin" $m)"
      printf "%-6s %-7s %-2s %10s %16s\n" "$r" "$m" "$side" "$rps" "$cpu" | tee -a "$TMP/rows"
    done
  done
done
for m in plain railed; do
  awk -v m=$m '$2 == m { n[$3]++; r[$3, n[$3]] = $4; c[$3, n[$3]] = $5 }
    function med(arr, s, k,   i, j, t, x) { for (i = 1; i <= k; i++) x[i] = arr[s, i]
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
      return k % 2 ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }
    END { printf "%s: B/A req/s %.2f, B/A keel CPU per request %.2f (medians of %d)\n", m,
          med(r, "B", n["B"]) / med(r, "A", n["A"]), med(c, "B", n["B"]) / med(c, "A", n["A"]), n["A"] }' "$TMP/rows"
done
