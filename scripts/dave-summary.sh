#!/bin/sh
# dave-summary.sh reads `go test -v` output on stdin (make test-dave), passes
# it through, and ends with a summary: each `mls-vectors: FILE passed N
# skipped M` line once (the MLS tests print them twice), then
# `interop: N passed, M failed` over the TestInterop tests, counting subtests
# and not their parents. It exits non-zero when any test or package failed.
awk '
{ print; fflush() }
/^mls-vectors: / { if (!($0 in seen)) { seen[$0] = 1; order[++nv] = $0 } }
/^[ \t]*--- (PASS|FAIL|SKIP): TestInterop/ {
	name = $3
	if (!(name in result)) names[++nn] = name
	result[name] = $2
}
/^(--- )?FAIL/ || /^FAIL[ \t]/ || /^panic: / { failed = 1 }
END {
	print ""
	print "== DAVE summary =="
	for (i = 1; i <= nv; i++) print order[i]
	pass = 0; fail = 0; skip = 0
	for (i = 1; i <= nn; i++) {
		n = names[i]; parent = 0
		for (j = 1; j <= nn; j++) if (index(names[j], n "/") == 1) { parent = 1; break }
		if (parent) continue
		if (result[n] == "PASS:") pass++
		else if (result[n] == "FAIL:") fail++
		else skip++
	}
	printf "interop: %d passed, %d failed\n", pass, fail
	if (skip > 0) printf "interop: %d skipped\n", skip
	exit failed
}'
