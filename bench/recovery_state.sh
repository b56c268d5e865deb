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
# A new spare is started after every kill; ROUNDS kills per K.
#
# Usage: bench/recovery_state.sh [ROUNDS]      (default 3; QUICK=1: 1)
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
quick="${QUICK:-}"
if [ -n "$quick" ]; then
  rounds="${1:-1}"
  : "${RS_SIZES:=100000}"
  out="${RS_RESULTS:-$here/bench/results/recovery_state-quick.json}"
else
  rounds="${1:-3}"
  out="${RS_RESULTS:-$here/bench/results/recovery_state.json}"
fi
sizes="${RS_SIZES:-100000 1000000 10000000}"
backend="${RS_BACKEND:-hashmap}"
fill="${RS_FILL:-2}"

. "$here/bench/lib.sh"
bench_root recstate
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

cores=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
raw="$root/raw"
: > "$raw"
echo "recovery with state: $cores cores ($model), $backend backend, $rounds kill(s) per size," \
  "results -> $out"

# wait_checkpoint JOB AFTER: until a checkpoint newer than AFTER completed
wait_checkpoint() {
  local c
  while :; do
    c=$(latest_chk "$1")
    [ -z "$c" ] || [ "$c" -le "$2" ] || break
    sleep 0.2
  done
}

# kill_round K JOB ROUND: one kill and its measurements (a line in raw)
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
  echo "kill $k $r $((t1 - t0)) $((t2 - t0)) $bytes $files $ms $at" >> "$raw"
  awk -v k="$k" -v r="$r" -v a=$((t1 - t0)) -v b=$((t2 - t0)) -v by="$bytes" -v ms="$ms" -v at="$at" 'BEGIN {
    printf "  %d keys, kill %d: RUNNING after %d ms, first new output after %d ms; restored %.1f MB in %d ms (%s), done %d ms after the kill\n",
      k, r, a, b, by / 1e6, ms, (ms > 0 ? sprintf("%.0f MB/s", by / 1e3 / ms) : "under 1 ms"), at }'
  "$here/scripts/taskmanager.sh" start >/dev/null
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

mkdir -p "$(dirname "$out")"
python3 - "$raw" "$out" "$backend" "$fill" "$date_utc" "$cores" "$model" "${quick:+true}" \
  "bench/recovery_state.sh $*" <<'PY'
import json, statistics, sys
raw, out, backend, fill, date, cores, model, quick, cmd = sys.argv[1:10]
kills = []
for line in open(raw):
    f = line.split()
    if f[0] != "kill":
        continue
    k, r, running, output, nbytes, files, ms, at = map(int, f[1:9])
    kills.append(dict(keys=k, round=r, running_ms=running, first_output_ms=output,
                      restored_bytes=nbytes, state_files=files, restore_ms=ms,
                      restore_done_after_kill_ms=at,
                      restore_mb_per_s=round(nbytes / 1e3 / ms, 1) if ms > 0 else None))
med = statistics.median
sizes = []
for k in dict.fromkeys(x["keys"] for x in kills):
    ks = [x for x in kills if x["keys"] == k]
    bw = [x["restore_mb_per_s"] for x in ks if x["restore_mb_per_s"] is not None]
    sizes.append(dict(keys=k, kills=len(ks), median_running_ms=med([x["running_ms"] for x in ks]),
                      median_first_output_ms=med([x["first_output_ms"] for x in ks]),
                      max_first_output_ms=max(x["first_output_ms"] for x in ks),
                      median_restored_bytes=med([x["restored_bytes"] for x in ks]),
                      median_restore_ms=med([x["restore_ms"] for x in ks]),
                      median_restore_mb_per_s=med(bw) if bw else None))
doc = dict(benchmark="recovery_state", date=date, cores=int(cores), cpu=model, command=cmd.strip(),
           quick=quick == "true", backend=backend, fill_records_per_key=int(fill), sizes=sizes,
           kills=kills)
with open(out, "w") as fh:
    json.dump(doc, fh, indent=2)
    fh.write("\n")
print()
print("| keys | kills | RUNNING again | first new output (max) | bytes restored | restore time | restore bandwidth |")
print("|---|---|---|---|---|---|---|")
for s in sizes:
    bw = s["median_restore_mb_per_s"]
    print("| %d | %d | %d ms | %d ms (%d ms) | %.1f MB | %d ms | %s |" % (
        s["keys"], s["kills"], s["median_running_ms"], s["median_first_output_ms"],
        s["max_first_output_ms"], s["median_restored_bytes"] / 1e6, s["median_restore_ms"],
        "%.0f MB/s" % bw if bw is not None else "> size / 1 ms"))
print("(medians over the kills)")
PY
