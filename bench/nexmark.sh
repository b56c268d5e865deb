#!/usr/bin/env bash
# Nexmark throughput (bench/nexmark/q*.yaml): each query runs on a cluster
# of 1 jobmanager and 1 taskmanager with 1 slot, parallelism 1, over a fixed
# number of events, measured as Nexmark measures: events per CPU second of
# the taskmanager process (utime + stime of all its threads from
# /proc/<pid>/stat, before and after; the jobmanager is not counted), and
# events per wall-clock second (`sluice run`, submit to FINISHED). The
# single-loop program (bench/nexmark/loop.c) runs the same events; the
# ratio engine/loop compares events per core.
#
# Usage: bench/nexmark.sh [QUERIES...]        (default: q0 q1 q2 q5 q7)
# Environment:
#   NEXMARK_EVENTS      events for every query (default per query below;
#                       QUICK=1: 2,000,000)
#   NEXMARK_EVENTS_Qn   events for query qn (overrides NEXMARK_EVENTS)
#   NEXMARK_RESULTS     JSON output (default bench/results/nexmark.json,
#                       QUICK=1: bench/results/nexmark-quick.json)
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
if [ -n "$quick" ]; then
  out="${NEXMARK_RESULTS:-$here/bench/results/nexmark-quick.json}"
else
  out="${NEXMARK_RESULTS:-$here/bench/results/nexmark.json}"
fi
# Flink 2.0, Nexmark V2 results, events/s per core
declare -A flink=([q0]=379000 [q1]=395000 [q2]=414000 [q5]=75000 [q7]=23000)
[ -x "$loop" ] || { echo "nexmark: no loop program at $loop (make binaries)" >&2; exit 1; }

. "$here/bench/lib.sh"
bench_root nexmark
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
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

events_for() {
  local q="$1" var="NEXMARK_EVENTS_${1^^}"
  if [ -n "${!var:-}" ]; then echo "${!var}"
  elif [ -n "${NEXMARK_EVENTS:-}" ]; then echo "$NEXMARK_EVENTS"
  elif [ -n "$quick" ]; then echo 2000000
  else echo "${dflt[$q]}"; fi
}

cores=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "nexmark: $cores cores ($model), taskmanager pid $tm_pid, results -> $out"
rows=()
table=()
for q in "${queries[@]}"; do
  n=$(events_for "$q")
  sed "s/count: COUNT/count: $n/" "$here/bench/nexmark/$q.yaml" > "$root/$q.yaml"
  echo "[$q] engine: $n events ..."
  c0=$(cpu_ticks "$tm_pid")
  t0=$(date +%s.%N)
  "$bin/sluice" run "$root/$q.yaml" >/dev/null
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$tm_pid")
  echo "[$q] loop: $n events ..."
  lline=$("$loop" "$q" "$n" 2>&1 >/dev/null | tail -1)
  lsec=$(sed -E 's/.* seconds=([0-9.]+).*/\1/' <<<"$lline")
  read -r wall cpu per_core per_wall loop_rate ratio < <(awk -v n="$n" -v a="$t0" -v b="$t1" \
    -v c0="$c0" -v c1="$c1" -v hz="$hz" -v ls="$lsec" 'BEGIN {
      wall = b - a; cpu = (c1 - c0) / hz; if (cpu <= 0) cpu = 1 / hz; if (ls <= 0) ls = 0.001
      pc = n / cpu; lr = n / ls
      printf "%.3f %.3f %.0f %.0f %.0f %.3f\n", wall, cpu, pc, n / wall, lr, pc / lr }')
  printf '[%s] %d events: wall %.2f s (%.0f events/s), taskmanager CPU %.2f s (%.0f events/s per core); loop %.0f events/s; engine/loop per core %.2f\n' \
    "$q" "$n" "$wall" "$per_wall" "$cpu" "$per_core" "$loop_rate" "$ratio"
  rows+=("$(printf '{"query": "%s", "events": %d, "wall_seconds": %s, "tm_cpu_seconds": %s, "events_per_second_wall": %s, "events_per_second_per_core": %s, "loop_seconds": %s, "loop_events_per_second": %s, "engine_loop_ratio_per_core": %s, "flink_2_0_per_core": %s}' \
    "$q" "$n" "$wall" "$cpu" "$per_wall" "$per_core" "$lsec" "$loop_rate" "$ratio" "${flink[$q]}")")
  table+=("$(awk -v q="$q" -v n="$n" -v pc="$per_core" -v pw="$per_wall" -v lr="$loop_rate" \
    -v r="$ratio" -v f="${flink[$q]}" 'BEGIN {
      printf "| %s | %.0f M | %.2f M | %.2f M | %.2f M | %.2f | %.0f K |", q, n / 1e6, pc / 1e6,
        pw / 1e6, lr / 1e6, r, f / 1e3 }')")
done
mkdir -p "$(dirname "$out")"
{
  printf '{\n  "benchmark": "nexmark",\n  "date": "%s",\n  "cores": %d,\n  "cpu": "%s",\n' \
    "$date_utc" "$cores" "$model"
  printf '  "command": "bench/nexmark.sh %s",\n  "quick": %s,\n  "results": [\n' \
    "${queries[*]}" "$([ -n "$quick" ] && echo true || echo false)"
  for k in "${!rows[@]}"; do
    printf '    %s%s\n' "${rows[$k]}" "$([ "$k" -lt $((${#rows[@]} - 1)) ] && echo ,)"
  done
  printf '  ]\n}\n'
} > "$out"
echo
echo "| query | events | engine events/s per TM core | engine events/s wall | loop events/s | engine/loop per core | Flink 2.0 per core |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${table[@]}"
