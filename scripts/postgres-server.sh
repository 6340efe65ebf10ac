#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: Debian's binaries, its own data directory under a
# temporary directory, a free port on 127.0.0.1, trust authentication (nothing else can reach it).
#   source scripts/postgres-server.sh && postgres_start   # exports DATABASE_URL
#   postgres_stop
# As root (CI), the server runs as the `postgres` user that Debian's package creates.

postgres_bin () {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$dir" ] && command -v initdb >/dev/null; then dir=$(dirname "$(command -v initdb)"); fi
  echo "$dir"
}

postgres_as_owner () {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start () {
  local bin port
  bin=$(postgres_bin)
  if [ -z "$bin" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(postgres_bin)
  fi
  POSTGRES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fastify-depends-pg.XXXXXX")
  if [ "$(id -u)" = 0 ]; then chown postgres "$POSTGRES_DIR"; fi
  port=$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })")
  postgres_as_owner "$bin/initdb" -D "$POSTGRES_DIR/data" -A trust -U postgres --no-sync >/dev/null
  postgres_as_owner "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/server.log" -w -t 60 \
    -o "-p $port -k $POSTGRES_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" start >/dev/null
  POSTGRES_BIN=$bin
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $POSTGRES_DIR)"
}

postgres_stop () {
  if [ -n "${POSTGRES_DIR:-}" ] && [ -d "$POSTGRES_DIR/data" ]; then
    postgres_as_owner "$POSTGRES_BIN/pg_ctl" -D "$POSTGRES_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$POSTGRES_DIR"
  fi
  POSTGRES_DIR=
}
