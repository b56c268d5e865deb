#!/usr/bin/env bash
# Keyed state larger than the taskmanager's memory: datagen (KEYS distinct
# keys, RECORDS records) -> count (key-by key) -> blackhole, parallelism 1,
# on 1 jobmanager and 1 taskmanager (1 slot), checkpoints every
# CHECKPOINT_INTERVAL, the taskmanager under a memory cap of CAP_MB.
#
#   1. leveldb backend, capped: records/s, the taskmanager's peak RSS
#      (VmHWM, sampled), the local leveldb folder's size, checkpoint sizes
#      and durations (`sluice checkpoints --json`);
#   2. hashmap backend, same job, same cap: expected to fail;
#   3. hashmap backend at HM_KEYS keys (HM_KEYS * 2 records), no cap: its
#      peak RSS, to compare bytes per key.
#
# The cap is RLIMIT_DATA (`ulimit -d`, set in the subshell that starts the
# taskmanager, so the daemon inherits it). Since Linux 4.7 it bounds the
# process's private writable memory (heap, anonymous mmaps, thread stacks):
# malloc returns NULL past it. It does not count leveldb's read-only mmaps
# of its table files or the page cache, which is what we want: the state on
# disk is not the process's memory. (RLIMIT_AS, `ulimit -v`, would count
# those mmaps and glibc's arena reservations and fail for the wrong reason.)
#
# Usage: bench/bigstate.sh [KEYS] [RECORDS]
#   env: CAP_MB (1024), HM_KEYS (KEYS / 10), CHECKPOINT_INTERVAL (90 s),
#        CACHE_SIZE (state.backend.leveldb.cache-size, default of the key),
#        SLUICE_BIN_DIR (build/bin), BIGSTATE_DIR (a temp folder under /tmp)
# Needs free disk of about 150 bytes per key (checked first).
# One run only (not repeated with BENCH_RUNS: about 10 minutes per run).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${SLUICE_BIN_DIR:-$here/build/bin}"
keys="${1:-20000000}"
n="${2:-$((keys * 2))}"
cap_mb="${CAP_MB:-1024}"
hm_keys="${HM_KEYS:-$((keys / 10))}"
interval="${CHECKPOINT_INTERVAL:-90 s}"
base="${BIGSTATE_DIR:-/tmp}"
. "$here/bench/lib.sh"
bench_root big "$base"
sl() { "$bin/sluice" "$@"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

need_kb=$((keys * 150 / 1024))
free_kb=$(df -Pk "$root" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "bigstate: $((free_kb / 1024)) MB free under $base, need about $((need_kb / 1024)) MB" >&2
  exit 1
fi
{
  printf 'jobmanager.rpc.port: %d\ntaskmanager.numberOfTaskSlots: 1\n' "$port"
  printf 'taskmanager.state.local.root-dirs: %s\n' "$root/local"
  # the disk is busy with compactions and snapshots: not a failure to detect
  printf 'heartbeat.timeout: 30 s\n'
  [ -z "${CACHE_SIZE:-}" ] || printf 'state.backend.leveldb.cache-size: %s\n' "$CACHE_SIZE"
} > "$SLUICE_CONF_DIR/sluice.yaml"
"$here/scripts/jobmanager.sh" start >/dev/null

tm_pid=""
# start_tm CAP_MB|none: one taskmanager, capped, registered; sets tm_pid
start_tm() {
  if [ "$1" = none ]; then
    "$here/scripts/taskmanager.sh" start >/dev/null
  else
    (ulimit -d $(($1 * 1024)) && "$here/scripts/taskmanager.sh" start >/dev/null)
  fi
  for _ in $(seq 100); do
    for p in $(sl taskmanagers 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 }'); do
      if grep -qa sluice-taskmanager "/proc/$p/cmdline" 2>/dev/null; then
        tm_pid=$p
        return 0
      fi
    done
    sleep 0.1
  done
  echo "bigstate: the taskmanager did not register" >&2
  exit 1
}
stop_tm() { "$here/scripts/taskmanager.sh" stop >/dev/null 2>&1 || true; sleep 0.5; }
kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# job NAME BACKEND KEYS RECORDS: writes $root/NAME.yaml
job() {
  cat > "$root/$1.yaml" <<JOB
name: $1
parallelism: 1
config:
  state.backend.type: $2
  execution.checkpointing.interval: $interval
  state.checkpoints.dir: file://$root/checkpoints
  state.checkpoints.num-retained: 1
  restart-strategy.type: none
pipeline:
  - name: gen
    source: datagen
    seed: 7
    count: $4
    keys: $3
  - name: counts
    operator: count
    key-by: key
  - name: out
    sink: blackhole
JOB
}

# run NAME: runs the job detached, prints progress every 5 s; sets
# r_state, r_secs, r_hwm_kb (peak RSS of the taskmanager), r_disk_mb
# (largest local state folder seen), r_job
run() {
  local t0 t1 st hwm rss disk recs
  r_hwm_kb=0 r_disk_mb=0
  t0=$(date +%s.%N)
  r_job=$(sl run -d "$root/$1.yaml" | awk '{ print $NF }')
  while :; do
    st=$(sl info "$r_job" 2>/dev/null | awk '$1 == "state:" { print $2 }' || true)
    hwm=$(kb_of "$tm_pid" VmHWM)
    rss=$(kb_of "$tm_pid" VmRSS)
    [ -z "$hwm" ] || r_hwm_kb=$hwm
    # files come and go under compaction: du may complain and fail
    disk=$(du -sm "$root/local" 2>/dev/null | awk '{ print $1 }' || true)
    recs=$(sl info "$r_job" 2>/dev/null | awk '/records in/ { n = $3 } END { print n + 0 }' || true)
    [ -z "$disk" ] || [ "$disk" -le "$r_disk_mb" ] || r_disk_mb=$disk
    case "$st" in FINISHED | FAILED | CANCELED) break ;; esac
    if [ ! -d "/proc/$tm_pid" ]; then st="FAILED (taskmanager died)"; break; fi
    log "$1: ${st:-?}, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s," \
      "${recs%,} records counted, taskmanager RSS ${rss:-?} kB (peak ${hwm:-?} kB)," \
      "local state ${disk:-0} MB"
    sleep 5
  done
  t1=$(date +%s.%N)
  r_state=$st
  r_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  log "$1: $r_state after $r_secs s, taskmanager peak RSS $((r_hwm_kb / 1024)) MB"
}

# checkpoint statistics of job $1 as "completed N, last size MB, duration ms ..."
checkpoint_summary() {
  sl checkpoints "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
cs = [c for c in d.get("history", d.get("checkpoints", [])) if c.get("status") == "COMPLETED"]
print("completed %d" % d["counts"]["completed"])
for c in cs:
    print("  checkpoint %d: %.1f MB, %d ms" % (c["id"], c["state-size"] / 1e6, c["duration-ms"]))
'
}

echo "bigstate: $keys keys, $n records, cap $cap_mb MB (RLIMIT_DATA), checkpoints every $interval"
echo "bigstate: $(bench_machine_line); $((free_kb / 1048576)) GB free disk under $base;" \
  "commit $(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown);" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ); load average $(cut -d' ' -f1-3 /proc/loadavg); one run"

log "1/3 leveldb, capped at $cap_mb MB"
job big-leveldb leveldb "$keys" "$n"
start_tm "$cap_mb"
run big-leveldb
ldb=("$r_state" "$r_secs" "$r_hwm_kb" "$r_disk_mb")
ckpt=$(checkpoint_summary "$r_job" || echo "no checkpoint statistics")
echo "$ckpt"
grep -h "leveldb state .*keys; cache" "$SLUICE_LOG_DIR"/sluice-taskmanager-*.log | tail -1 || true
stop_tm

log "2/3 hashmap, same job, same cap"
job big-hashmap hashmap "$keys" "$n"
start_tm "$cap_mb"
run big-hashmap
hm=("$r_state" "$r_secs" "$r_hwm_kb")
hm_why=$(grep -h -m1 "(big-hashmap) failed:" "$SLUICE_LOG_DIR/sluice-jobmanager.log" |
  sed 's/.*failed: //' || true)
[ -z "$hm_why" ] || echo "  cause: $hm_why"
stop_tm

log "3/3 hashmap at $hm_keys keys, no cap"
job small-hashmap hashmap "$hm_keys" $((hm_keys * 2))
start_tm none
run small-hashmap
small=("$r_state" "$r_secs" "$r_hwm_kb")
stop_tm

# rate RECORDS SECONDS STATE: records/s of a finished run, else "-"
rate() {
  if [ "$3" = FINISHED ]; then awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; else echo -; fi
}
# keys K RECORDS: "K M (distinct expected M)", about K (1 - e^(-RECORDS/K)) seen
keys_cell() { awk -v k="$1" -v n="$2" 'BEGIN { printf "%g M (%.1f M)", k / 1e6, k * (1 - exp(-n / k)) / 1e6 }'; }
millions() { awk -v n="$1" 'BEGIN { printf "%g M", n / 1e6 }'; }
echo
echo "one run"
echo "| run | keys (distinct seen) | records | result | records/s | taskmanager peak RSS |"
echo "|---|---|---|---|---|---|"
echo "| leveldb, cap $cap_mb MB | $(keys_cell "$keys" "$n") | $(millions "$n") | ${ldb[0]} in ${ldb[1]} s | $(bench_int "$(rate "$n" "${ldb[1]}" "${ldb[0]}")") | $((ldb[2] / 1024)) MB |"
echo "| hashmap, cap $cap_mb MB | $(keys_cell "$keys" "$n") | $(millions "$n") | ${hm[0]} after ${hm[1]} s | $(bench_int "$(rate "$n" "${hm[1]}" "${hm[0]}")") | $((hm[2] / 1024)) MB |"
echo "| hashmap, no cap | $(keys_cell "$hm_keys" $((hm_keys * 2))) | $(millions $((hm_keys * 2))) | ${small[0]} | $(bench_int "$(rate $((hm_keys * 2)) "${small[1]}" "${small[0]}")") | $((small[2] / 1024)) MB |"
echo
echo "leveldb local folder (largest seen): ${ldb[3]} MB"
echo "checkpoints (leveldb run): $ckpt"
