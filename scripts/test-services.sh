#!/usr/bin/env bash
# Makes sure Redis and PostgreSQL are reachable for the store tests and prints
# the environment (QUAVER_TEST_REDIS_URL, QUAVER_TEST_POSTGRES_URL) that points
# the tests at them. A server already listening on its standard port is used as
# it is; otherwise a temporary one is started from the installed binaries on a
# free port, with its data under .cache/services. Usage: eval "$(scripts/test-services.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'test-services: %s\n' "$*" >&2; }
root="$PWD/.cache/services"
mkdir -p "$root"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

# Redis
if [ -n "${QUAVER_TEST_REDIS_URL:-}" ]; then
  echo "export QUAVER_TEST_REDIS_URL='$QUAVER_TEST_REDIS_URL'"
elif port_open 6379; then
  echo "export QUAVER_TEST_REDIS_URL='redis://127.0.0.1:6379/0'"
elif command -v redis-server >/dev/null 2>&1; then
  p=$(free_port)
  redis-server --daemonize yes --bind 127.0.0.1 --port "$p" --save "" --appendonly no \
    --dir "$root" --logfile "$root/redis.log" --pidfile "$root/redis.pid" >/dev/null
  for _ in $(seq 50); do port_open "$p" && break; sleep 0.1; done
  say "started a temporary redis-server on port $p"
  echo "export QUAVER_TEST_REDIS_URL='redis://127.0.0.1:$p/0'"
else
  say "SKIPPING Redis suites: no server on 6379 and no redis-server binary"
fi

# PostgreSQL
pgbin=""
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { pgbin="$d"; break; }
done
if [ -n "${QUAVER_TEST_POSTGRES_URL:-}" ]; then
  echo "export QUAVER_TEST_POSTGRES_URL='$QUAVER_TEST_POSTGRES_URL'"
elif port_open 5432; then
  echo "export QUAVER_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'"
elif [ -n "$pgbin" ]; then
  p=$(free_port)
  data="$root/pg"
  runas=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd -r -m postgres
    chown -R postgres "$root" 2>/dev/null || true
    runas=(su postgres -s /bin/sh -c)
  fi
  run() { if [ ${#runas[@]} -gt 0 ]; then "${runas[@]}" "$*"; else sh -c "$*"; fi; }
  [ -f "$data/PG_VERSION" ] || run "$pgbin/initdb -D '$data' -U postgres --auth=trust >/dev/null"
  run "$pgbin/pg_ctl -D '$data' -o '-p $p -k /tmp -c listen_addresses=127.0.0.1' -l '$root/pg.log' -w start >/dev/null"
  say "started a temporary PostgreSQL on port $p"
  echo "export QUAVER_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$p/postgres?sslmode=disable'"
else
  say "SKIPPING PostgreSQL suites: no server on 5432 and no initdb/pg_ctl binaries"
fi
