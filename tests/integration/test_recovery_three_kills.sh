#!/usr/bin/env bash
# Three taskmanager losses in one run, exactly-once: the recovery word count
# (checkpoints every 200 ms, 3 taskmanagers of 1 slot). Three times: SIGKILL
# the taskmanager running a `counts` subtask, start a replacement
# taskmanager, wait until the job runs again in a new attempt restored from a
# checkpoint and a new checkpoint completed. The job ends FINISHED with
# restarts >= 3 and an exactly-once committed output.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 3000000 25
sl_write_file_job "$SL_DATA/job.yaml" recovery-three-kills "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

wait_for sl_ckpt_completed_at_least "$jobid" 1
for k in 1 2 3; do
    before="$(sl_latest_ckpt_id "$jobid")"
    echo "kill $k: latest completed checkpoint $before"
    sl_kill_counts_tm "$jobid" KILL
    sl_add_taskmanager
    sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
    restored="$(sl_line_value "$SL_INFO" "restored from")"
    [[ "$restored" =~ ^([0-9]+)\ file:// ]] || fail "kill $k: info has no 'restored from: <id> file://...' line:"$'\n'"$SL_INFO"
    [ "${BASH_REMATCH[1]}" -ge "$before" ] ||
        fail "kill $k: restored from checkpoint ${BASH_REMATCH[1]}, older than checkpoint $before completed before the kill"
    assert_eq "$k" "$(sl_field "$SL_INFO" restarts)" "kill $k: restarts in info"
    # A checkpoint completes in the new attempt.
    latest="$(sl_latest_ckpt_id "$jobid")"
    wait_for sl_ckpt_latest_id_above "$jobid" "$latest"
    echo "kill $k: checkpoint $(sl_ckpt_latest "$SL_OUT") completed after the restart"
done

sl_wait_job_end "$jobid" FINISHED 240
assert_eq 3 "$(sl_field "$SL_INFO" restarts)" "restarts of the finished job"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
