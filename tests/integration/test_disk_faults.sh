#!/usr/bin/env bash
# Full and read-only disks (issue 12 item 4), each on its own small tmpfs
# mounted in the test's temp folder (lazily unmounted at exit, pass or fail):
#
#   store: state.checkpoints.dir on a 16 MB tmpfs. A word count with
#     checkpoints every 300 ms and tolerable-failed-checkpoints 1000000 runs;
#     the tmpfs is filled up (ENOSPC): checkpoints fail with "No space left on
#     device" naming the file in `sluice checkpoints`, the job keeps running,
#     the failed checkpoints' folders go (space is given back: only the
#     filler is left on the tmpfs), and no folder holding a `_metadata` is
#     other than a completed checkpoint. The filler is removed: checkpoints
#     complete again. The tmpfs is remounted read-only: checkpoints fail with
#     "Read-only file system"; remounted read-write: they complete again. The
#     job finishes, output exactly-once, no restart.
#   sink: the file sink's folder on a tmpfs. Filled up: the sink task fails
#     naming the part file and "No space left on device"; the fixed-delay
#     restart strategy keeps restarting while it is full; the filler goes and
#     the job runs again. Made read-only (a read-only bind mount on top, as
#     open part files keep a tmpfs from being remounted read-only): the same
#     with "Read-only file system". The job finishes with its committed output exactly-once.
#   leveldb: taskmanager.state.local.root-dirs on a tmpfs with
#     state.backend.type leveldb: filled up, leveldb's write fails (its
#     error, naming the file, in the taskmanager's log) and the job restarts
#     over and over while full; freed, it restarts from its latest
#     checkpoint and finishes exactly-once.
#
# DISK_PHASES="store sink leveldb" (the default) picks the phases.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (mount -t tmpfs)"; exit 0; }

DT_MOUNTS=()
# Unmount (lazily: daemons may still hold files open) before lib.sh's
# cleanup kills the daemons and removes the temp folder; keep the exit status.
dt_on_exit() {
    local rc=$? m
    set +e # the trap runs under set -e: (exit "$rc") would end it here
    for m in "${DT_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null || true; done
    (exit "$rc")
    sl__on_exit
}
trap dt_on_exit EXIT

# dt_mount DIR SIZE: a tmpfs of SIZE on DIR (created).
dt_mount() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2,mode=0755" sluice-test "$1"
    DT_MOUNTS+=("$1")
}

# dt_fill DIR: fills DIR's file system with DIR/.filler*, to the last block.
dt_fill() {
    dd if=/dev/zero of="$1/.filler" bs=1M status=none 2>/dev/null || true
    dd if=/dev/zero of="$1/.filler2" bs=4k status=none 2>/dev/null || true
    echo "filled $1: $(df -h --output=avail "$1" | tail -n 1 | tr -d ' ') available"
}

dt_unfill() {
    rm -f "$1/.filler" "$1/.filler2"
}

# dt_failed_with JOBID TEXT: for wait_for: a FAILED checkpoint whose failure
# holds TEXT; sets DT_FAILED_ID and DT_FAILED_LINE.
dt_failed_with() {
    local line
    sl_checkpoints "$1"
    [ "$SL_RC" -eq 0 ] || return 1
    line="$(grep -E '^[0-9]+ FAILED .* failure: ' <<<"$SL_OUT" | grep -F -- "$2" | head -n 1 || true)"
    [ -n "$line" ] || return 1
    DT_FAILED_LINE="$line"
    DT_FAILED_ID="${line%% *}"
}

# dt_no_stray_metadata JOBID: every chk-<n> folder holding _metadata is a
# COMPLETED checkpoint, and no _metadata.tmp is left.
dt_no_stray_metadata() {
    local dir d id
    dir="$(sl_ckpt_job_dir "$1")"
    sl_checkpoints "$1"
    for d in "$dir"/chk-*; do
        [ -d "$d" ] || continue
        id="${d##*/chk-}"
        [ ! -e "$d/_metadata.tmp" ] || fail "$d/_metadata.tmp was left behind"
        if [ -f "$d/_metadata" ]; then
            grep -qE "^$id COMPLETED " <<<"$SL_OUT" ||
                fail "$d holds a _metadata but checkpoint $id is not COMPLETED:"$'\n'"$SL_OUT"
        fi
    done
}

# dt_only_filler DIR JOBID: for wait_for: no chk-<n> folder of JOBID other
# than COMPLETED ones (the failed ones' files were removed).
dt_failed_removed() {
    local d id
    sl_checkpoints "$1"
    [ "$SL_RC" -eq 0 ] || return 1
    for d in "$(sl_ckpt_job_dir "$1")"/chk-*; do
        [ -d "$d" ] || continue
        id="${d##*/chk-}"
        if grep -qE "^$id FAILED " <<<"$SL_OUT"; then
            echo "chk-$id (failed) still there: $(ls "$d" | tr '\n' ' ')"
            return 1
        fi
    done
}

# dt_job_failure_has JOBID TEXT: for wait_for: `sluice info` or the
# jobmanager log shows a task failure holding TEXT.
dt_failure_seen() {
    grep -F -- "$2" "$SL_LOG"/*jobmanager*.log | grep -qF "$1"
}

# dt_tm_log_has REGEX: for wait_for: a taskmanager log line matches REGEX.
dt_tm_log_has() {
    grep -qE -- "$1" "$SL_LOG"/*taskmanager*.log
}

# dt_restarts_at_least JOBID N: for wait_for (leaves `sluice info` in SL_OUT).
dt_restarts_at_least() {
    sl_info "$1"
    [ "$SL_RC" -eq 0 ] && [ "$(sl_field "$SL_OUT" restarts)" -ge "$2" ]
}

phases="${DISK_PHASES:-store sink leveldb}"

# ------------------------------------------------------------ store
if [[ " $phases " == *" store "* ]]; then
    echo "== store: the checkpoint store fills up, then turns read-only"
    sl_new_cluster
    dt_mount "$SL_ROOT/checkpoints" 16m
    sl_start_cluster 2
    sl_wordcount_setup 1500000 30
    sl_write_file_job "$SL_DATA/job.yaml" disk-store "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms
  execution.checkpointing.tolerable-failed-checkpoints: 1000000"
    sl_submit_detached "$SL_DATA/job.yaml"
    j="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j" 2
    mnt="$SL_ROOT/checkpoints"
    dt_fill "$mnt"
    wait_for dt_failed_with "$j" "No space left on device"
    echo "failed while full: $DT_FAILED_LINE"
    assert_match "$DT_FAILED_LINE" "(op-[^ ]+\.state|_metadata[^ ]*): " "failure names the file"
    sl_job_running_now "$j"
    wait_for -t 30 dt_failed_removed "$j"
    dt_no_stray_metadata "$j"
    dt_unfill "$mnt"
    last="$(sl_latest_ckpt_id "$j")"
    wait_for sl_ckpt_latest_id_above "$j" "$last"
    echo "completed again after the filler went: $(sl_ckpt_latest "$SL_OUT")"

    mount -o remount,ro "$mnt"
    wait_for dt_failed_with "$j" "Read-only file system"
    echo "failed while read-only: $DT_FAILED_LINE"
    sl_job_running_now "$j"
    dt_no_stray_metadata "$j"
    mount -o remount,rw "$mnt"
    last="$(sl_latest_ckpt_id "$j")"
    wait_for sl_ckpt_latest_id_above "$j" "$last"
    echo "completed again after read-write: $(sl_ckpt_latest "$SL_OUT")"
    wait_for -t 30 dt_failed_removed "$j"
    dt_no_stray_metadata "$j"

    sl_wait_job_end "$j" FINISHED 120
    sl_info "$j"
    assert_eq 0 "$(sl_field "$SL_OUT" restarts)" "restarts of the store job"
    sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
    sl_run sl_script stop-cluster.sh
fi

# ------------------------------------------------------------ sink
if [[ " $phases " == *" sink "* ]]; then
    echo "== sink: the file sink's folder fills up, then turns read-only"
    sl_new_cluster
    sl_start_cluster 2
    sl_wordcount_setup 1500000 30
    dt_mount "$SL_OUTDIR" 64m
    sl_write_file_job "$SL_DATA/job.yaml" disk-sink "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 1000
  restart-strategy.fixed-delay.delay: 500 ms"
    sl_submit_detached "$SL_DATA/job.yaml"
    j="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j" 2
    dt_fill "$SL_OUTDIR"
    wait_for dt_failure_seen "$j" "No space left on device"
    echo "task failure: $(grep -hF "No space left on device" "$SL_LOG"/*jobmanager*.log | head -n 1)"
    grep -hF "No space left on device" "$SL_LOG"/*jobmanager*.log | grep -qE "part-[^ ]*" ||
        fail "the sink's failure does not name the part file"
    wait_for dt_restarts_at_least "$j" 2
    echo "still failing while full: $(sl_field "$SL_OUT" restarts) restarts"
    last="$(sl_latest_ckpt_id "$j")"
    dt_unfill "$SL_OUTDIR"
    # Recovered: RUNNING, and checkpoints complete (and commit) again.
    wait_for sl_ckpt_latest_id_above "$j" "$last"
    echo "recovered: $(sl_ckpt_latest "$SL_OUT")"

    # Part files are open for writing, so the tmpfs cannot be remounted
    # read-only: a read-only bind mount on top of it turns every new
    # create and rename read-only instead.
    mount --bind "$SL_OUTDIR" "$SL_OUTDIR"
    DT_MOUNTS+=("$SL_OUTDIR")
    mount -o remount,bind,ro "$SL_OUTDIR"
    wait_for dt_failure_seen "$j" "Read-only file system"
    echo "task failure: $(grep -hF "Read-only file system" "$SL_LOG"/*jobmanager*.log | head -n 1)"
    umount "$SL_OUTDIR"
    last="$(sl_latest_ckpt_id "$j")"
    wait_for sl_ckpt_latest_id_above "$j" "$last"
    echo "recovered: $(sl_ckpt_latest "$SL_OUT")"
    sl_wait_job_end "$j" FINISHED 120
    sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
    sl_run sl_script stop-cluster.sh
fi

# ------------------------------------------------------------ leveldb
if [[ " $phases " == *" leveldb "* ]]; then
    echo "== leveldb: the local state folder fills up"
    sl_new_cluster
    dt_mount "$SL_ROOT/tm-state" 64m
    sl_start_cluster 2
    sl_wordcount_setup 1500000 20
    sl_write_file_job "$SL_DATA/job.yaml" disk-leveldb "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms
  state.backend.type: leveldb
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 1000
  restart-strategy.fixed-delay.delay: 500 ms"
    sl_submit_detached "$SL_DATA/job.yaml"
    j="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j" 2
    dt_fill "$SL_ROOT/tm-state"
    # The leveldb error (naming its log file) is in the taskmanager's log;
    # the job fails (for now through the counts task declining the
    # checkpoint: "snapshot of counts failed") and restarts, again and
    # again while the disk is full.
    wait_for dt_tm_log_has "leveldb state .*: write batch: IO error: .*No space left on device"
    echo "leveldb: $(grep -hE "leveldb state .*No space left on device" "$SL_LOG"/*taskmanager*.log | head -n 1)"
    wait_for dt_restarts_at_least "$j" 2
    echo "job failure: $(grep -hE "job $j .* failed: " "$SL_LOG"/*jobmanager*.log | head -n 1)"
    last="$(sl_latest_ckpt_id "$j")"
    dt_unfill "$SL_ROOT/tm-state"
    wait_for sl_ckpt_latest_id_above "$j" "$last"
    echo "recovered: $(sl_ckpt_latest "$SL_OUT")"
    sl_wait_job_end "$j" FINISHED 120
    sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
    sl_run sl_script stop-cluster.sh
fi
echo "ok"
