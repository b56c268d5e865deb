#!/usr/bin/env bash
# restart-strategy.type none with checkpointing on: a SIGKILLed taskmanager
# running a `counts` subtask fails the job (FAILED, restarts 0, a failure
# reason), although a completed checkpoint and a free slot exist.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 60
sl_write_file_job "$SL_DATA/job.yaml" restart-none "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  restart-strategy.type: none"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_kill_counts_tm "$jobid" KILL
sl_wait_job_end "$jobid" FAILED 60
assert_eq 0 "$(sl_field "$SL_INFO" restarts)" "restarts with restart-strategy none"
[ -n "$(sl_field "$SL_INFO" failure)" ] || fail "info of the FAILED job has no 'failure:' line:"$'\n'"$SL_INFO"
echo "failure: $(sl_field "$SL_INFO" failure)"
echo "ok"
