# bench/lib.sh: what the keel-and-mock benchmark scripts share.  Source it after `cd` to the
# repository root; it sets KEEL (KEEL_BIN or ./build/keel), TMP (removed on exit), pids (killed
# on exit), and defines start_mock PORT WORKERS.
KEEL=${KEEL_BIN:-./build/keel}
[ -x "$KEEL" ] || { echo "build first: make build"; exit 1; }
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
start_mock() { # port workers
  "$KEEL" mock-upstream --listen "127.0.0.1:$1" --workers "$2" --log-level warn 2>"$TMP/mock.log" &
  pids+=($!)
}
