#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a while each: scripts/fuzz-all.sh [DURATION]
# (default 20s). Failing inputs are written to the package's testdata/fuzz as usual.
# -fuzzminimizetime 1s: with the default (60 s per interesting input) the fuzzer spends
# short runs shrinking seeds instead of exploring (measured: 4–542 execs in 20 s vs ~49,000).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  for f in $targets; do
    echo "== $pkg $f ($t)"
    if ! go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 1s "$pkg"; then
      status=1
    fi
  done
done
exit $status
