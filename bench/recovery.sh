#!/usr/bin/env bash
# Recovery time: word count (parallelism 2, rate-limited source, a checkpoint
# every second) on 3 taskmanagers with 1 slot each; SIGKILL the taskmanager
# running counts 0/2 and measure the time from the kill to
#   - the job RUNNING again (as `sluice info` shows it, polled every 10 ms),
#   - the first new output (the restored sink's first part file appears),
# over KILLS kills (each kill is one run).
# Usage: bench/recovery.sh [KILLS]       (default BENCH_RUNS: 3; QUICK=1: 1)
# Environment: REC_RESULTS (JSON, bench/results/recovery.json; QUICK=1:
#   recovery-quick.json), SLUICE_BIN_DIR (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
. "$here/bench/lib.sh"
rounds="${1:-$(bench_runs)}"
bench_root rec
bench_begin recovery "${REC_RESULTS:-$(bench_results recovery)}" "bench/recovery.sh $*"
bench_param kills "$rounds"
mkdir -p "$root/in" "$root/out"
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\n' "$port" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_workers 3
awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++) printf "word%d other%d and the rest\n", int(rand()*5000), i % 977 }' > "$root/in/text.txt"
cat > "$root/job.yaml" <<JOB
name: recovery-bench
parallelism: 2
config:
  execution.checkpointing.interval: 1 s
  state.checkpoints.dir: file://$root/checkpoints
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 100
  restart-strategy.fixed-delay.delay: 0 ms
pipeline:
  - name: lines
    source: file
    path: $root/in
    rate: 20000
  - name: words
    operator: tokenize
  - name: counts
    operator: count
    key-by: word
  - name: out
    sink: file
    path: $root/out
JOB
bench_start
sl() { "$bin/sluice" "$@"; }
now_ms() { date +%s%3N; }
field() { sl info "$job" | awk -v k="$1:" '$1 == k { print $2 }'; }
job=$(sl run -d "$root/job.yaml" | awk '{ print $NF }')
echo "restart strategy: fixed-delay with 0 ms delay; checkpoints every 1 s"
running="job RUNNING again"
output="first new output (a restored sink opens its first file)"
for r in $(seq 1 "$rounds"); do
  # wait for a completed checkpoint of the current attempt
  until [ "$(field state)" = RUNNING ] && sl checkpoints "$job" | grep -q "^latest completed: [0-9]"; do sleep 0.2; done
  sleep 1.5
  attempt=$(field attempt)
  tm=$(sl info "$job" | awk '$1 == "task" && $2 ~ /^counts/ && $3 == "0/2" { print $5 }')
  pid=$(sl taskmanagers | awk -v t="$tm" '$1 == t { print $3 }')
  # uids of the part files written so far: the new attempt's sinks use fresh ones
  uids() { find "$root/out" -name '*part-*' -printf '%f\n' | sed -E 's/^\.?part-([0-9a-f]{16})-.*/\1/' | sort -u; }
  before=$(uids)
  t0=$(now_ms)
  kill -9 "$pid"
  until [ "$(field attempt)" -gt "$attempt" ] && [ "$(field state)" = RUNNING ]; do sleep 0.01; done
  t1=$(now_ms)
  while :; do
    new=$(comm -13 <(echo "$before") <(uids) | head -1)
    [ -n "$new" ] && break
    sleep 0.01
  done
  t2=$(now_ms)
  printf 'kill %d: RUNNING again after %d ms, first new output after %d ms\n' "$r" $((t1 - t0)) $((t2 - t0))
  bench_sample "$running" ms $((t1 - t0))
  bench_sample "$output" ms $((t2 - t0))
  bench_spare
done
sl cancel "$job" >/dev/null

echo
echo "each cell: median (min-max) of $rounds kill(s)"
echo "| measurement | $rounds kills |"
echo "|---|---|"
echo "| $running | $(bench_cell "$running" ms 1 "int," " ms") |"
echo "| $output | $(bench_cell "$output" ms 1 "int," " ms") |"
bench_end
