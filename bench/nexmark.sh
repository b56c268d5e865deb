#!/usr/bin/env bash
# Nexmark throughput (bench/nexmark/q*.yaml): each query runs on a cluster
# of 1 jobmanager and 1 taskmanager with 1 slot, parallelism 1, over a fixed
# number of events, measured as Nexmark measures: events per CPU second of
# the taskmanager process (utime + stime of all its threads from
# /proc/<pid>/stat, before and after; the jobmanager is not counted), and
# events per wall-clock second (`sluice run`, submit to FINISHED). The
# single-loop program (bench/nexmark/loop.c) runs the same events; the
# ratio engine/loop compares events per core. Each query runs BENCH_RUNS
# times (3; QUICK=1: 1), engine then loop, the queries alternated (run 1 of
# every query, then run 2, ...) in one cluster; the wall time of a run is
# submit to FINISHED as the jobmanager records it.
#
# Usage: bench/nexmark.sh [QUERIES...]        (default: q0 q1 q2 q5 q7)
# Environment:
#   NEXMARK_EVENTS      events for every query (default per query below;
#                       QUICK=1: 2,000,000)
#   NEXMARK_EVENTS_Qn   events for query qn (overrides NEXMARK_EVENTS)
#   NEXMARK_RESULTS     JSON output (default bench/results/nexmark.json,
#                       QUICK=1: bench/results/nexmark-quick.json)
#   BENCH_RUNS          runs per query (3; QUICK=1: 1)
#   SLUICE_BIN_DIR      binaries (default build/bin); the loop program is
#                       <SLUICE_BIN_DIR>/../bench/nexmark-loop
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
loop="${NEXMARK_LOOP:-$bin/../bench/nexmark-loop}"
quick="${QUICK:-}"
queries=("$@")
[ "${#queries[@]}" -gt 0 ] || queries=(q0 q1 q2 q5 q7)
# about 20-30 s each at the speeds measured on the reference machine
declare -A dflt=([q0]=200000000 [q1]=200000000 [q2]=200000000 [q5]=30000000 [q7]=90000000)
# Flink 2.0, Nexmark V2 results, events/s per core
declare -A flink=([q0]=379000 [q1]=395000 [q2]=414000 [q5]=75000 [q7]=23000)
declare -A title=([q0]="q0 pass-through" [q1]="q1 currency conversion" [q2]="q2 selection"
  [q5]="q5 hot items" [q7]="q7 highest bid")
[ -x "$loop" ] || { echo "nexmark: no loop program at $loop (make binaries)" >&2; exit 1; }

. "$here/bench/lib.sh"
bench_root nexmark
out="${NEXMARK_RESULTS:-$(bench_results nexmark)}"
bench_begin nexmark "$out" "bench/nexmark.sh ${queries[*]}"
runs=$(bench_runs)
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\ntaskmanager.state.local.root-dirs: %s\n' \
  "$port" "$root/local" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_start

# the taskmanager's pid (sluice taskmanagers: id, address, pid, ...)
tm_pid=""
for _ in $(seq 1 100); do
  tm_pid=$("$bin/sluice" taskmanagers 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3; exit }') || true
  [ -n "$tm_pid" ] && break
  sleep 0.1
done
[ -n "$tm_pid" ] || { echo "nexmark: no taskmanager registered" >&2; exit 1; }
hz=$(getconf CLK_TCK)
# "CPU-TICKS MINOR-FAULTS" of process $1 so far (all its threads)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13, $8 }' "/proc/$1/stat"; }
kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

events_for() {
  local q="$1" var="NEXMARK_EVENTS_${1^^}"
  if [ -n "${!var:-}" ]; then echo "${!var}"
  elif [ -n "${NEXMARK_EVENTS:-}" ]; then echo "$NEXMARK_EVENTS"
  elif [ -n "$quick" ]; then echo 2000000
  else echo "${dflt[$q]}"; fi
}

for q in "${queries[@]}"; do
  n=$(events_for "$q")
  sed "s/count: COUNT/count: $n/" "$here/bench/nexmark/$q.yaml" > "$root/$q.yaml"
  bench_param "events_$q" "$n"
  bench_param "flink_2_0_per_core_$q" "${flink[$q]:-0}"
done
echo "nexmark: taskmanager pid $tm_pid"

# one_run RUN QUERY: the engine, then the loop, over the same events
one_run() {
  local r="$1" q="$2" n c0 c1 f0 f1 row lline lsec wall cpu per_core per_wall loop_rate ratio
  n=$(events_for "$q")
  row="${title[$q]:-$q}"
  echo "[$q] run $r, engine: $n events ..."
  read -r c0 f0 < <(cpu_ticks "$tm_pid")
  bench_run_job "$root/$q.yaml"
  read -r c1 f1 < <(cpu_ticks "$tm_pid")
  echo "[$q] run $r, loop: $n events ..."
  lline=$("$loop" "$q" "$n" 2>&1 >/dev/null | tail -1)
  lsec=$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$lline")
  read -r wall cpu per_core per_wall loop_rate ratio < <(awk -v n="$n" -v w="$bench_job_secs" \
    -v c0="$c0" -v c1="$c1" -v hz="$hz" -v ls="$lsec" 'BEGIN {
      wall = w; if (wall <= 0) wall = 0.001
      cpu = (c1 - c0) / hz; if (cpu <= 0) cpu = 1 / hz; if (ls <= 0) ls = 0.001
      pc = n / cpu; lr = n / ls
      printf "%.3f %.3f %.0f %.0f %.0f %.3f\n", wall, cpu, pc, n / wall, lr, pc / lr }')
  printf '[%s] run %d, %d events: wall %.2f s (%.0f events/s), taskmanager CPU %.2f s (%.0f events/s per core, %d minor faults); loop %.0f events/s; engine/loop per core %.2f\n' \
    "$q" "$r" "$n" "$wall" "$per_wall" "$cpu" "$per_core" $((f1 - f0)) "$loop_rate" "$ratio"
  bench_sample "$row" events_per_second_per_core "$per_core"
  bench_sample "$row" events_per_second_wall "$per_wall"
  bench_sample "$row" loop_events_per_second "$loop_rate"
  bench_sample "$row" engine_loop_ratio_per_core "$ratio"
  bench_sample "$row" wall_seconds "$wall"
  bench_sample "$row" tm_cpu_seconds "$cpu"
  bench_sample "$row" loop_seconds "$lsec"
  # what else varies: the taskmanager's page faults (first touch of new
  # memory) and its peak RSS so far
  bench_sample "$row" tm_minor_faults $((f1 - f0))
  bench_sample "$row" tm_peak_rss_kb "$(kb_of "$tm_pid" VmHWM)"
}
for r in $(seq 1 "$runs"); do
  for q in "${queries[@]}"; do one_run "$r" "$q"; done
done

echo
bench_caption
echo "| query | events | engine events/s per TM core | engine events/s wall | loop events/s | engine/loop per core | Flink 2.0 per core |"
echo "|---|---|---|---|---|---|---|"
for q in "${queries[@]}"; do
  row="${title[$q]:-$q}"
  echo "| $row | $(awk -v n="$(events_for "$q")" 'BEGIN { printf "%.0f M", n / 1e6 }') |" \
    "$(bench_cell "$row" events_per_second_per_core 1e6 %.2f " M") |" \
    "$(bench_cell "$row" events_per_second_wall 1e6 %.2f " M") |" \
    "$(bench_cell "$row" loop_events_per_second 1e6 %.2f " M") |" \
    "$(bench_cell "$row" engine_loop_ratio_per_core 1 %.2f) |" \
    "$(awk -v f="${flink[$q]:-0}" 'BEGIN { printf "%.0f K", f / 1e3 }') |"
done
bench_end
