#!/usr/bin/env bash
# `make bench`: every benchmark of the suite (not part of `make test`).
# Each script runs every configuration BENCH_RUNS times (default 3) and
# prints, at its end, its README table with median (min-max) cells; the
# JSON with every run's figures goes to bench/results/. About 30 minutes
# on a 2-core machine (see bench/README.md).
# QUICK=1 (`make bench QUICK=1`): small sizes and one run each (BENCH_RUNS
# still overrides), the whole suite in about a minute, to check that the
# harness works; the numbers mean little.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${QUICK:-}" ]; then
  : "${WORDCOUNT_MB:=5}" "${OPERATOR_RECORDS:=300000}" "${OPERATOR_KEYS:=10000}"
  : "${SAVEPOINT_KEYS:=100000}"
fi
t_all=$SECONDS
# section TITLE SCRIPT ARGS...: one benchmark, timed
section() {
  local title="$1" t=$SECONDS
  shift
  echo "== $title"
  "$@"
  echo "== $title: $((SECONDS - t)) s"
}
section "word count throughput (checkpoints off and every 1 s)" \
  "$here/wordcount.sh" "${WORDCOUNT_MB:-200}"
section "recovery time after SIGKILL" "$here/recovery.sh" ${RECOVERY_ROUNDS:+"$RECOVERY_ROUNDS"}
section "operator throughput" \
  "$here/operators.sh" "${OPERATOR_RECORDS:-5000000}" "${OPERATOR_KEYS:-100000}"
section "savepoint and restore time and size" "$here/savepoint.sh" "${SAVEPOINT_KEYS:-1000000}"
section "nexmark (q0 q1 q2 q5 q7)" "$here/nexmark.sh"
# checkpoint cost, recovery with keyed state, latency (QUICK=1: small sizes
# of their own, about 25 s, 5 s and 10 s)
section "checkpoint cost (every 1 s against none; duration and size per backend)" \
  "$here/checkpoint_cost.sh"
section "recovery with keyed state (SIGKILL at 10^5, 10^6, 10^7 keys)" "$here/recovery_state.sh"
section "end-to-end latency (half the maximum rate, buffer timeout 1 ms and 100 ms)" \
  "$here/latency.sh"
# security: internal TLS off and on; checkpoints sealed or not (QUICK=1:
# small sizes of their own)
section "internal TLS (word count and Nexmark q1, off and on)" "$here/security.sh"
section "encrypted checkpoints (checkpoint duration, off and on)" "$here/checkpoint_encryption.sh"
# Several hosts (network namespaces, root): silent death and partition
# (about 8 minutes; skipped under QUICK=1).
section "failover across hosts (silent death, partition)" "$here/hosts_failover.sh"
# Jobmanager failover with a local ZooKeeper (about 5 minutes; skipped
# under QUICK=1).
section "jobmanager failover (ZooKeeper, SIGKILL of the leader)" "$here/ha_failover.sh"
# BIGSTATE=1: also keyed state larger than the taskmanager's memory (about
# 10 minutes, 20 M keys on leveldb; one run; see bigstate.sh). Off by default.
if [ "${BIGSTATE:-}" = 1 ]; then
  section "state larger than memory (leveldb under a memory cap)" \
    "$here/bigstate.sh" "${BIGSTATE_KEYS:-20000000}" "${BIGSTATE_RECORDS:-40000000}"
fi
echo "== all benchmarks: $((SECONDS - t_all)) s"
