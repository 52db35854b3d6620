#!/usr/bin/env bash
# bench/guard_rails.sh: gateway throughput with guardrails on vs off, side by side in one run.
#
# One keel (tracing on) in front of `keel mock-upstream`, two public names for the same
# upstream: `plain` (no policy) and `railed` (every in-process scanner kind on: input pii,
# secrets, injection, banned, topics, invisible, token_limit; output pii, secrets, canary,
# refusal, urls, banned).  wrk alternates between them (off, on, off, on) so drift on this
# shared 2-core machine hits both alike; the report is railed / plain throughput, for a short
# prompt (the same every request, and one whose user message varies as real traffic's does),
# a 2 KiB system prompt with varying user messages (the system prompt repeats: the rails' memo
# of checked texts answers it, see kl_guard_check_memo) and a ~4 KiB prompt with PII (the same
# every request: the memo answers it with its findings, which are still rewritten and
# observed), non-streamed and streamed.  Throughput on this shared machine
# drifts with whatever else runs; keel's CPU per request (user+sys of all its threads, loop and
# trace writer, over the requests served) is the steadier figure and is printed too.
# OBSERVE_CLEAN=false runs the policy with observe_clean: false (only rails that find something
# are GUARDRAIL observations; docs/guardrails.md); SECURE_DELETE=false, trace.secure_delete:
# false (docs/configuration.md).
# Usage: [OBSERVE_CLEAN=false] [SECURE_DELETE=false] bench/guard_rails.sh [SECONDS per run, default 8]
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
answer1k "$TMP/answer1k.txt"
# a 2 KiB system prompt of assistant instructions (no entities: a rail finds nothing in it)
python3 - "$TMP/system2k.txt" <<'PY'
import json, sys
text = ("You are the support assistant of Northwind Billing, a software company that sells invoicing and "
        "subscription tools to small businesses. Answer questions about plans, invoices, payment methods, refunds, "
        "tax settings and integrations. Keep answers short: two to four sentences, plain language, no marketing "
        "tone. When a question needs account data you do not have, say what the customer should check in the "
        "dashboard (Settings, then Billing, then Invoices) instead of guessing. Plans: Starter is for one user and "
        "up to fifty invoices a month; Team adds five users, recurring invoices and reminders; Business adds "
        "unlimited users, approval flows, custom fields and priority support. Prices are shown in the dashboard in "
        "the customer's currency; do not quote prices from memory. Refunds: annual plans can be refunded within "
        "thirty days of purchase, monthly plans are not refunded but can be cancelled at any time and stay active "
        "until the end of the period. Payment methods: cards, bank transfer for Business plans, and direct debit in "
        "supported regions. Tax: the customer sets their tax rates per product or per invoice; we do not give tax "
        "advice, suggest they ask an accountant. Integrations: accounting exports, a payments connector, a calendar "
        "sync and a public API with webhooks; the developer documentation covers authentication, rate limits and "
        "event types. If a customer is upset, acknowledge the problem first, then give the next concrete step. ")
text = (text * 2)[:2048]
open(sys.argv[1], "w").write(json.dumps(text)[1:-1])
PY

keel_ticks() { awk '{print $14 + $15}' "/proc/$KEEL_PID/stat"; }
TICK=$(getconf CLK_TCK)
run() {  # model prompt_file stream system_file vary answer_file -> "req/s us-of-keel-CPU-per-request"
  local t0 t1 out
  t0=$(keel_ticks)
  out=$(MODEL=$1 PROMPT_FILE=$2 STREAM=$3 SYSTEM_FILE=$4 VARY=$5 ANSWER_FILE=$6 wrk -t1 -c32 -d"${SECS}s" -s bench/chat.lua \
    "http://127.0.0.1:$P_KEEL/v1/chat/completions" 2>/dev/null | grep '^RESULT')
  t1=$(keel_ticks)
  echo "$out" | awk -v d=$((t1 - t0)) -v tick="$TICK" '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%s %.1f\n", v["rps"], v["requests"] ? d / tick * 1e6 / v["requests"] : 0 }'
}
# cases: name, user prompt file ("": one sentence), stream, system prompt file ("": one
# sentence), vary (1: every request's user message ends differently, as in real traffic; the
# system prompt stays the same, as it does), answer file ("": the mock's own ~100-byte answer).
# The streams carry a 1 KiB answer in ~170 chunks: the mock's own answer fits in the rails'
# 128-byte hold-back, so a railed stream of it reached the client as one event and ran faster
# than the plain one, which forwards every chunk as it arrives.
cases=(
  "short json||0|||"
  "short json, user varies||0||1|"
  "2KiB system json, user varies||0|$TMP/system2k.txt|1|"
  "short stream, 1KiB answer||1|||$TMP/answer1k.txt"
  "4KiB json|$TMP/prompt4k.txt|0|||"
  "4KiB stream, 1KiB answer|$TMP/prompt4k.txt|1|||$TMP/answer1k.txt"
)
printf "%-34s %12s %12s %8s %14s %14s\n" "case" "off req/s" "on req/s" "on/off" "off CPU us/req" "on CPU us/req"
for c in "${cases[@]}"; do
  IFS='|' read -r name prompt stream system vary answer <<<"$c"
  off1=$(run plain "$prompt" "$stream" "$system" "$vary" "$answer")
  on1=$(run railed "$prompt" "$stream" "$system" "$vary" "$answer")
  off2=$(run plain "$prompt" "$stream" "$system" "$vary" "$answer")
  on2=$(run railed "$prompt" "$stream" "$system" "$vary" "$answer")
  echo "$off1 $on1 $off2 $on2" | awk -v n="$name" '{
    off = ($1 + $5) / 2; on = ($3 + $7) / 2
    printf "%-34s %12.0f %12.0f %8.3f %14.1f %14.1f\n", n, off, on, on / off, ($2 + $6) / 2, ($4 + $8) / 2 }'
done
