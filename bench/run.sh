#!/usr/bin/env bash
# `make bench`: every benchmark of the suite (not part of `make test`).
# QUICK=1 (`make bench QUICK=1`): small sizes, the whole suite in a few
# minutes, to check that the harness works; the numbers mean little.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${QUICK:-}" ]; then
  : "${WORDCOUNT_MB:=5}" "${RECOVERY_ROUNDS:=1}" "${OPERATOR_RECORDS:=300000}" "${OPERATOR_KEYS:=10000}"
  : "${SAVEPOINT_KEYS:=100000}"
fi
echo "== word count throughput (checkpoints off and every 1 s)"
"$here/wordcount.sh" "${WORDCOUNT_MB:-200}"
echo "== recovery time after SIGKILL"
"$here/recovery.sh" "${RECOVERY_ROUNDS:-5}"
echo "== operator throughput"
"$here/operators.sh" "${OPERATOR_RECORDS:-5000000}" "${OPERATOR_KEYS:-100000}"
echo "== savepoint and restore time and size"
"$here/savepoint.sh" "${SAVEPOINT_KEYS:-1000000}"
echo "== nexmark (q0 q1 q2 q5 q7)"
"$here/nexmark.sh"
# checkpoint cost, recovery with keyed state, latency (QUICK=1: small sizes
# of their own, about 25 s, 5 s and 10 s)
echo "== checkpoint cost (every 1 s against none; duration and size per backend)"
"$here/checkpoint_cost.sh"
echo "== recovery with keyed state (SIGKILL at 10^5, 10^6, 10^7 keys)"
"$here/recovery_state.sh"
echo "== end-to-end latency (half the maximum rate, buffer timeout 1 ms and 100 ms)"
"$here/latency.sh"
# BIGSTATE=1: also keyed state larger than the taskmanager's memory (about
# 10 minutes, 20 M keys on leveldb; see bigstate.sh). Off by default.
if [ "${BIGSTATE:-}" = 1 ]; then
  echo "== state larger than memory (leveldb under a memory cap)"
  "$here/bigstate.sh" "${BIGSTATE_KEYS:-20000000}" "${BIGSTATE_RECORDS:-40000000}"
fi
