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
# that log line. Usage: bench/savepoint.sh [KEYS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
keys="${1:-1000000}"
if [ -n "${QUICK:-}" ]; then json="$here/bench/results/savepoint-quick.json"; else json="$here/bench/results/savepoint.json"; fi
. "$here/bench/lib.sh"
bench_root sp
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

rows=()
printf '| backend | keys (expected in state) | savepoint time | savepoint size | restore (task) | submit to restored |\n|---|---|---|---|---|---|\n' >"$root/table"
for backend in hashmap leveldb; do
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
  target=$((5 * keys))
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
  expected=$(python3 -c "import math; print(round($keys * (1 - math.exp(-$target / $keys))))")
  printf '%s: savepoint %d ms, %d bytes; restore %s ms in the task, %d ms from submit\n' \
    "$backend" $((t1 - t0)) "$size" "$rms" $((t3 - t2))
  printf '| %s | %s (>= %s) | %d ms | %.1f MB | %s ms | %d ms |\n' "$backend" "$keys" "$expected" \
    $((t1 - t0)) "$(echo "$size / 1000000" | bc -l)" "$rms" $((t3 - t2)) >>"$root/table"
  rows+=("$(printf '{"backend": "%s", "keys": %d, "savepoint_ms": %d, "savepoint_bytes": %d, "restore_task_ms": %s, "submit_to_restored_ms": %d}' \
    "$backend" "$keys" $((t1 - t0)) "$size" "$rms" $((t3 - t2)))")
done
cat "$root/table"
mkdir -p "$(dirname "$json")"
{
  printf '{\n  "command": "bench/savepoint.sh %s",\n  "date": "%s",\n  "cpu": "%s",\n  "cores": %d,\n  "results": [\n' \
    "$keys" "$(date -u +%Y-%m-%dT%H:%MZ)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)"
  for i in "${!rows[@]}"; do printf '    %s%s\n' "${rows[$i]}" "$([ "$i" -lt $((${#rows[@]} - 1)) ] && echo ,)"; done
  printf '  ]\n}\n'
} >"$json"
echo "results -> $json"
