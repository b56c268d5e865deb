#!/usr/bin/env bash
# End-to-end latency: datagen (parallelism 2, `ts: wall-us`: ts is the
# wall-clock time in microseconds when the record is created) -> blackhole
# (parallelism 1, `latency-field: ts`, `latency-unit: us`), so every record
# crosses one network edge (rebalance, two producers into one consumer),
# on 1 jobmanager and 1 taskmanager with 2 slots. The sink adds now - ts of
# every record to a histogram and logs count, p50, p99, p99.9 and max when
# its input ends (taskmanager/op_print_sink.c); this script greps that line.
#
#   1. maximum: LAT_MAX_RECORDS records with no rate limit, with each
#      buffer timeout; records/s over the wall time of `sluice run` (submit
#      to FINISHED); the maximum is the better of the runs (their latency
#      is reported too: under full load buffers leave when full);
#   2. at half that rate (`rate:` of datagen) for SECONDS seconds, once with
#      `execution.buffer-timeout: 1 ms` and once with 100 ms.
#
# Usage: bench/latency.sh [SECONDS]          (default 20; QUICK=1: 4)
# Environment:
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
  out="${LAT_RESULTS:-$here/bench/results/latency-quick.json}"
else
  secs="${1:-20}"
  out="${LAT_RESULTS:-$here/bench/results/latency.json}"
fi
max_n="${LAT_MAX_RECORDS:-20000000}"
IFS=, read -r -a timeouts <<<"${LAT_TIMEOUTS:-1 ms,100 ms}"

. "$here/bench/lib.sh"
bench_root lat
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

# run NAME LABEL COUNT RATE TIMEOUT: runs the job to the end; appends
# "LABEL|COUNT|RATE|TIMEOUT|SECONDS|records p50 p99 p999 max negative" to raw
run() {
  local t0 t1 res j line
  job "$1" "$3" "$4" "$5"
  t0=$(date +%s.%N)
  res=$(sl run "$root/$1.yaml")
  t1=$(date +%s.%N)
  j=$(awk '/submitted/ { print $NF }' <<<"$res")
  grep -q "finished with state FINISHED" <<<"$res" || { echo "latency: job $j: $res" >&2; exit 1; }
  line=$(grep -h "of job $j: latency" "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log | tail -1)
  [ -n "$line" ] || { echo "latency: no latency line for job $j" >&2; exit 1; }
  printf '%s|%s|%s|%s|%s|%s\n' "$2" "$3" "$4" "$5" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
    "$(sed -E 's/.* of ([0-9]+) records .* p50 ([0-9]+) p99 ([0-9]+) p99.9 ([0-9]+) max ([0-9]+) \(negative ([0-9]+)\).*/\1 \2 \3 \4 \5 \6/' <<<"$line")" \
    >> "$raw"
  tail -1 "$raw" | awk -F'|' '{ split($6, l, " ")
    printf "  %s: %d records in %.2f s (%.0f records/s): p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
      $1, $2, $5, $2 / $5, l[2] / 1e3, l[3] / 1e3, l[4] / 1e3, l[5] / 1e3 }'
}

cores=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
raw="$root/raw"
: > "$raw"
echo "latency: $cores cores ($model), results -> $out"

for i in "${!timeouts[@]}"; do timeouts[$i]="$(sed -E 's/^ +| +$//g' <<<"${timeouts[$i]}")"; done
log "1/2 maximum: $max_n records, no rate limit, buffer timeout ${timeouts[*]}"
for bt in "${timeouts[@]}"; do
  run "max-${bt// /}" "maximum, buffer timeout $bt" "$max_n" - "$bt"
done
max_rate=$(awk -F'|' '{ r = $2 / $5; if (r > m) m = r } END { printf "%.0f", m }' "$raw")
half=$((max_rate / 2))
log "2/2 at half the maximum ($max_rate records/s): $half records/s for $secs s"
for bt in "${timeouts[@]}"; do
  run "half-${bt// /}" "half load, buffer timeout $bt" $((half * secs)) "$half" "$bt"
done

mkdir -p "$(dirname "$out")"
python3 - "$raw" "$out" "$max_rate" "$date_utc" "$cores" "$model" "${quick:+true}" \
  "bench/latency.sh $*" <<'PY'
import json, sys
raw, out, max_rate, date, cores, model, quick, cmd = sys.argv[1:9]
runs = []
for line in open(raw):
    label, count, rate, timeout, secs, lat = line.rstrip("\n").split("|")
    n, p50, p99, p999, mx, neg = map(int, lat.split())
    runs.append(dict(run=label, records=int(count), rate=None if rate == "-" else int(rate),
                     buffer_timeout=timeout, seconds=float(secs),
                     achieved_records_per_s=round(int(count) / float(secs)),
                     latency_records=n, p50_us=p50, p99_us=p99, p999_us=p999, max_us=mx,
                     negative=neg))
doc = dict(benchmark="latency", date=date, cores=int(cores), cpu=model, command=cmd.strip(),
           quick=quick == "true", resolution="microseconds (datagen ts: wall-us)",
           pipeline="datagen (parallelism 2) -> rebalance -> blackhole (parallelism 1), 1 taskmanager",
           max_records_per_s=int(max_rate), runs=runs)
with open(out, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print()
print("| run | target rate | achieved | p50 | p99 | p99.9 | max |")
print("|---|---|---|---|---|---|---|")
for r in runs:
    print("| %s | %s | %.2f M/s | %.3f ms | %.3f ms | %.3f ms | %.3f ms |" % (
        r["run"], "none" if r["rate"] is None else "%.2f M/s" % (r["rate"] / 1e6),
        r["achieved_records_per_s"] / 1e6, r["p50_us"] / 1e3, r["p99_us"] / 1e3,
        r["p999_us"] / 1e3, r["max_us"] / 1e3))
PY
