#!/usr/bin/env bash
# Checkpoint durations with encrypted checkpoints (state.checkpoints.
# encryption.key-file, AES-256-GCM) off and on: datagen -> count (key-by
# key) -> blackhole, parallelism 1, on 1 jobmanager and 1 taskmanager (1
# slot). The key is a daemon setting, so each configuration gets its own
# cluster: per run, "off" and "on" (alternated: off on, on off, ...) each
# start a cluster (with the key file in sluice.yaml for "on"), run an
# unbounded datagen over CE_KEYS keys with a checkpoint every CE_INTERVAL,
# wait until the count task has seen FILL * KEYS records (about 1 - e^-FILL
# of the keys exist), record the next CE_CHECKPOINTS completed checkpoints
# (end-to-end duration from `sluice checkpoints --json`, size, the count
# task's synchronous and asynchronous parts: the asynchronous part writes,
# and seals, the state file), cancel and stop the cluster.
#
# Usage: bench/checkpoint_encryption.sh
# Environment:
#   BENCH_RUNS           runs per configuration (3; QUICK=1: 1)
#   CE_KEYS              keys (1000000; QUICK=1: 100000)
#   CE_BACKENDS          state backends ("hashmap")
#   CE_FILL              records per key before measuring (2)
#   CE_CHECKPOINTS       checkpoints measured per run (5; QUICK=1: 2)
#   CE_INTERVAL          checkpoint interval (2 s)
#   CE_MAX_FILL_SECONDS  stop filling after this long and measure anyway (240)
#   CE_RESULTS           JSON output (bench/results/checkpoint_encryption.json;
#                        QUICK=1: bench/results/checkpoint_encryption-quick.json)
#   SLUICE_BIN_DIR       binaries (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
quick="${QUICK:-}"
. "$here/bench/lib.sh"
runs=$(bench_runs)
if [ -n "$quick" ]; then
  : "${CE_KEYS:=100000}" "${CE_CHECKPOINTS:=2}"
fi
out="${CE_RESULTS:-$(bench_results checkpoint_encryption)}"
keys="${CE_KEYS:-1000000}"
backends="${CE_BACKENDS:-hashmap}"
fill="${CE_FILL:-2}"
nchk="${CE_CHECKPOINTS:-5}"
interval="${CE_INTERVAL:-2 s}"
max_fill="${CE_MAX_FILL_SECONDS:-240}"

bench_root ckenc
bench_begin checkpoint_encryption "$out" "bench/checkpoint_encryption.sh $*"
for v in keys backends fill nchk interval max_fill runs; do bench_param "$v" "${!v}"; done
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$root/checkpoint.key"
chmod 600 "$root/checkpoint.key"
sl() { "$bin/sluice" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# cluster off|on: a fresh cluster, with the key file for "on"
cluster() {
  "$here/scripts/stop-cluster.sh" >/dev/null 2>&1 || true
  {
    printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\n' "$port"
    printf 'taskmanager.state.local.root-dirs: %s\nheartbeat.interval: 100 ms\n' "$root/local"
    printf 'heartbeat.timeout: 60 s\n'
    printf 'state.checkpoints.dir: file://%s/checkpoints\n' "$root"
    [ "$1" = off ] || printf 'state.checkpoints.encryption.key-file: %s\n' "$root/checkpoint.key"
  } > "$SLUICE_CONF_DIR/sluice.yaml"
  bench_start
  if [ "$1" = on ]; then
    grep -q "checkpoints and savepoints are encrypted" "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log ||
      { echo "checkpoint_encryption: the taskmanager did not load the key" >&2; exit 1; }
  fi
}

# job FILE NAME BACKEND: the job file
job() {
  {
    printf 'name: %s\nparallelism: 1\nconfig:\n  state.backend.type: %s\n' "$2" "$3"
    printf '  execution.checkpointing.interval: %s\n' "$interval"
    printf '  state.checkpoints.num-retained: 1\n'
    printf 'pipeline:\n  - name: gen\n    source: datagen\n    seed: 7\n    keys: %s\n' "$keys"
    printf '  - name: counts\n    operator: count\n    key-by: key\n'
    printf '  - name: out\n    sink: blackhole\n'
  } > "$1"
}

# checkpoint records of job $1: "id status duration-ms state-size sync-ms async-ms"
checkpoint_lines() {
  sl checkpoints "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c in sorted(d.get("checkpoints", []), key=lambda c: c["id"]):
    sub = [s for s in c.get("subtasks", []) if s["chain"].startswith("counts")]
    s = sub[0] if sub else {"sync-ms": 0, "async-ms": 0}
    print(c["id"], c["status"], c["duration-ms"], c["state-size"], s["sync-ms"], s["async-ms"])
'
}

counted() {
  sl info "$1" 2>/dev/null |
    awk '$1 == "task" { t = $2 } $1 == "records" && t ~ /^counts/ { gsub(",", "", $3); n = $3 }
         END { print n + 0 }' || echo 0
}

# sealed_check JOB MODE: the latest checkpoint's _metadata is version 3 for
# "on", 1 for "off" (the bench measures what it says it measures)
sealed_check() {
  local md v want=1
  md=$(find "$root/checkpoints/$1" -name _metadata | head -n 1)
  [ -n "$md" ] || return 0
  v=$(od -An -tu4 -j4 -N4 "$md" | tr -d ' ')
  [ "$2" = off ] || want=3
  [ "$v" = "$want" ] || { echo "checkpoint_encryption: $md has version $v, expected $want" >&2; exit 1; }
}

# measure BACKEND MODE RUN
measure() {
  local be="$1" mode="$2" row="$1 encryption $2" j t0 seen=0 base now done_n
  job "$root/s.yaml" "ckenc-$be-$mode" "$be"
  j=$(sl run -d "$root/s.yaml" | awk '{ print $NF }')
  t0=$(date +%s)
  while :; do
    seen=$(counted "$j")
    now=$(date +%s)
    [ "$seen" -lt $((fill * keys)) ] && [ $((now - t0)) -lt "$max_fill" ] || break
    sleep 0.5
  done
  bench_sample "$row" fill_seconds $((now - t0))
  base=$(checkpoint_lines "$j" | awk '$2 == "COMPLETED" { i = $1 } END { print i + 0 }')
  log "  run $3, $be, encryption $mode: $seen records counted in $((now - t0)) s; measuring $nchk checkpoints after $base"
  while :; do
    done_n=$(checkpoint_lines "$j" | awk -v b="$base" '$2 == "COMPLETED" && $1 > b' | wc -l)
    [ "$done_n" -lt "$nchk" ] || break
    if [ $(($(date +%s) - now)) -gt 600 ]; then log "  gave up waiting"; break; fi
    sleep 0.5
  done
  sealed_check "$j" "$mode"
  while read -r id ms size sync async; do
    printf '    checkpoint %d: %d ms, %.1f MB (count task: sync %d ms, async %d ms)\n' \
      "$id" "$ms" "$(awk -v b="$size" 'BEGIN { print b / 1e6 }')" "$sync" "$async"
    bench_sample "$row" duration_ms "$ms"
    bench_sample "$row" state_size_bytes "$size"
    bench_sample "$row" sync_ms "$sync"
    bench_sample "$row" async_ms "$async"
  done < <(checkpoint_lines "$j" | awk -v b="$base" -v m="$nchk" \
    '$2 == "COMPLETED" && $1 > b && m-- > 0 { print $1, $3, $4, $5, $6 }')
  sl cancel "$j" >/dev/null
}

log "checkpoint duration, encryption off and on ($backends; $keys keys; $fill records per key first; $runs run(s))"
for r in $(seq 1 "$runs"); do
  if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
  for mode in $order; do
    cluster "$mode"
    for be in $backends; do measure "$be" "$mode" "$r"; done
  done
done

echo
echo "each cell median (min-max) over $nchk checkpoints of each of $runs run(s); $(bench_pow10 "$keys") keys"
echo "| backend | encryption | checkpoint size | duration | count task sync / async |"
echo "|---|---|---|---|---|"
for be in $backends; do
  for mode in off on; do
    row="$be encryption $mode"
    echo "| $be | $mode | $(bench_cell "$row" state_size_bytes 1e6 %.1f " MB") |" \
      "$(bench_cell "$row" duration_ms 1 "int," " ms") |" \
      "$(bench_cell "$row" sync_ms 1 "int," " ms") / $(bench_cell "$row" async_ms 1 "int," " ms") |"
  done
done
bench_end
