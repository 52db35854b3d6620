#!/bin/sh
# ingest_http.sh KEEL_BINARY [N] [C] (BATCH=n sets trace.batch_max): a fresh data dir, a key, keel serve, the load, the writer's CPU.
bin=$1; N=${2:-120}; C=${3:-4}
d=$(mktemp -d /tmp/kl-http-XXXXXX)
key=$($bin keys create --data-dir $d --json 2>/dev/null)
pk=$(echo "$key" | python3 -c 'import json,sys;print(json.load(sys.stdin)["public_key"])')
sk=$(echo "$key" | python3 -c 'import json,sys;print(json.load(sys.stdin)["secret_key"])')
port=$((20000 + $$ % 10000))
if [ -n "$BATCH" ]; then printf 'trace:\n  batch_max: %s\n' $BATCH > $d.yaml; cfg="--config $d.yaml"; fi
$bin serve --listen 127.0.0.1:$port --data-dir $d $cfg >$d/log 2>&1 &
pid=$!
sleep 1
node "$(dirname "$0")/ingest_http.mjs" http://127.0.0.1:$port $pk $sk $d/keel.db $N $C
# CPU of keel's threads (utime+stime, clock ticks) by name
for t in /proc/$pid/task/*; do awk '{printf "%.2f ", ($14+$15)/100}' $t/stat; done; echo "(CPU s per keel thread)"
echo "written by keel: $(awk '/^wchar/ {printf "%.1f KB/span", $2/1024/'$((N*512))'}' /proc/$pid/io)"
kill $pid; wait $pid 2>/dev/null
[ -n "$KEEP" ] && echo "kept $d" || rm -rf $d $d.yaml
