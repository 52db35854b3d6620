#!/usr/bin/env bash
# pg-test.sh: a throwaway PostgreSQL server for the test suite (ctest's pg/ fixtures).
#   pg-test.sh start DIR [PORT]   initdb + start on 127.0.0.1 (a free port when PORT is
#                                 omitted); writes the server's URL to DIR/url
#   pg-test.sh stop DIR           stops it and removes DIR
#   pg-test.sh env DIR CMD...     runs CMD with KEEL_TEST_PG_URL=$(cat DIR/url)
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
# Durability is off (fsync, full_page_writes, synchronous_commit): the data is disposable.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR [PORT] | stop DIR | env DIR CMD..." >&2; exit 2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -n "$bindir" ] && PATH="$bindir:$PATH"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$cmd" in
start)
  port=${3:-}
  if [ -d "$dir/data" ]; then as_pg pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_pg initdb -A trust --no-sync -E UTF8 --locale=C -U postgres -D "$dir/data" >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # a port derived from DIR, so two build trees on one machine do not collide; next free one
  [ -n "$port" ] || port=$((20000 + $(printf %s "$dir" | cksum | cut -d' ' -f1) % 20000))
  for _ in $(seq 1 50); do
    if port_free "$port" && as_pg pg_ctl -w -t 30 -D "$dir/data" -l "$dir/log" -o \
      "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" \
      start >/dev/null; then
      echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
      echo "PostgreSQL for tests: $(cat "$dir/url")"
      exit 0
    fi
    port=$((port + 1))
  done
  echo "pg-test.sh: could not start PostgreSQL (see $dir/log)" >&2
  cat "$dir/log" >&2 || true
  exit 1
  ;;
stop)
  if [ -d "$dir/data" ]; then as_pg pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  ;;
env)
  shift 2
  KEEL_TEST_PG_URL=$(cat "$dir/url") exec "$@"
  ;;
*) echo "usage: $0 start DIR [PORT] | stop DIR | env DIR CMD..." >&2; exit 2 ;;
esac
