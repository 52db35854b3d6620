#!/usr/bin/env bash
# bench/run.sh: keel vs nginx vs the bare mock upstream, side by side, in one run.
#
#   (a) wrk -> keel mock-upstream                      (the floor: no proxy at all)
#   (b) wrk -> keel (tracing on, SQLite) -> mock        (what we ship)
#   (c) wrk -> nginx proxy_pass (keep-alive) -> mock    (the minimal-proxy reference)
#   (d) wrk -> keel with tracing off -> mock            (max throughput only: what the trace
#                                                        store costs, next to (b))
#
# For each: maximum throughput (wrk -c64), then latency at fixed rates (1k and 5k req/s,
# paced with wrk's delay()), and the latency keel and nginx add over (a).  All three share
# this machine's cores with wrk, so compare ratios, not absolute numbers.
# Usage: bench/run.sh [SECONDS per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
KEEL=${KEEL_BIN:-./build/keel}
WORKERS=${WORKERS:-2}
[ -x "$KEEL" ] || { echo "build first: make build"; exit 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "needs wrk and nginx (make deps)"; exit 1; }
TMP=$(mktemp -d)
P_MOCK=18101 P_KEEL=18102 P_NGINX=18103 P_NOTRACE=18104
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$KEEL" mock-upstream --listen 127.0.0.1:$P_MOCK --workers "$WORKERS" --log-level warn 2>"$TMP/mock.log" &
pids+=($!)
cat >"$TMP/keel.yaml" <<YAML
listen: 127.0.0.1:$P_KEEL
data_dir: $TMP/keel-data
workers: $WORKERS
log_level: warn
models:
  - name: gpt-4o-mini
    provider: openai
    base_url: http://127.0.0.1:$P_MOCK/v1
    api_key: sk-bench
YAML
"$KEEL" serve --config "$TMP/keel.yaml" 2>"$TMP/keel.log" &
KEEL_PID=$!
pids+=($KEEL_PID)
sed -e "s/:$P_KEEL\$/:$P_NOTRACE/" -e "s|keel-data|keel-data-notrace|" "$TMP/keel.yaml" >"$TMP/keel-notrace.yaml"
printf 'trace:\n  enabled: false\n' >>"$TMP/keel-notrace.yaml"
"$KEEL" serve --config "$TMP/keel-notrace.yaml" 2>"$TMP/keel-notrace.log" &
NOTRACE_PID=$!
pids+=($NOTRACE_PID)
cat >"$TMP/nginx.conf" <<NGINX
worker_processes $WORKERS;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx-body;
  proxy_temp_path $TMP/nginx-proxy;
  fastcgi_temp_path $TMP/nginx-fcgi;
  uwsgi_temp_path $TMP/nginx-uwsgi;
  scgi_temp_path $TMP/nginx-scgi;
  upstream mock { server 127.0.0.1:$P_MOCK; keepalive 128; }
  server {
    listen 127.0.0.1:$P_NGINX;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP" -g 'daemon on;'
for p in $P_MOCK $P_KEEL $P_NGINX $P_NOTRACE; do
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$p/health" -X GET 2>/dev/null && break; \
    curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null && break; sleep 0.05; done
done

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU seconds (user+sys) used so far by a process and its threads / by all nginx workers
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
nginx_cpu_s() { local t=0; for p in $(pgrep -f "nginx: worker process"); do t=$(awk -v a="$t" -v b="$(cpu_s "$p")" 'BEGIN{print a+b}'); done; echo "$t"; }
MOCK_PID=${pids[0]}
run() { # name url conns rate
  local out
  out=$(RATE=$4 CONNS=$3 wrk -t2 -c"$3" -d"${SECS}s" --latency -s bench/chat.lua "$2/v1/chat/completions" 2>&1 | grep RESULT)
  echo "$1 $out"
}

declare -A R CPU CPUMOCK
echo "# keel bench: $(date -u +%FT%TZ), $(nproc) cores, ${SECS}s per run, $WORKERS workers each"
echo "keel RSS at start: $(rss_kb $KEEL_PID) KiB"
proxy_cpu() { case $1 in keel) cpu_s $KEEL_PID ;; notrace) cpu_s $NOTRACE_PID ;; nginx) nginx_cpu_s ;; *) echo 0 ;; esac; }
for target in mock:$P_MOCK keel:$P_KEEL nginx:$P_NGINX notrace:$P_NOTRACE; do
  name=${target%%:*}; port=${target##*:}
  curl -s -o /dev/null -X POST -H 'content-type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"warm"}]}' "http://127.0.0.1:$port/v1/chat/completions"
  c0=$(cpu_s $MOCK_PID); p0=$(proxy_cpu $name)
  R[$name.max]=$(run "$name" "http://127.0.0.1:$port" 64 0)
  c1=$(cpu_s $MOCK_PID); p1=$(proxy_cpu $name)
  reqs=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"${R[$name.max]}")
  CPU[$name]=$(awk -v a="$p0" -v b="$p1" -v n="$reqs" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
  CPUMOCK[$name]=$(awk -v a="$c0" -v b="$c1" -v n="$reqs" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
  [ $name = notrace ] && continue
  R[$name.1k]=$(run "$name" "http://127.0.0.1:$port" 10 1000)
  R[$name.5k]=$(run "$name" "http://127.0.0.1:$port" 20 5000)
done
echo "keel RSS at end: $(rss_kb $KEEL_PID) KiB"

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
printf '\n| target | max req/s | p50 @max (us) | p99 @max (us) | req/s @1k | p50 @1k | p99 @1k | req/s @5k | p50 @5k | p99 @5k | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n'
for n in mock keel nginx; do
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" \
    "$(field "${R[$n.max]}" rps)" "$(field "${R[$n.max]}" p50_us)" "$(field "${R[$n.max]}" p99_us)" \
    "$(field "${R[$n.1k]}" rps)" "$(field "${R[$n.1k]}" p50_us)" "$(field "${R[$n.1k]}" p99_us)" \
    "$(field "${R[$n.5k]}" rps)" "$(field "${R[$n.5k]}" p50_us)" "$(field "${R[$n.5k]}" p99_us)" \
    "$(( $(field "${R[$n.max]}" errors) + $(field "${R[$n.max]}" non2xx) + $(field "${R[$n.1k]}" non2xx) + $(field "${R[$n.5k]}" non2xx) ))"
done
echo
echo "CPU per request at max throughput (user+sys, all threads): keel ${CPU[keel]} us, nginx ${CPU[nginx]} us (the mock behind them: ${CPUMOCK[keel]} / ${CPUMOCK[nginx]} us, alone ${CPUMOCK[mock]} us)"
k=$(field "${R[keel.max]}" rps); g=$(field "${R[nginx.max]}" rps)
echo
awk -v k="$k" -v g="$g" 'BEGIN { printf "throughput keel/nginx = %.2f\n", k / g }'
nt=$(field "${R[notrace.max]}" rps)
awk -v k="$nt" -v g="$g" -v c="${CPU[notrace]}" 'BEGIN { printf "keel with tracing off: %.0f req/s, %s us CPU per request; keel (tracing off)/nginx = %.2f\n", k, c, k / g }'
for r in 1k 5k; do
  for n in keel nginx; do
    awk -v n="$n" -v r="$r" -v a50="$(field "${R[$n.$r]}" p50_us)" -v a99="$(field "${R[$n.$r]}" p99_us)" \
        -v b50="$(field "${R[mock.$r]}" p50_us)" -v b99="$(field "${R[mock.$r]}" p99_us)" \
        'BEGIN { printf "added latency %s @%s: p50 %+d us, p99 %+d us\n", n, r, a50 - b50, a99 - b99 }'
  done
done
traces=$(curl -s "http://127.0.0.1:$P_KEEL/metrics" | sed -n 's/^keel_trace_observations_total{state="submitted"} //p')
echo "keel traced $traces calls during the run"
