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
#      asynchronous parts), then the job is cancelled.
#
# Usage: bench/checkpoint_cost.sh [WINDOW] [ROUNDS]
#   WINDOW   seconds measured per throughput run (default 15; QUICK=1: 2)
#   ROUNDS   pairs of throughput runs (default 5; QUICK=1: 2)
# Environment:
#   CC_WARMUP            seconds before the window (4; QUICK=1: 1)
#   CC_KEYS              keys of the throughput runs (1,000,000; QUICK=1: 100,000)
#   CC_SIZES             key counts of part 2 ("100000 1000000 10000000";
#                        QUICK=1: "10000 100000")
#   CC_BACKENDS          backends of part 2 ("hashmap leveldb")
#   CC_FILL              records per key before measuring (2)
#   CC_CHECKPOINTS       checkpoints measured per size (3; QUICK=1: 2)
#   CC_INTERVAL          checkpoint interval of part 2 (1 s)
#   CC_MAX_FILL_SECONDS  stop filling after this long and measure anyway (240)
#   CC_RESULTS           JSON output (bench/results/checkpoint_cost.json;
#                        QUICK=1: bench/results/checkpoint_cost-quick.json)
#   SLUICE_BIN_DIR       binaries (build/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
quick="${QUICK:-}"
if [ -n "$quick" ]; then
  window="${1:-2}" rounds="${2:-2}"
  : "${CC_WARMUP:=1}" "${CC_KEYS:=100000}" "${CC_SIZES:=10000 100000}" "${CC_CHECKPOINTS:=2}"
  out="${CC_RESULTS:-$here/bench/results/checkpoint_cost-quick.json}"
else
  window="${1:-15}" rounds="${2:-5}"
  out="${CC_RESULTS:-$here/bench/results/checkpoint_cost.json}"
fi
warmup="${CC_WARMUP:-4}"
keys="${CC_KEYS:-1000000}"
sizes="${CC_SIZES:-100000 1000000 10000000}"
backends="${CC_BACKENDS:-hashmap leveldb}"
fill="${CC_FILL:-2}"
nchk="${CC_CHECKPOINTS:-3}"
interval="${CC_INTERVAL:-1 s}"
max_fill="${CC_MAX_FILL_SECONDS:-240}"

. "$here/bench/lib.sh"
bench_root ckpt
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

cores=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
raw="$root/raw"
: > "$raw"
echo "checkpoint cost: $cores cores ($model), results -> $out"

# ---- 1. throughput, no checkpoints (A) against every 1 s (B)
job "$root/a.yaml" cost-none hashmap "$keys" - -
job "$root/b.yaml" cost-1s hashmap "$keys" - "1 s"
# run_tp CONFIG ROUND: one run, appends "tp CONFIG ROUND RECORDS SECONDS CHECKPOINTS" to raw
run_tp() {
  local j c0 c1 t0 t1 nc=0
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
  awk -v c="$1" -v r="$2" -v c0="$c0" -v c1="$c1" -v a="$t0" -v b="$t1" -v nc="$nc" 'BEGIN {
    printf "tp %s %d %d %.3f %d\n", c, r, c1 - c0, b - a, nc }' >> "$raw"
  tail -1 "$raw" | awk '{ printf "  round %d, %s: %d records in %.2f s = %.0f records/s%s\n", $3,
    $2 == "a" ? "no checkpoints" : "every 1 s", $4, $5, $4 / $5,
    $2 == "b" ? sprintf(" (%d checkpoints completed)", $6) : "" }'
}
log "1/2 throughput: $keys keys, hashmap, ${warmup} s warm-up then ${window} s measured," \
  "$rounds rounds of (none, every 1 s) alternated"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then run_tp a "$r"; run_tp b "$r"; else run_tp b "$r"; run_tp a "$r"; fi
done

# ---- 2. checkpoint duration and size per backend and key count
# measure BACKEND KEYS: appends "chk BACKEND KEYS RECORDS id duration size sync async" lines
measure() {
  local be="$1" k="$2" j t0 seen=0 base=0 now done_n said=
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
  base=$(checkpoint_lines "$j" | awk '$2 == "COMPLETED" { i = $1 } END { print i + 0 }')
  log "  $be $k keys: $seen records counted; measuring $nchk checkpoints after checkpoint $base"
  while :; do
    done_n=$(checkpoint_lines "$j" | awk -v b="$base" '$2 == "COMPLETED" && $1 > b' | wc -l)
    [ "$done_n" -lt "$nchk" ] || break
    if [ $(($(date +%s) - now)) -gt 600 ]; then log "  $be $k keys: gave up waiting"; break; fi
    sleep 0.5
  done
  checkpoint_lines "$j" | awk -v b="$base" -v be="$be" -v k="$k" -v s="$seen" -v m="$nchk" \
    '$2 == "COMPLETED" && $1 > b && m-- > 0 { print "chk", be, k, s, $1, $3, $4, $5, $6 }' |
    tee -a "$raw" | awk '{ printf "    checkpoint %d: %d ms, %.1f MB (count task: sync %d ms, async %d ms)\n",
      $5, $6, $7 / 1e6, $8, $9 }'
  sl cancel "$j" >/dev/null
}
log "2/2 checkpoint duration and size ($backends; $sizes keys; $fill records per key first)"
for be in $backends; do
  for k in $sizes; do
    measure "$be" "$k"
  done
done

# ---- results: JSON and tables
mkdir -p "$(dirname "$out")"
python3 - "$raw" "$out" "$window" "$warmup" "$keys" "$rounds" "$fill" "$interval" "$date_utc" \
  "$cores" "$model" "${quick:+true}" "bench/checkpoint_cost.sh $*" <<'PY'
import json, statistics, sys
raw, out, window, warmup, keys, rounds, fill, interval, date, cores, model, quick, cmd = sys.argv[1:14]
tp = {}
chk = []
for line in open(raw):
    f = line.split()
    if f[0] == "tp":
        tp.setdefault(int(f[2]), {})[f[1]] = (int(f[3]), float(f[4]), int(f[5]))
    elif f[0] == "chk":
        chk.append(dict(backend=f[1], keys=int(f[2]), records_counted=int(f[3]), id=int(f[4]),
                        duration_ms=int(f[5]), state_size=int(f[6]), sync_ms=int(f[7]),
                        async_ms=int(f[8])))
pairs = []
for r in sorted(tp):
    a, b = tp[r].get("a"), tp[r].get("b")
    if not a or not b:
        continue
    ra, rb = a[0] / a[1], b[0] / b[1]
    pairs.append(dict(round=r, order="none first" if r % 2 else "every 1 s first",
                      none_records=a[0], none_seconds=a[1], none_records_per_s=round(ra),
                      every_1s_records=b[0], every_1s_seconds=b[1],
                      every_1s_records_per_s=round(rb), every_1s_checkpoints_completed=b[2],
                      ratio=round(rb / ra, 4)))
med = lambda xs: statistics.median(xs) if xs else None
summary = dict(none_records_per_s=med([p["none_records_per_s"] for p in pairs]),
               every_1s_records_per_s=med([p["every_1s_records_per_s"] for p in pairs]),
               median_ratio=med([p["ratio"] for p in pairs]),
               min_ratio=min(p["ratio"] for p in pairs), max_ratio=max(p["ratio"] for p in pairs))
summary["median_cost_percent"] = round(100 * (1 - summary["median_ratio"]), 2)
sizes = []
for be in dict.fromkeys(c["backend"] for c in chk):
    for k in dict.fromkeys(c["keys"] for c in chk if c["backend"] == be):
        cs = [c for c in chk if c["backend"] == be and c["keys"] == k]
        sizes.append(dict(backend=be, keys=k, records_counted=cs[0]["records_counted"],
                          checkpoints=len(cs),
                          median_duration_ms=med([c["duration_ms"] for c in cs]),
                          max_duration_ms=max(c["duration_ms"] for c in cs),
                          median_state_size=med([c["state_size"] for c in cs]),
                          median_sync_ms=med([c["sync_ms"] for c in cs]),
                          median_async_ms=med([c["async_ms"] for c in cs])))
doc = dict(benchmark="checkpoint_cost", date=date, cores=int(cores), cpu=model, command=cmd.strip(),
           quick=quick == "true",
           throughput=dict(keys=int(keys), backend="hashmap", warmup_seconds=float(warmup),
                           window_seconds=float(window), rounds=int(rounds), pairs=pairs,
                           summary=summary),
           checkpoints=dict(interval=interval, fill_records_per_key=int(fill), sizes=sizes,
                            raw=chk))
with open(out, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print()
print("| configuration | records/s (median of %d runs) |" % len(pairs))
print("|---|---|")
print("| no checkpoints | %.2f M |" % (summary["none_records_per_s"] / 1e6))
print("| checkpoint every 1 s | %.2f M |" % (summary["every_1s_records_per_s"] / 1e6))
print("| ratio, median of the %d pairs (min-max) | %.3f (%.3f-%.3f): %.1f%% cost |" % (
    len(pairs), summary["median_ratio"], summary["min_ratio"], summary["max_ratio"],
    summary["median_cost_percent"]))
print()
print("| backend | keys | records counted first | checkpoint size | duration median (max) | count task sync / async (median) |")
print("|---|---|---|---|---|---|")
for s in sizes:
    print("| %s | %d | %d | %.1f MB | %d ms (%d ms) | %d ms / %d ms |" % (
        s["backend"], s["keys"], s["records_counted"], s["median_state_size"] / 1e6,
        s["median_duration_ms"], s["max_duration_ms"], s["median_sync_ms"], s["median_async_ms"]))
PY
