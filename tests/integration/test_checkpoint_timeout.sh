#!/usr/bin/env bash
# Checkpoints that cannot finish in time (issue 12 item 5): state.checkpoints.dir
# is a FUSE pass-through folder (tests/integration/stall_fs.py, Debian's
# python3-fuse) whose writes and fsyncs block while a flag file exists. A word
# count with checkpoints every 300 ms, execution.checkpointing.timeout 2 s and
# tolerable-failed-checkpoints 1000000 runs; after two completed checkpoints
# the writes stall: checkpoints are declared FAILED with "expired before
# completing (timeout 2000 ms)" in `sluice checkpoints`, the job stays
# RUNNING (no restart). The writes resume: checkpoints complete again, the
# expired ones' folders (rewritten by the late uploader) are removed, the job
# finishes, output exactly-once, and its checkpoint folder goes.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (FUSE mount)"; exit 0; }
PY=/usr/bin/python3
"$PY" -c 'import fuse' 2>/dev/null || fail "python3-fuse is not installed (scripts/install-deps.sh)"
[ -e /dev/fuse ] || fail "no /dev/fuse"

CTL="$SL_TMP/stall"
MNT=""
# Unstall first (a writer blocked in FUSE would not die), then unmount
# lazily; lib.sh's cleanup then kills the daemons and the FUSE server.
ct_on_exit() {
    local rc=$?
    set +e # the trap runs under set -e: (exit "$rc") would end it here
    rm -f "$CTL"
    [ -z "$MNT" ] || fusermount -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    (exit "$rc")
    sl__on_exit
}
trap ct_on_exit EXIT

ct_mounted() {
    grep -qF " $1 fuse" /proc/mounts
}

# ct_failed_with JOBID TEXT: for wait_for: a FAILED checkpoint whose failure
# holds TEXT; sets CT_LINE.
ct_failed_with() {
    sl_checkpoints "$1"
    [ "$SL_RC" -eq 0 ] || return 1
    CT_LINE="$(grep -E '^[0-9]+ FAILED .* failure: ' <<<"$SL_OUT" | grep -F -- "$2" | tail -n 1 || true)"
    [ -n "$CT_LINE" ]
}

ct_failed_at_least() {
    local n
    sl_checkpoints "$1"
    [ "$SL_RC" -eq 0 ] || return 1
    n="$(grep -cE '^[0-9]+ FAILED .*expired before completing' <<<"$SL_OUT" || true)"
    [ "$n" -ge "$2" ]
}

sl_new_cluster
MNT="$SL_ROOT/checkpoints"
mkdir -p "$SL_TMP/backing"
STALL_CTL="$CTL" "$PY" "$SL_REPO/tests/integration/stall_fs.py" "$MNT" -f \
    -o "root=$SL_TMP/backing" >"$SL_LOG/stall_fs.out" 2>&1 &
sl_record_pid $!
wait_for ct_mounted "$MNT"
sl_start_cluster 2
sl_wordcount_setup 1500000 30
sl_write_file_job "$SL_DATA/job.yaml" ckpt-timeout "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms
  execution.checkpointing.timeout: 2 s
  execution.checkpointing.tolerable-failed-checkpoints: 1000000"
sl_submit_detached "$SL_DATA/job.yaml"
j="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$j" 2

t0="$(sl__now_ms)"
touch "$CTL"
echo "writes stall"
wait_for ct_failed_with "$j" "expired before completing (timeout 2000 ms)"
echo "after $(($(sl__now_ms) - t0)) ms: $CT_LINE"
wait_for ct_failed_at_least "$j" 2
sl_job_running_now "$j"
assert_eq 0 "$(sl_field "$SL_OUT" restarts)" "restarts while the store stalls"
last="$(sl_latest_ckpt_id "$j")"

rm -f "$CTL"
echo "writes resume"
wait_for sl_ckpt_latest_id_above "$j" "$last"
echo "completed again: $(sl_ckpt_latest "$SL_OUT")"
sl_job_running_now "$j"

sl_wait_job_end "$j" FINISHED 120
sl_info "$j"
assert_eq 0 "$(sl_field "$SL_OUT" restarts)" "restarts"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
# Nothing left behind, the late writes of the expired checkpoints included.
wait_for -t 30 bash -c "! [ -e '$(sl_ckpt_job_dir "$j")' ]"
echo "ok"
