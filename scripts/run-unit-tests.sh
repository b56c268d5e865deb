#!/usr/bin/env bash
# Runs each check unit-test binary given as an argument; fails if any fails.
set -u
fail=0
for t in "$@"; do
  echo "== $t"
  "$t" || fail=1
done
exit $fail
