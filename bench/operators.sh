#!/usr/bin/env bash
# Operator throughput on one taskmanager (1 slot, parallelism 1), datagen
# source, blackhole sink, records per second of wall time for `sluice run`:
#   filter+map        datagen -> filter (value % 2 = 0) -> map (2 fields) -> blackhole
#   window (hashmap)  datagen -> tumbling 1 s count per key -> blackhole
#   window (leveldb)  the same with state.backend.type: leveldb
# Usage: bench/operators.sh [RECORDS] [KEYS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
n="${1:-5000000}"
keys="${2:-100000}"
. "$here/bench/lib.sh"
bench_root ops
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
for j in filter-map window-hashmap window-leveldb; do
  t0=$(date +%s.%N)
  "$bin/sluice" run "$root/$j.yaml" >/dev/null
  t1=$(date +%s.%N)
  awk -v j="$j" -v n="$n" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%-15s %d records in %.2f s = %.0f records/s\n", j, n, b - a, n / (b - a) }'
done
