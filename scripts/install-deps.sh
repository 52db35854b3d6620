#!/usr/bin/env bash
# Installs the Debian 12 packages keel needs to build, run, test and benchmark.
# Idempotent: only missing packages are installed. Must run as root (or via sudo).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libuv1-dev node-llhttp libcurl4-openssl-dev libssl-dev libcjson-dev libyaml-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql-15 postgresql-client-15 libhiredis-dev libhyperscan-dev libpcre2-dev zlib1g-dev
  libcmocka-dev
  wrk nginx-light procps curl
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js (with npm) runs the real-client and UI tests; the machine image may carry a newer
# build than Debian's, so only install Debian's when no node is present at all.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
