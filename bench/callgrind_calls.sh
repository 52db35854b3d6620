#!/usr/bin/env bash
# bench/callgrind_calls.sh: instructions per gateway call, per keel thread, under callgrind.
#
# Wall-clock CPU on this shared 2-core VM moves by 10-20% between runs; instruction counts do
# not, so small changes to the hot path are compared with this.  keel (tracing on, SQLite)
# runs under valgrind in front of `keel mock-upstream`; after a warm-up the counters are zeroed,
# N chat completions are sent over 4 keep-alive connections, and each thread's instructions
# are divided by N.  Model `plain` has no guardrails; `railed` has the policy of
# bench/guard_rails.sh (every in-process scanner kind).
#
# VARY=1: every call's user message ends differently; SYSTEM_FILE: the system prompt's text
# (default one sentence).  Both stay the same from call to call otherwise.  OBSERVE_CLEAN=false:
# the policy's observe_clean: false (clean rails write no GUARDRAIL observation; bench/lib.sh).
# SECURE_DELETE=false: trace.secure_delete: false.  CG_OUT=dir: keep the callgrind files there
# (cg.out.1-03 the writer, cg.out.1-04 the loop) for callgrind_annotate.  STREAM=1: streamed
# calls whose answer is bench/lib.sh's 1 KiB text in ~170 chunks (the stream cases of
# bench/guard_rails.sh); under valgrind keel is far behind the mock, so chunks come in bursts.
# Usage: [VARY=1] [SYSTEM_FILE=f] [OBSERVE_CLEAN=false] [SECURE_DELETE=false] [STREAM=1] bench/callgrind_calls.sh
#        [MODEL=plain|railed] [N=2000] [WORKERS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-plain}; N=${2:-2000}; WORKERS=${3:-1}
command -v valgrind >/dev/null || { echo "needs valgrind"; exit 1; }
. bench/lib.sh
P_MOCK=18121 P_KEEL=18122
start_mock $P_MOCK 1
rails_config $P_KEEL $P_MOCK "$WORKERS"
if [ "${STREAM:-}" = 1 ]; then answer1k "$TMP/answer1k.txt"; export ANSWER_FILE=$TMP/answer1k.txt; fi
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$TMP/cg.out" \
  "$KEEL" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" &
KEEL_PID=$!
pids+=($KEEL_PID)
# policies compile slowly under valgrind when the on-disk cache is cold
for _ in $(seq 3000); do curl -sf -o /dev/null "http://127.0.0.1:$P_KEEL/health" && break; sleep 0.2; done

send() { # calls
  node -e '
    const [n, port, model] = process.argv.slice(1);
    const http = require("http");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const system = process.env.SYSTEM_FILE ? require("fs").readFileSync(process.env.SYSTEM_FILE, "utf8") : "You are a helpful assistant.";
    let seq = 0;
    const stream = process.env.STREAM === "1";
    const headers = { "content-type": "application/json" };
    if (stream) headers["x-mock-content"] = require("fs").readFileSync(process.env.ANSWER_FILE, "utf8").split("\n")[0];
    const bodyOf = () => JSON.stringify({ model, stream, messages: [{ role: "system", content: system },
      { role: "user", content: "Give me one short sentence about the sea." + (process.env.VARY === "1" ? ` (request ${++seq})` : "") }] });
    let left = +n, inflight = 0;
    const one = () => new Promise((ok, bad) => {
      const r = http.request({ host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", agent,
        headers }, (res) => {
        res.resume(); res.on("end", () => (res.statusCode === 200 ? ok() : bad(new Error("status " + res.statusCode))));
      });
      r.on("error", bad); r.end(bodyOf());
    });
    const worker = async () => { while (left > 0) { left--; await one(); } };
    Promise.all([worker(), worker(), worker(), worker()]).then(() => agent.destroy(), (e) => { console.error(e); process.exit(1); });
  ' "$1" "$P_KEEL" "$MODEL"
}
send 200
callgrind_control -z "$KEEL_PID" >/dev/null 2>&1
send "$N"
callgrind_control -d "$KEEL_PID" >/dev/null 2>&1
sleep 1
echo "# instructions per call, model $MODEL, $N calls, $WORKERS loop(s), $(git rev-parse --short HEAD 2>/dev/null)"
total=0
for f in "$TMP"/cg.out.1-*; do
  ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  # a thread that ran nothing while collecting has no totals line ("." or empty)
  [[ "$ir" =~ ^[0-9]+$ ]] && [ "$ir" -gt $((N * 200)) ] || continue
  # callgrind numbers threads in creation order: 01 main, 02 keel-ckpt, 03 keel-writer, 04 keel-loop0, ...
  echo "thread ${f##*-}: $(awk -v t="$ir" -v n="$N" 'BEGIN { printf "%.1fk", t / n / 1000 }')"
  total=$((total + ir))
done
awk -v t="$total" -v n="$N" 'BEGIN { printf "all threads: %.1fk\n", t / n / 1000 }'
if [ -n "${CG_OUT:-}" ]; then mkdir -p "$CG_OUT" && cp "$TMP"/cg.out.1-* "$CG_OUT"/; fi
