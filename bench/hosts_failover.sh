#!/usr/bin/env bash
# Failover across hosts (network namespaces, as the integration tests make
# them; needs root): the time from a host's silent death (link down, then
# SIGKILL: nothing tells the jobmanager) to the job RUNNING again on the
# other hosts and to its next completed checkpoint, at heartbeat.timeout
# 3 s and at the default 5 s (heartbeat.interval 500 ms, restart delay the
# default 1 s); and the time from the end of a partition to the cut-off
# taskmanager RUNNING again with all its slots free. Each run is one run of
# tests/integration/test_hosts_silent_death.sh (per timeout) and of
# test_hosts_partition.sh, whose RESULT lines give the figures (both also
# check the output exactly-once). About 2.5 minutes per run.
# Usage: bench/hosts_failover.sh       (BENCH_RUNS runs, default 3)
# Skipped under QUICK=1: `make test` runs the same scenarios as tests.
# Environment: HF_RESULTS (JSON, bench/results/hosts_failover.json),
#   SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
if [ -n "${QUICK:-}" ] && [ -z "${BENCH_RUNS:-}" ]; then
  echo "skipped under QUICK=1 (the integration tests test_hosts_silent_death and test_hosts_partition run the same scenarios)"
  exit 0
fi
rounds="$(bench_runs)"
bench_root hosts
bench_begin hosts_failover "${HF_RESULTS:-$(bench_results hosts_failover)}" "bench/hosts_failover.sh $*"
bench_param runs "$rounds"
export SLUICE_BIN_DIR="${SLUICE_BIN_DIR:-$here/build/bin}"
it="$here/tests/integration"

# run_test NAME [ENV=VALUE...]: one integration test; prints its RESULT line.
run_test() {
  local name="$1" out="$root/$1.out"
  shift
  if ! env "$@" bash "$it/$name.sh" >"$out" 2>&1 </dev/null; then
    echo "$name failed:" >&2
    tail -n 40 "$out" >&2
    exit 1
  fi
  grep '^RESULT ' "$out" | tail -n 1
}

# num TEXT WORDS_BEFORE: the number after "WORDS_BEFORE " in TEXT.
num() { sed -E "s/.*$2 ([0-9]+) ms.*/\\1/" <<<"$1"; }

for r in $(seq 1 "$rounds"); do
  for t in 3 5; do
    line=$(run_test test_hosts_silent_death "SL_HB_TIMEOUT=$t s")
    echo "run $r, heartbeat.timeout $t s: ${line#RESULT }"
    bench_sample "RUNNING again, heartbeat.timeout $t s" ms "$(num "$line" "RUNNING again after")"
    bench_sample "next checkpoint completed, heartbeat.timeout $t s" ms "$(num "$line" "completed after")"
  done
  line=$(run_test test_hosts_partition)
  echo "run $r, partition: ${line#RESULT }"
  bench_sample "partitioned taskmanager RUNNING again after the heal" ms "$(num "$line" "slots free")"
done

echo
echo "$(bench_caption); heartbeat.interval 500 ms, restart delay 1 s"
echo "| from a silent death to | heartbeat.timeout 3 s | heartbeat.timeout 5 s (default) |"
echo "|---|---|---|"
for m in "RUNNING again" "next checkpoint completed"; do
  echo "| $m | $(bench_cell "$m, heartbeat.timeout 3 s" ms 1 "int," " ms") | $(bench_cell "$m, heartbeat.timeout 5 s" ms 1 "int," " ms") |"
done
echo
echo "| after a partition of 6 s healed | |"
echo "|---|---|"
echo "| the cut-off taskmanager RUNNING again with all slots free | $(bench_cell "partitioned taskmanager RUNNING again after the heal" ms 1 "int," " ms") |"
bench_end
