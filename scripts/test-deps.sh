#!/usr/bin/env bash
# Installs what the test suite needs and a fresh Debian/Ubuntu machine lacks:
# ffmpeg, opus-tools and flac (independent reference encoders/decoders), Node.js packages
# (third-party Discord clients the local stand-ins are checked against), and
# the Redis/PostgreSQL server binaries the store tests start when none runs.
# Each step is skipped when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test-deps: %s\n' "$*" >&2; }

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v opusdec >/dev/null 2>&1 || need_apt+=(opus-tools)
command -v flac >/dev/null 2>&1 || need_apt+=(flac)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1 && { [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; }; then
    say "installing ${need_apt[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    say "MISSING: ${need_apt[*]} (no apt-get/sudo here); tests that need them will skip, or fail under CI=true"
  fi
fi

if command -v npm >/dev/null 2>&1; then
  if [ ! -d tools/node/node_modules ] || [ tools/node/package-lock.json -nt tools/node/node_modules/.package-lock.json ]; then
    say "installing Node.js interop clients into tools/node"
    (cd tools/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
