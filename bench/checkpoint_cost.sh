#!/usr/bin/env bash
# Checkpoint cost: datagen -> count (key-by key) -> blackhole, parallelism 1,
# on 1 jobmanager and 1 taskmanager (1 slot).
#
#   1. Throughput: an unbounded datagen over CC_KEYS keys (hashmap state),
#      with no checkpoints (A) and with a checkpoint every 1 s (B),
#      alternated (A B, B A, A B, ...) for ROUNDS pairs in one cluster.
#      Each run: WARMUP seconds (the keys fill), then the records the count
#      task read over WINDOW seconds (`sluice info`; the taskmanager sends
#      its counters with every heartbeat, here every 100 ms), then cancel.
#      The cost is 1 - B/A, the median over the rounds of each pair's ratio.
#   2. Duration and size: for each backend and key count K, an unbounded
#      datagen over K keys with a checkpoint every CC_INTERVAL; once the
#      count task has seen FILL * K records (so about 1 - e^-FILL of the
#      keys exist), the next CC_CHECKPOINTS completed checkpoints are
#      recorded (duration, size, the count task's synchronous and
#      asynchronous parts), then the job is cancelled. This is repeated
#      BENCH_RUNS times with a new job (the configurations alternated), and
#      the figures of all runs' checkpoints are summarized; a configuration
#      whose first fill took longer than CC_ONCE_FILL_SECONDS (or hit
#      CC_MAX_FILL_SECONDS) runs once.
#
# Usage: bench/checkpoint_cost.sh [WINDOW] [ROUNDS]
#   WINDOW   seconds measured per throughput run (default 15; QUICK=1: 2)
#   ROUNDS   pairs of throughput runs (default BENCH_RUNS: 3; QUICK=1: 2)
# Environment:
#   BENCH_RUNS           runs of part 2, default of ROUNDS (3; QUICK=1: 1)
#   CC_WARMUP            seconds before the window (4; QUICK=1: 1)
#   CC_KEYS              keys of the throughput runs (1,000,000; QUICK=1: 100,000)
#   CC_SIZES             key counts of part 2 ("100000 1000000 10000000";
#                        QUICK=1: "10000 100000")
#   CC_BACKENDS          backends of part 2 ("hashmap leveldb")
#   CC_FILL              records per key before measuring (2)
#   CC_CHECKPOINTS       checkpoints measured per size (3; QUICK=1: 2)
#   CC_INTERVAL          checkpoint interval of part 2 (1 s)
#   CC_MAX_FILL_SECONDS  stop filling after this long and measure anyway (240)
#   CC_ONCE_FILL_SECONDS a configuration whose first fill takes longer runs
#                        once (60; leveldb at 10^7 keys takes the full 240 s)
#   CC_RESULTS           JSON output (bench/results/checkpoint_cost.json;
#                        QUICK=1: bench/results/checkpoint_cost-quick.json)
#   SLUICE_BIN_DIR       binaries (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
quick="${QUICK:-}"
. "$here/bench/lib.sh"
runs=$(bench_runs)
if [ -n "$quick" ]; then
  window="${1:-2}" rounds="${2:-$((runs > 2 ? runs : 2))}"
  : "${CC_WARMUP:=1}" "${CC_KEYS:=100000}" "${CC_SIZES:=10000 100000}" "${CC_CHECKPOINTS:=2}"
else
  window="${1:-15}" rounds="${2:-$runs}"
fi
out="${CC_RESULTS:-$(bench_results checkpoint_cost)}"
warmup="${CC_WARMUP:-4}"
keys="${CC_KEYS:-1000000}"
sizes="${CC_SIZES:-100000 1000000 10000000}"
backends="${CC_BACKENDS:-hashmap leveldb}"
fill="${CC_FILL:-2}"
nchk="${CC_CHECKPOINTS:-3}"
interval="${CC_INTERVAL:-1 s}"
max_fill="${CC_MAX_FILL_SECONDS:-240}"
once_fill="${CC_ONCE_FILL_SECONDS:-60}"

bench_root ckpt
bench_begin checkpoint_cost "$out" "bench/checkpoint_cost.sh $*"
for v in window warmup keys rounds sizes backends fill nchk interval max_fill once_fill; do bench_param "$v" "${!v}"; done
{
  printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\n' "$port"
  printf 'taskmanager.state.local.root-dirs: %s\nheartbeat.interval: 100 ms\n' "$root/local"
  # large synchronous snapshots (leveldb, 10^7 keys) must not look like a hang
  printf 'heartbeat.timeout: 60 s\n'
} > "$SLUICE_CONF_DIR/sluice.yaml"
bench_start
sl() { "$bin/sluice" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# job FILE NAME BACKEND KEYS COUNT|- INTERVAL|-: writes a job file
job() {
  {
    printf 'name: %s\nparallelism: 1\nconfig:\n  state.backend.type: %s\n' "$2" "$3"
    if [ "$6" != - ]; then
      printf '  execution.checkpointing.interval: %s\n' "$6"
      printf '  state.checkpoints.dir: file://%s/checkpoints\n' "$root"
      printf '  state.checkpoints.num-retained: 1\n'
    fi
    printf 'pipeline:\n  - name: gen\n    source: datagen\n    seed: 7\n    keys: %s\n' "$4"
    [ "$5" = - ] || printf '    count: %s\n' "$5"
    printf '  - name: counts\n    operator: count\n    key-by: key\n'
    printf '  - name: out\n    sink: blackhole\n'
  } > "$1"
}

# checkpoint records of job $1 as lines "id status duration-ms state-size
# sync-ms async-ms" (sync and async of the count task), oldest first
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

# records the count task has read so far (0 if unknown)
counted() {
  sl info "$1" 2>/dev/null |
    awk '$1 == "task" { t = $2 } $1 == "records" && t ~ /^counts/ { gsub(",", "", $3); n = $3 }
         END { print n + 0 }' || echo 0
}

# ---- 1. throughput, no checkpoints (A) against every 1 s (B)
job "$root/a.yaml" cost-none hashmap "$keys" - -
job "$root/b.yaml" cost-1s hashmap "$keys" - "1 s"
none="no checkpoints" every="checkpoint every 1 s" pair="ratio every 1 s / none"
# run_tp CONFIG ROUND: one run; sets tp_rate
run_tp() {
  local j c0 c1 t0 t1 nc=0 secs
  j=$(sl run -d "$root/$1.yaml" | awk '{ print $NF }')
  sleep "$warmup"
  c0=$(counted "$j")
  t0=$(date +%s.%N)
  sleep "$window"
  c1=$(counted "$j")
  t1=$(date +%s.%N)
  [ "$1" = a ] || nc=$(sl checkpoints "$j" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["counts"]["completed"])')
  sl cancel "$j" >/dev/null
  [ "$c1" -gt "$c0" ] || { echo "checkpoint_cost: job $j made no progress" >&2; exit 1; }
  read -r secs tp_rate < <(awk -v a="$t0" -v b="$t1" -v n=$((c1 - c0)) 'BEGIN { printf "%.3f %.0f\n", b - a, n / (b - a) }')
  if [ "$1" = a ]; then
    bench_sample "$none" records_per_s "$tp_rate"
    echo "  round $2, no checkpoints: $((c1 - c0)) records in $secs s = $tp_rate records/s"
  else
    bench_sample "$every" records_per_s "$tp_rate"
    bench_sample "$every" checkpoints_completed "$nc"
    echo "  round $2, every 1 s: $((c1 - c0)) records in $secs s = $tp_rate records/s ($nc checkpoints completed)"
  fi
}
log "1/2 throughput: $keys keys, hashmap, ${warmup} s warm-up then ${window} s measured," \
  "$rounds rounds of (none, every 1 s) alternated"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then run_tp a "$r"; ra=$tp_rate; run_tp b "$r"; rb=$tp_rate
  else run_tp b "$r"; rb=$tp_rate; run_tp a "$r"; ra=$tp_rate; fi
  bench_sample "$pair" ratio "$(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.4f", b / a }')"
done

# ---- 2. checkpoint duration and size per backend and key count
declare -A once
# measure BACKEND KEYS RUN: one job, CC_CHECKPOINTS checkpoints sampled in row "BACKEND KEYS"
measure() {
  local be="$1" k="$2" row="$1 $2" j t0 seen=0 base=0 now done_n said=
  job "$root/s.yaml" "ckpt-$be-$k" "$be" "$k" - "$interval"
  j=$(sl run -d "$root/s.yaml" | awk '{ print $NF }')
  t0=$(date +%s)
  while :; do
    seen=$(counted "$j")
    now=$(date +%s)
    [ "$seen" -lt $((fill * k)) ] && [ $((now - t0)) -lt "$max_fill" ] || break
    [ $(((now - t0) % 5)) != 4 ] || [ "$now" = "${said:-}" ] ||
      log "  $be $k keys: filling, $seen of $((fill * k)) records after $((now - t0)) s"
    said=$now
    sleep 0.5
  done
  [ "$seen" -ge $((fill * k)) ] && [ $((now - t0)) -le "$once_fill" ] || once[$row]=$((now - t0))
  bench_sample "$row" records_counted "$seen"
  bench_sample "$row" fill_seconds $((now - t0))
  bench_sample "$row" keys_filled_percent "$(awk -v s="$seen" -v k="$k" 'BEGIN { printf "%.1f", 100 * (1 - exp(-s / k)) }')"
  base=$(checkpoint_lines "$j" | awk '$2 == "COMPLETED" { i = $1 } END { print i + 0 }')
  log "  run $3, $be $k keys: $seen records counted; measuring $nchk checkpoints after checkpoint $base"
  while :; do
    done_n=$(checkpoint_lines "$j" | awk -v b="$base" '$2 == "COMPLETED" && $1 > b' | wc -l)
    [ "$done_n" -lt "$nchk" ] || break
    if [ $(($(date +%s) - now)) -gt 600 ]; then log "  $be $k keys: gave up waiting"; break; fi
    sleep 0.5
  done
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
log "2/2 checkpoint duration and size ($backends; $sizes keys; $fill records per key first; $runs run(s))"
for r in $(seq 1 "$runs"); do
  for be in $backends; do
    for k in $sizes; do
      if [ -n "${once[$be $k]:-}" ]; then
        log "  run $r, $be $k keys: skipped (its first fill took ${once[$be $k]} s: one run)"
        continue
      fi
      measure "$be" "$k" "$r"
    done
  done
done

# ---- summary
echo
echo "throughput: each cell median (min-max) of $rounds runs ($rounds pairs, alternated)"
echo "| configuration ($(awk -v k="$keys" 'BEGIN { printf "%g M", k / 1e6 }') keys, hashmap) | records/s |"
echo "|---|---|"
echo "| $none | $(bench_cell "$none" records_per_s 1e6 %.2f " M") |"
echo "| $every | $(bench_cell "$every" records_per_s 1e6 %.2f " M") |"
read -r _ _ med_ratio _ < <(bench_stat "$pair" ratio)
echo "| ratio, median of $rounds pairs (min-max) | $(bench_cell "$pair" ratio 1 %.3f):" \
  "**$(awk -v r="$med_ratio" 'BEGIN { printf "%.1f", 100 * (1 - r) }')% cost** |"
echo
echo "checkpoints: each cell median (min-max) over $nchk checkpoints of each of $runs run(s)" \
  "(fill and records counted: per run)"
echo "| backend | keys | checkpoint size | duration | count task sync / async |"
echo "|---|---|---|---|---|"
for be in $backends; do
  for k in $sizes; do
    row="$be $k"
    read -r n _ filled _ < <(bench_stat "$row" keys_filled_percent)
    [ "$n" -gt 0 ] || continue
    read -r _ _ counted _ < <(bench_stat "$row" records_counted)
    label=$(bench_pow10 "$k")
    if [ -n "${once[$row]:-}" ]; then
      if awk -v c="$counted" -v t=$((fill * k)) 'BEGIN { exit !(c < t) }'; then
        label="$label ($(printf '%.0f' "$filled")% filled, 1 run)"
      else
        label="$label (1 run)"
      fi
    fi
    echo "| $be | $label | $(bench_cell "$row" state_size_bytes 1e6 %.1f " MB") |" \
      "$(bench_cell "$row" duration_ms 1 "int," " ms") |" \
      "$(bench_cell "$row" sync_ms 1 "int," " ms") / $(bench_cell "$row" async_ms 1 "int," " ms") |"
  done
done
bench_end
