#!/usr/bin/env bash
# End-to-end latency: datagen (parallelism 2, `ts: wall-us`: ts is the
# wall-clock time in microseconds when the record is created) -> blackhole
# (parallelism 1, `latency-field: ts`, `latency-unit: us`), so every record
# crosses one network edge (rebalance, two producers into one consumer),
# on 1 jobmanager and 1 taskmanager with 2 slots. The sink adds now - ts of
# every record to a histogram and logs count, p50, p99, p99.9 and max when
# its input ends (taskmanager/operators/op_print_sink.c); this script greps that line.
#
#   1. maximum: LAT_MAX_RECORDS records with no rate limit, with each
#      buffer timeout; records/s over submit to FINISHED as the jobmanager
#      records it; the maximum is the better of the two timeouts' medians
#      (their latency is reported too: under full load buffers leave when
#      full);
#   2. at half that rate (`rate:` of datagen) for SECONDS seconds, once with
#      `execution.buffer-timeout: 1 ms` and once with 100 ms.
# Each run of each part is repeated BENCH_RUNS times (3; QUICK=1: 1), the
# timeouts alternated.
#
# Usage: bench/latency.sh [SECONDS]          (default 20; QUICK=1: 4)
# Environment:
#   BENCH_RUNS       runs of each configuration (3; QUICK=1: 1)
#   LAT_MAX_RECORDS  records of the maximum run (20,000,000; QUICK=1: 2,000,000)
#   LAT_TIMEOUTS     buffer timeouts of both parts ("1 ms,100 ms", comma-separated)
#   LAT_RESULTS      JSON output (bench/results/latency.json;
#                    QUICK=1: bench/results/latency-quick.json)
#   SLUICE_BIN_DIR   binaries (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
quick="${QUICK:-}"
if [ -n "$quick" ]; then
  secs="${1:-4}"
  : "${LAT_MAX_RECORDS:=2000000}"
else
  secs="${1:-20}"
fi
max_n="${LAT_MAX_RECORDS:-20000000}"
IFS=, read -r -a timeouts <<<"${LAT_TIMEOUTS:-1 ms,100 ms}"

. "$here/bench/lib.sh"
out="${LAT_RESULTS:-$(bench_results latency)}"
runs=$(bench_runs)
bench_root lat
bench_begin latency "$out" "bench/latency.sh $*"
bench_param seconds "$secs"
bench_param max_records "$max_n"
bench_param resolution "microseconds (datagen ts: wall-us)"
bench_param pipeline "datagen (parallelism 2) -> rebalance -> blackhole (parallelism 1), 1 taskmanager"
printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 2\n' "$port" > "$SLUICE_CONF_DIR/sluice.yaml"
bench_start
sl() { "$bin/sluice" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# job NAME COUNT RATE|- TIMEOUT: writes $root/NAME.yaml
job() {
  {
    printf 'name: %s\nparallelism: 1\nconfig:\n  execution.buffer-timeout: %s\n' "$1" "$4"
    printf 'pipeline:\n  - name: gen\n    source: datagen\n    parallelism: 2\n'
    printf '    seed: 7\n    keys: 1000\n    count: %s\n    ts: wall-us\n' "$2"
    [ "$3" = - ] || printf '    rate: %s\n' "$3"
    printf '  - name: out\n    sink: blackhole\n    latency-field: ts\n    latency-unit: us\n'
  } > "$root/$1.yaml"
}

# run NAME LABEL COUNT RATE TIMEOUT: runs the job to the end; samples of row LABEL
run() {
  local line n p50 p99 p999 mx neg rate
  job "$1" "$3" "$4" "$5"
  bench_run_job "$root/$1.yaml"
  line=$(grep -h "of job $bench_job: latency" "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log | tail -1)
  [ -n "$line" ] || { echo "latency: no latency line for job $bench_job" >&2; exit 1; }
  read -r n p50 p99 p999 mx neg < <(sed -E 's/.* of ([0-9]+) records .* p50 ([0-9]+) p99 ([0-9]+) p99.9 ([0-9]+) max ([0-9]+) \(negative ([0-9]+)\).*/\1 \2 \3 \4 \5 \6/' <<<"$line")
  rate=$(awk -v c="$3" -v s="$bench_job_secs" 'BEGIN { printf "%.0f", c / s }')
  bench_sample "$2" seconds "$bench_job_secs"
  bench_sample "$2" achieved_records_per_s "$rate"
  bench_sample "$2" latency_records "$n"
  bench_sample "$2" p50_us "$p50"
  bench_sample "$2" p99_us "$p99"
  bench_sample "$2" p999_us "$p999"
  bench_sample "$2" max_us "$mx"
  bench_sample "$2" negative "$neg"
  awk -v l="$2" -v c="$3" -v s="$bench_job_secs" -v r="$rate" -v a="$p50" -v b="$p99" -v d="$p999" -v m="$mx" 'BEGIN {
    printf "  %s: %d records in %.2f s (%d records/s): p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
      l, c, s, r, a / 1e3, b / 1e3, d / 1e3, m / 1e3 }'
}

for i in "${!timeouts[@]}"; do timeouts[$i]="$(sed -E 's/^ +| +$//g' <<<"${timeouts[$i]}")"; done
log "1/2 maximum: $max_n records, no rate limit, buffer timeout ${timeouts[*]}, $runs run(s)"
for _ in $(seq 1 "$runs"); do
  for bt in "${timeouts[@]}"; do
    run "max-${bt// /}" "maximum, buffer timeout $bt" "$max_n" - "$bt"
  done
done
max_rate=0
for bt in "${timeouts[@]}"; do
  read -r _ _ m _ < <(bench_stat "maximum, buffer timeout $bt" achieved_records_per_s)
  max_rate=$(awk -v a="$max_rate" -v b="$m" 'BEGIN { printf "%.0f", (b > a ? b : a) }')
done
half=$((max_rate / 2))
bench_param max_records_per_s "$max_rate"
bench_param half_records_per_s "$half"
log "2/2 at half the maximum ($max_rate records/s, the better median): $half records/s for $secs s, $runs run(s)"
for _ in $(seq 1 "$runs"); do
  for bt in "${timeouts[@]}"; do
    run "half-${bt// /}" "half load, buffer timeout $bt" $((half * secs)) "$half" "$bt"
  done
done

echo
bench_caption
echo "| run | target rate | achieved | p50 | p99 | p99.9 | max |"
echo "|---|---|---|---|---|---|---|"
for part in maximum half; do
  for bt in "${timeouts[@]}"; do
    if [ "$part" = maximum ]; then row="maximum, buffer timeout $bt" target=none
    else row="half load, buffer timeout $bt" target=$(awk -v h="$half" 'BEGIN { printf "%.2f M/s", h / 1e6 }'); fi
    echo "| $row | $target | $(bench_cell "$row" achieved_records_per_s 1e6 %.2f " M/s") |" \
      "$(bench_cell "$row" p50_us 1e3 %.3f " ms") | $(bench_cell "$row" p99_us 1e3 %.3f " ms") |" \
      "$(bench_cell "$row" p999_us 1e3 %.3f " ms") | $(bench_cell "$row" max_us 1e3 %.3f " ms") |"
  done
done
bench_end
