#!/usr/bin/env bash
# Jobmanager failover with ZooKeeper (issue 13): the time from SIGKILL of
# the leading jobmanager to a standby leading (its latch the lowest in
# ZooKeeper), to the job RUNNING again under it (every task deployed) and
# to its next completed checkpoint, at ZooKeeper session timeouts 3 s and
# 6 s (high-availability.zookeeper.client.session-timeout; a local
# ZooKeeper with tickTime 500 ms). Each run is one run of
# tests/integration/test_ha_failover.sh (2 jobmanagers, 3 taskmanagers of
# 1 slot, word count at parallelism 2 with a checkpoint every 300 ms; it
# also checks the output exactly-once), whose RESULT line gives the
# figures. About 50 s per run.
# Usage: bench/ha_failover.sh       (BENCH_RUNS runs per timeout, default 3)
# Skipped under QUICK=1: `make test` runs the same scenario as a test.
# Environment: HA_RESULTS (JSON, bench/results/ha_failover.json),
#   HA_TIMEOUTS (session timeouts in s, "3 6"), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
. "$here/bench/lib.sh"
if [ -n "${QUICK:-}" ] && [ -z "${BENCH_RUNS:-}" ]; then
  echo "skipped under QUICK=1 (the integration test test_ha_failover runs the same scenario)"
  exit 0
fi
rounds="$(bench_runs)"
read -r -a timeouts <<<"${HA_TIMEOUTS:-3 6}"
bench_root ha
bench_begin ha_failover "${HA_RESULTS:-$(bench_results ha_failover)}" "bench/ha_failover.sh $*"
bench_param runs "$rounds"
bench_param session_timeouts_s "${timeouts[*]}"
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
  for t in "${timeouts[@]}"; do
    line=$(run_test test_ha_failover "SL_HA_SESSION_TIMEOUT=$t s")
    echo "run $r, session timeout $t s: ${line#RESULT }"
    bench_sample "new leader, session timeout $t s" ms "$(num "$line" "new leader after")"
    bench_sample "RUNNING again, session timeout $t s" ms "$(num "$line" "RUNNING again after")"
    bench_sample "next checkpoint completed, session timeout $t s" ms "$(num "$line" "completed after")"
  done
done

echo
echo "$(bench_caption); 2 jobmanagers, 3 taskmanagers, checkpoints every 300 ms"
head="| from SIGKILL of the leader to |"
sep="|---|"
for t in "${timeouts[@]}"; do
  head+=" session timeout $t s |"
  sep+="---|"
done
echo "$head"
echo "$sep"
for m in "new leader" "RUNNING again" "next checkpoint completed"; do
  row="| $m |"
  for t in "${timeouts[@]}"; do
    row+=" $(bench_cell "$m, session timeout $t s" ms 1 "int," " ms") |"
  done
  echo "$row"
done
bench_end
