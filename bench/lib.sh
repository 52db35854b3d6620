# bench/lib.sh: what the keel-and-mock benchmark scripts share.  Source it after `cd` to the
# repository root; it sets KEEL (KEEL_BIN or ./build/keel), TMP (removed on exit), pids (killed
# on exit), and defines start_mock PORT WORKERS and rails_config KEEL_PORT MOCK_PORT WORKERS.
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
# $TMP/keel.yaml with two deployments of the mock: `plain` (no guardrails) and `railed` (the
# policy of bench/rails_policy.yaml, every in-process scanner kind); both pass x-mock-* headers
# (x-mock-content: the answer) to the mock.  OBSERVE_CLEAN=false sets the policy's
# observe_clean: false (clean rails are not GUARDRAIL observations); SECURE_DELETE=false sets
# trace.secure_delete: false (SQLite no longer zeroes the bytes it frees).
rails_config() {
  cat >"$TMP/keel.yaml" <<YAML
listen: 127.0.0.1:$1
data_dir: $TMP/keel-data
workers: $3
log_level: warn
trace: {secure_delete: ${SECURE_DELETE:-true}}
$(grep -v '^#' bench/rails_policy.yaml | sed "s/^      canary: true$/&\n      observe_clean: ${OBSERVE_CLEAN:-true}/")
models:
  - {name: plain, provider: openai, base_url: "http://127.0.0.1:$2/v1", api_key: sk-bench, forward_headers: ["x-mock-*"]}
  - {name: railed, provider: openai, base_url: "http://127.0.0.1:$2/v1", api_key: sk-bench, forward_headers: ["x-mock-*"],
     guardrails: everything}
YAML
}
