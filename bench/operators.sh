#!/usr/bin/env bash
# Operator throughput on one taskmanager (1 slot, parallelism 1), datagen
# source, blackhole sink, records per second of wall time for `sluice run`:
#   filter+map        datagen -> filter (value % 2 = 0) -> map (2 fields) -> blackhole
#   window (hashmap)  datagen -> tumbling 1 s count per key -> blackhole
#   window (leveldb)  the same with state.backend.type: leveldb
# Each pipeline runs BENCH_RUNS times (3; QUICK=1: 1), alternated; the time
# of a run is submit to FINISHED as the jobmanager records it.
# Usage: bench/operators.sh [RECORDS] [KEYS]
# Environment: OPS_RESULTS (JSON, bench/results/operators.json; QUICK=1:
#   operators-quick.json), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
n="${1:-5000000}"
keys="${2:-100000}"
. "$here/bench/lib.sh"
bench_root ops
bench_begin operators "${OPS_RESULTS:-$(bench_results operators)}" "bench/operators.sh $*"
bench_param records "$n"
bench_param keys "$keys"
runs=$(bench_runs)
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\ntaskmanager.state.local.root-dirs: %s\n' \
  "$port" "$root/local" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_start

job() { # name backend middle-stages
  cat > "$root/$1.yaml" <<JOB
name: $1
parallelism: 1
config:
  state.backend.type: $2
pipeline:
  - name: gen
    source: datagen
    seed: 7
    count: $n
    keys: $keys
$3
  - name: out
    sink: blackhole
JOB
}
job filter-map hashmap '  - name: even
    operator: filter
    where: "value % 2 == 0"
  - name: scaled
    operator: map
    set:
      v3: value * 3
      big: if(value > 500, 1, 0)'
win='  - name: tumble
    operator: window
    key-by: key
    time-field: ts
    size: 1 s
    aggregate: count'
job window-hashmap hashmap "$win"
job window-leveldb leveldb "$win"
declare -A label=([filter-map]='filter (`value % 2 == 0`) + map (2 expressions)'
  [window-hashmap]='keyed tumbling 1 s window count, hashmap state'
  [window-leveldb]='keyed tumbling 1 s window count, leveldb state')
for r in $(seq 1 "$runs"); do
  for j in filter-map window-hashmap window-leveldb; do
    bench_run_job "$root/$j.yaml"
    rate=$(awk -v n="$n" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", n / s }')
    bench_sample "${label[$j]}" seconds "$bench_job_secs"
    bench_sample "${label[$j]}" records_per_s "$rate"
    printf 'run %d, %-15s %d records in %.2f s = %d records/s\n' "$r" "$j" "$n" "$bench_job_secs" "$rate"
  done
done

echo
bench_caption
echo "| pipeline | records/s |"
echo "|---|---|"
for j in filter-map window-hashmap window-leveldb; do
  echo "| ${label[$j]} | $(bench_cell "${label[$j]}" records_per_s 1e6 %.2f " M") |"
done
bench_end
