#!/usr/bin/env bash
# Runs the integration tests: every tests/integration/test_*.sh in name order,
# each in its own bash process, optionally only those whose name contains
# FILTER. Prints "PASS name" or "FAIL name" per test (a failed test's output
# follows, indented), then exactly one line "N passed, N failed". Exits
# non-zero if any test failed (or none matched).
#
#   tests/integration/run.sh [FILTER]
#
# Environment: SLUICE_BUILD (build folder, default build), KEEP_TMP=1 (keep
# each test's temp folder), SL_VERBOSE=1 (also show passing tests' output),
# SL_TEST_TIMEOUT (seconds per test, default 900).
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
filter="${1:-}"
per_test_timeout="${SL_TEST_TIMEOUT:-900}"
outdir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-it-run.XXXXXX")" || exit 1
trap 'rm -rf "$outdir"' EXIT

passed=0
failed=0
ran=0
shopt -s nullglob
mapfile -t tests < <(printf '%s\n' "$here"/test_*.sh | LC_ALL=C sort)
for t in "${tests[@]}"; do
    [ -f "$t" ] || continue
    name="$(basename "$t" .sh)"
    if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then continue; fi
    ran=$((ran + 1))
    out="$outdir/$name.out"
    rc=0
    # Output goes to a file, never a pipe: a daemon left behind must not be
    # able to hold the runner open.
    timeout -k 15 "$per_test_timeout" bash "$t" >"$out" 2>&1 </dev/null || rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name"
        if [ "${SL_VERBOSE:-0}" = 1 ]; then sed 's/^/    /' "$out"; fi
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "    (timed out after $per_test_timeout s)"
        fi
        sed 's/^/    /' "$out"
    fi
done
if [ "$ran" -eq 0 ]; then
    echo "no test matches '${filter}' in $here" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$ran" -gt 0 ]
