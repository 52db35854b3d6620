# bench/lib.sh: what the keel-and-mock benchmark scripts share.  Source it after `cd` to the
# repository root; it sets KEEL (KEEL_BIN or ./build/keel), TMP (removed on exit), pids (killed
# on exit), and defines start_mock PORT WORKERS, rails_config KEEL_PORT MOCK_PORT WORKERS and
# answer1k FILE.
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
# answer1k FILE: the 1 KiB answer of the stream cases (plain prose, no entities), which the
# mock sends in ~170 chunks (bench/guard_rails.sh, bench/ab_stream.sh).
answer1k() {
  python3 - "$1" <<'PY'
import sys
text = ("The sea covers most of the planet and moves in tides that follow the moon. Waves carry the "
        "energy of distant storms across whole oceans before they break on a beach, and the water "
        "itself barely travels at all. Near the surface sunlight feeds plankton that feed almost "
        "everything else; far below it is dark, cold and still. Sailors learned to read the swell, "
        "the colour of the water and the birds long before they had charts. ")
open(sys.argv[1], "w").write((text * 4)[:1024] + "\n")
PY
}
