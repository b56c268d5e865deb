#!/usr/bin/env bash
# Restore falls back past a corrupt checkpoint: only manual checkpoints
# (interval 1 h, num-retained 3). Take checkpoints A and B with `sluice
# checkpoint`, flip bytes in the middle of a state file of B, SIGKILL a
# taskmanager running a `counts` subtask. The job restores from A (info
# `restored from: A`), the jobmanager log says why B was not used and that
# output committed after A stays, and the job ends FINISHED. Committed
# output is never deleted: every part file committed before the kill (those
# of B included) is still there, unchanged, so the records between A and B
# may be written twice: the output is at-least-once.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 20
sl_write_file_job "$SL_DATA/job.yaml" recovery-corrupt-checkpoint "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 1 h
  state.checkpoints.num-retained: 3"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"

sl_trigger_checkpoint "$jobid"
a="$SL_CKPT_ID"
sl_trigger_checkpoint "$jobid"
b="$SL_CKPT_ID"
chk_b="$(sl_uri_path "$SL_CKPT_URI")"
[ "$b" -gt "$a" ] || fail "second checkpoint id $b is not above the first, $a"
assert_eq "$(sl_ckpt_job_dir "$jobid")/chk-$b" "$chk_b" "folder of checkpoint $b"
[ -f "$chk_b/_metadata" ] || fail "$chk_b/_metadata missing: $(find "$chk_b" | head -n 20)"
[ -f "$(sl_ckpt_job_dir "$jobid")/chk-$a/_metadata" ] || fail "checkpoint $a is not retained (num-retained 3)"

# The largest state file of B (not _metadata).
victim="$(find "$chk_b" -type f ! -name _metadata -size +0 -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
[ -n "$victim" ] || fail "checkpoint $b has no state file besides _metadata: $(find "$chk_b" | head -n 20)"
sl_corrupt_file "$victim"
committed_parts() {
    local n
    n="$(find "$SL_OUTDIR" -maxdepth 1 -type f -name 'part-*' | wc -l)"
    echo "$n committed part files"
    [ "$n" -ge 1 ]
}
wait_for committed_parts
(cd "$SL_OUTDIR" && find . -maxdepth 1 -type f -name 'part-*' -printf '%f\n' | LC_ALL=C sort | xargs md5sum) >"$SL_DATA/committed.md5"

sl_kill_counts_tm "$jobid" KILL
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
restored="$(sl_line_value "$SL_INFO" "restored from")"
assert_eq "$a" "${restored%% *}" "checkpoint of 'restored from: $restored' (checkpoint $b is corrupt)"
# The jobmanager log says why checkpoint b was skipped.
jm_log="$SL_LOG/sluice-jobmanager.log"
if ! grep -E "(chk-$b([^0-9]|$)|heckpoint $b([^0-9]|$))" "$jm_log" |
    grep -qiE 'verif|corrupt|checksum|crc|mismatch|invalid|damaged|broken|skip|fall'; then
    fail "the jobmanager log has no line saying checkpoint $b does not verify; lines naming it:"$'\n'"$(grep -E "(chk-$b|heckpoint $b)([^0-9]|$)" "$jm_log" | tail -n 20)"
fi
echo "jobmanager log: $(grep -E "(chk-$b([^0-9]|$)|heckpoint $b([^0-9]|$))" "$jm_log" | grep -iE 'verif|corrupt|checksum|crc|mismatch|invalid|damaged|broken|skip|fall' | head -n 3)"

grep -q "restoring checkpoint $a, older than checkpoint $b: output committed after checkpoint $a stays" "$jm_log" ||
    fail "the jobmanager log does not say that output committed after checkpoint $a stays"

sl_wait_job_end "$jobid" FINISHED 180
bad="$(cd "$SL_OUTDIR" && md5sum -c --quiet "$SL_DATA/committed.md5" 2>&1 || true)"
[ -z "$bad" ] || fail "committed part files were deleted or changed:"$'\n'"$bad"
echo "all $(wc -l <"$SL_DATA/committed.md5") part files committed before the kill survived unchanged"
sl_check_at_least_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
