#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a while each: scripts/fuzz-all.sh [DURATION]
# (default 20s). Failing inputs are written to the package's testdata/fuzz as usual.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  for f in $targets; do
    echo "== $pkg $f ($t)"
    if ! go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg"; then
      status=1
    fi
  done
done
exit $status
