#!/usr/bin/env bash
# Recovery with keyed state: datagen (K keys, full speed) -> count (key-by
# key) -> filter (key % 1000 == 0, so the output stays small) -> file sink,
# parallelism 1, checkpoints every 1 s, fixed-delay restarts with a 0 ms
# delay, on 1 jobmanager and 2 taskmanagers with 1 slot each: one runs the
# job, the other is the spare that takes over. For each K, once the count
# task has seen FILL * K records (about 1 - e^-FILL of the keys exist) and
# a checkpoint completed after that, the taskmanager running the job gets
# SIGKILL; measured from the kill (polling every 10 ms):
#   - RUNNING: the job RUNNING again in a new attempt (`sluice info`),
#   - first new output: the restored sink opens its first part file (it
#     does so on its first record; at most about 1000 records after the
#     count task resumes, given the filter),
#   - restore: the count task's log line "task counts... restored N bytes
#     from K state file(s) of DIR in T ms" on the taskmanager that took
#     over: bytes restored, T, bandwidth N / T, and when the line was
#     written (from its timestamp) relative to the kill.
# A new spare is started after every kill; ROUNDS kills per K (each kill
# is one run).
#
# Usage: bench/recovery_state.sh [ROUNDS]      (default BENCH_RUNS: 3; QUICK=1: 1)
# Environment:
#   RS_SIZES      key counts ("100000 1000000 10000000"; QUICK=1: "100000")
#   RS_BACKEND    state backend (hashmap)
#   RS_FILL       records per key before the first kill (2)
#   RS_RESULTS    JSON output (bench/results/recovery_state.json;
#                 QUICK=1: bench/results/recovery_state-quick.json)
#   SLUICE_BIN_DIR  binaries (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
. "$here/bench/lib.sh"
rounds="${1:-$(bench_runs)}"
[ -z "${QUICK:-}" ] || : "${RS_SIZES:=100000}"
out="${RS_RESULTS:-$(bench_results recovery_state)}"
sizes="${RS_SIZES:-100000 1000000 10000000}"
backend="${RS_BACKEND:-hashmap}"
fill="${RS_FILL:-2}"

bench_root recstate
bench_begin recovery_state "$out" "bench/recovery_state.sh $*"
for v in rounds sizes backend fill; do bench_param "$v" "${!v}"; done
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\ntaskmanager.state.local.root-dirs: %s\n' \
  "$port" "$root/local" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_workers 2
bench_start
sl() { "$bin/sluice" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now_ms() { date +%s%3N; }

# job K: writes $root/job-K.yaml
job() {
  cat > "$root/job-$1.yaml" <<JOB
name: recovery-state-$1
parallelism: 1
config:
  state.backend.type: $backend
  execution.checkpointing.interval: 1 s
  state.checkpoints.dir: file://$root/checkpoints
  state.checkpoints.num-retained: 1
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 100
  restart-strategy.fixed-delay.delay: 0 ms
pipeline:
  - name: gen
    source: datagen
    seed: 7
    keys: $1
  - name: counts
    operator: count
    key-by: key
  - name: sample
    operator: filter
    where: "key % 1000 == 0"
  - name: out
    sink: file
    path: $root/out-$1
JOB
}

field() { sl info "$1" 2>/dev/null | awk -v k="$2:" '$1 == k { print $2 }' || true; }
# running_after JOB ATTEMPT: the job is RUNNING in an attempt after ATTEMPT
running_after() {
  sl info "$1" 2>/dev/null | awk -v a="$2" '$1 == "state:" { s = $2 } $1 == "attempt:" { n = $2 }
    END { exit !(s == "RUNNING" && n + 0 > a + 0) }'
}
counted() {
  sl info "$1" 2>/dev/null |
    awk '$1 == "task" { t = $2 } $1 == "records" && t ~ /^counts/ { gsub(",", "", $3); n = $3 }
         END { print n + 0 }' || echo 0
}
latest_chk() {
  sl checkpoints "$1" 2>/dev/null | awk '$1 == "latest" && $2 == "completed:" { print $3 + 0 }' || true
}
# uids of the part files in folder $1: a new attempt's sink uses a fresh one
uids() { find "$1" -name '*part-*' -printf '%f\n' 2>/dev/null |
  sed -E 's/^\.?part-([0-9a-f]{16})-.*/\1/' | sort -u; }

echo "recovery with state: $backend backend, $rounds kill(s) per size"

# wait_checkpoint JOB AFTER: until a checkpoint newer than AFTER completed
wait_checkpoint() {
  local c
  while :; do
    c=$(latest_chk "$1")
    [ -z "$c" ] || [ "$c" -le "$2" ] || break
    sleep 0.2
  done
}

# kill_round K JOB ROUND: one kill and its measurements (samples of row K)
kill_round() {
  local k="$1" j="$2" r="$3" attempt tm pid before t0 t1 t2 line bytes files ms at
  attempt=$(field "$j" attempt)
  tm=$(sl info "$j" | awk '$1 == "task" && $2 ~ /^counts/ { print $5; exit }')
  pid=$(sl taskmanagers | awk -v t="$tm" '$1 == t { print $3 }')
  before=$(uids "$root/out-$k")
  t0=$(now_ms)
  kill -9 "$pid"
  until running_after "$j" "$attempt"; do sleep 0.01; done
  t1=$(now_ms)
  while [ -z "$(comm -13 <(echo "$before") <(uids "$root/out-$k") | head -1)" ]; do
    sleep 0.01
    if [ $(($(now_ms) - t0)) -gt 300000 ]; then echo "no new output after 300 s" >&2; exit 1; fi
  done
  t2=$(now_ms)
  # the restore line of the count task in the new attempt (newest first)
  line=$(grep -h "task counts.* of job $j: restored" "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log |
    sort | tail -1)
  read -r bytes files ms < <(sed -E 's/.*restored ([0-9]+) bytes from ([0-9]+) state file.* in ([0-9]+) ms.*/\1 \2 \3/' <<<"$line")
  at=$(( $(date -d "$(cut -c1-23 <<<"$line")" +%s%3N) - t0 ))
  bench_sample "$k" running_ms $((t1 - t0))
  bench_sample "$k" first_output_ms $((t2 - t0))
  bench_sample "$k" restored_bytes "$bytes"
  bench_sample "$k" state_files "$files"
  bench_sample "$k" restore_ms "$ms"
  [ "$ms" -le 0 ] || bench_sample "$k" restore_mb_per_s "$(awk -v b="$bytes" -v ms="$ms" 'BEGIN { printf "%.1f", b / 1e3 / ms }')"
  bench_sample "$k" restore_done_after_kill_ms "$at"
  awk -v k="$k" -v r="$r" -v a=$((t1 - t0)) -v b=$((t2 - t0)) -v by="$bytes" -v ms="$ms" -v at="$at" 'BEGIN {
    printf "  %d keys, kill %d: RUNNING after %d ms, first new output after %d ms; restored %.1f MB in %d ms (%s), done %d ms after the kill\n",
      k, r, a, b, by / 1e6, ms, (ms > 0 ? sprintf("%.0f MB/s", by / 1e3 / ms) : "under 1 ms"), at }'
  bench_spare
}

for k in $sizes; do
  job "$k"
  j=$(sl run -d "$root/job-$k.yaml" | awk '{ print $NF }')
  log "$k keys: job $j, filling to $((fill * k)) records"
  t0=$(date +%s) said=0
  while [ "$(counted "$j")" -lt $((fill * k)) ]; do
    sleep 0.5
    if [ $(($(date +%s) - said)) -ge 10 ]; then
      [ "$said" = 0 ] || log "  $(counted "$j") records counted after $(($(date +%s) - t0)) s"
      said=$(date +%s)
    fi
  done
  c=$(latest_chk "$j")
  wait_checkpoint "$j" "${c:-0}"
  for r in $(seq 1 "$rounds"); do
    [ "$r" = 1 ] || { c=$(latest_chk "$j"); wait_checkpoint "$j" "${c:-0}"; }
    sleep 0.5
    kill_round "$k" "$j" "$r"
  done
  sl cancel "$j" >/dev/null
  rm -rf "$root/checkpoints" "$root/out-$k"
done

echo
echo "each cell: median (min-max) of $rounds kill(s)"
echo "| keys | RUNNING again | first new output | bytes restored | restore time | restore bandwidth |"
echo "|---|---|---|---|---|---|"
for k in $sizes; do
  bw=$(bench_cell "$k" restore_mb_per_s 1 %.0f " MB/s")
  [ "$bw" != - ] || bw="> size / 1 ms"
  echo "| $(bench_pow10 "$k") | $(bench_cell "$k" running_ms 1 "int," " ms") |" \
    "$(bench_cell "$k" first_output_ms 1 "int," " ms") | $(bench_cell "$k" restored_bytes 1e6 %.1f " MB") |" \
    "$(bench_cell "$k" restore_ms 1 "int," " ms") | $bw |"
done
bench_end
