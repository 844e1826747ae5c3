#!/usr/bin/env bash
# Makes sure Redis and PostgreSQL are reachable for the store tests and prints
# the environment (QUAVER_TEST_REDIS_URL, QUAVER_TEST_POSTGRES_URL) that points
# the tests at them. A server already listening on its standard port is used as
# it is; otherwise a temporary one is started from the installed binaries on a
# free port (and reused by later runs while it is up), with its data under
# .cache/services (or /tmp/quaver-test-services when running as root, so the
# postgres user can reach it). Stop them with: scripts/test-services.sh stop
# Usage: eval "$(scripts/test-services.sh)"
# QUAVER_STD_REDIS_PORT / QUAVER_STD_POSTGRES_PORT override the standard ports
# looked at first (to exercise the start-a-server path on a machine that has them).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test-services: %s\n' "$*" >&2; }
if [ "$(id -u)" -eq 0 ]; then root="/tmp/quaver-test-services"; else root="$PWD/.cache/services"; fi
mkdir -p "$root"
redis_std=${QUAVER_STD_REDIS_PORT:-6379}
pg_std=${QUAVER_STD_POSTGRES_PORT:-5432}

port_open() { [ -n "$1" ] && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
saved_port() { [ -f "$root/$1.port" ] && cat "$root/$1.port" || true; }

pgbin=""
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { pgbin="$d"; break; }
done
runas=()
if [ "$(id -u)" -eq 0 ]; then runas=(su postgres -s /bin/sh -c); fi
run_pg() { if [ ${#runas[@]} -gt 0 ]; then "${runas[@]}" "$*"; else sh -c "$*"; fi; }

if [ "${1:-}" = stop ]; then
  if [ -f "$root/redis.pid" ]; then kill "$(cat "$root/redis.pid")" 2>/dev/null || true; rm -f "$root/redis.pid" "$root/redis.port"; say "stopped temporary redis-server"; fi
  if [ -n "$pgbin" ] && [ -f "$root/pg/postmaster.pid" ]; then run_pg "$pgbin/pg_ctl -D '$root/pg' -m fast stop >/dev/null" || true; rm -f "$root/pg.port"; say "stopped temporary PostgreSQL"; fi
  exit 0
fi

# Redis
if [ -n "${QUAVER_TEST_REDIS_URL:-}" ]; then
  echo "export QUAVER_TEST_REDIS_URL='$QUAVER_TEST_REDIS_URL'"
elif port_open "$redis_std"; then
  echo "export QUAVER_TEST_REDIS_URL='redis://127.0.0.1:$redis_std/0'"
elif p=$(saved_port redis) && port_open "$p"; then
  say "reusing the temporary redis-server on port $p"
  echo "export QUAVER_TEST_REDIS_URL='redis://127.0.0.1:$p/0'"
elif command -v redis-server >/dev/null 2>&1; then
  p=$(free_port)
  redis-server --daemonize yes --bind 127.0.0.1 --port "$p" --save "" --appendonly no \
    --dir "$root" --logfile "$root/redis.log" --pidfile "$root/redis.pid" >/dev/null
  for _ in $(seq 100); do port_open "$p" && break; sleep 0.1; done
  if port_open "$p"; then
    echo "$p" >"$root/redis.port"
    say "started a temporary redis-server on port $p (stop: scripts/test-services.sh stop)"
    echo "export QUAVER_TEST_REDIS_URL='redis://127.0.0.1:$p/0'"
  else
    say "SKIPPING Redis suites: redis-server did not start (see $root/redis.log)"
  fi
else
  say "SKIPPING Redis suites: no server on $redis_std and no redis-server binary"
fi

# PostgreSQL
if [ -n "${QUAVER_TEST_POSTGRES_URL:-}" ]; then
  echo "export QUAVER_TEST_POSTGRES_URL='$QUAVER_TEST_POSTGRES_URL'"
elif port_open "$pg_std"; then
  echo "export QUAVER_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$pg_std/postgres?sslmode=disable'"
elif p=$(saved_port pg) && port_open "$p"; then
  say "reusing the temporary PostgreSQL on port $p"
  echo "export QUAVER_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$p/postgres?sslmode=disable'"
elif [ -n "$pgbin" ]; then
  p=$(free_port)
  data="$root/pg"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd -r -m postgres
    chown -R postgres "$root"
  fi
  [ -f "$data/PG_VERSION" ] || run_pg "$pgbin/initdb -D '$data' -U postgres --auth=trust >/dev/null"
  if [ -f "$data/postmaster.pid" ]; then # a server we started earlier, on a port we lost track of
    if kill -0 "$(head -1 "$data/postmaster.pid")" 2>/dev/null; then run_pg "$pgbin/pg_ctl -D '$data' -m fast -w stop >/dev/null" || true
    else rm -f "$data/postmaster.pid"; fi
  fi
  if run_pg "$pgbin/pg_ctl -D '$data' -o '-p $p -k /tmp -c listen_addresses=127.0.0.1' -l '$root/pg.log' -w start >/dev/null"; then
    echo "$p" >"$root/pg.port"
    say "started a temporary PostgreSQL on port $p (stop: scripts/test-services.sh stop)"
    echo "export QUAVER_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$p/postgres?sslmode=disable'"
  else
    say "SKIPPING PostgreSQL suites: pg_ctl could not start a server (see $root/pg.log)"
  fi
else
  say "SKIPPING PostgreSQL suites: no server on $pg_std and no initdb/pg_ctl binaries"
fi
