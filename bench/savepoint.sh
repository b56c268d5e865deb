#!/usr/bin/env bash
# Savepoint and restore cost for about KEYS keys of keyed state, on each
# state backend: an unbounded datagen (KEYS distinct keys) into a keyed
# `count` into blackhole, parallelism 1, on 1 jobmanager and 1 taskmanager
# (1 slot). Once the source emitted 5 x KEYS records (> 99% of the keys are
# in the state), `sluice savepoint` is timed (wall clock of the CLI, trigger
# to "Savepoint completed"), the folder's size measured, the job cancelled,
# and the job submitted again with `run -s`: the restore time is what the
# count task logs ("restored N bytes ... in T ms": load, checksum and insert
# of its state files), and submit-to-restored is measured from `run -d` to
# that log line. Each run (BENCH_RUNS, 3; QUICK=1: 1) does this for both
# backends with a new job, the backends alternated.
# Usage: bench/savepoint.sh [KEYS]
# Environment: SP_RESULTS (JSON, bench/results/savepoint.json; QUICK=1:
#   savepoint-quick.json), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
keys="${1:-1000000}"
. "$here/bench/lib.sh"
bench_root sp
bench_begin savepoint "${SP_RESULTS:-$(bench_results savepoint)}" "bench/savepoint.sh $*"
runs=$(bench_runs)
target=$((5 * keys))
expected=$(python3 -c "import math; print(round($keys * (1 - math.exp(-$target / $keys))))")
bench_param keys "$keys"
bench_param records_before_savepoint "$target"
bench_param expected_keys_in_state "$expected"
mkdir -p "$root/sp"
cat >"$SLUICE_CONF_DIR/sluice.yaml" <<CONF
jobmanager.rpc.port: $port
taskmanager.numberOfTaskSlots: 1
taskmanager.state.local.root-dirs: $root/tm-state
state.checkpoints.dir: file://$root/checkpoints
CONF
bench_start
sl() { "$bin/sluice" "$@"; }
now_ms() { date +%s%3N; }
emitted() { sl info --json "$1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(t["records-out"] for t in j["tasks"] if t["chain"].startswith("gen")))'; }
restored_line() { grep -h "task counts.* of job $1: restored " "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log | head -n 1 || true; }

# one_run RUN BACKEND: savepoint of a filled job, then a restore from it
one_run() {
  local r="$1" backend="$2" job job2 n i t0 t1 t2 t3 out sp size line rms
  cat >"$root/job-$backend.yaml" <<JOB
name: savepoint-bench
parallelism: 1
config:
  state.backend.type: $backend
pipeline:
  - name: gen
    source: datagen
    seed: 7
    keys: $keys
  - name: counts
    operator: count
    key-by: key
  - name: sink
    sink: blackhole
JOB
  job=$(sl run -d "$root/job-$backend.yaml" | awk '{ print $NF }')
  for ((i = 0; ; i++)); do
    n=$(emitted "$job")
    [ "$n" -ge "$target" ] && break
    [ "$i" -lt 600 ] || { echo "$backend: only $n records after 10 min" >&2; exit 1; }
    [ $((i % 5)) -ne 0 ] || echo "$backend: $n of $target records emitted" >&2
    sleep 1
  done
  t0=$(now_ms)
  out=$(sl savepoint "$job" "$root/sp")
  t1=$(now_ms)
  sp=$(sed -n 's/^Savepoint completed\. Path: file:\/\///p' <<<"$out")
  size=$(du -sb "$sp" | awk '{ print $1 }')
  sl cancel "$job" >/dev/null
  t2=$(now_ms)
  job2=$(sl run -d -s "$sp" "$root/job-$backend.yaml" | awk '{ print $NF }')
  until line=$(restored_line "$job2") && [ -n "$line" ]; do sleep 0.05; done
  t3=$(now_ms)
  rms=$(sed -E 's/.* in ([0-9]+) ms$/\1/' <<<"$line")
  sl cancel "$job2" >/dev/null
  rm -rf "$sp"
  printf 'run %d, %s: savepoint %d ms, %d bytes; restore %s ms in the task, %d ms from submit\n' \
    "$r" "$backend" $((t1 - t0)) "$size" "$rms" $((t3 - t2))
  bench_sample "$backend" savepoint_ms $((t1 - t0))
  bench_sample "$backend" savepoint_bytes "$size"
  bench_sample "$backend" restore_task_ms "$rms"
  bench_sample "$backend" submit_to_restored_ms $((t3 - t2))
}

for r in $(seq 1 "$runs"); do
  for backend in hashmap leveldb; do one_run "$r" "$backend"; done
done

echo
echo "$(bench_caption); at least $expected of the $keys keys in the state"
echo "| backend | keys | savepoint time | savepoint size | restore (task) | submit to restored |"
echo "|---|---|---|---|---|---|"
for backend in hashmap leveldb; do
  echo "| $backend | $(bench_int "$keys") | $(bench_cell "$backend" savepoint_ms 1 "int," " ms") |" \
    "$(bench_cell "$backend" savepoint_bytes 1e6 %.1f " MB") | $(bench_cell "$backend" restore_task_ms 1 "int," " ms") |" \
    "$(bench_cell "$backend" submit_to_restored_ms 1 "int," " ms") |"
done
bench_end
