#!/usr/bin/env bash
# AT_LEAST_ONCE checkpoints (no barrier alignment) with one taskmanager
# SIGKILLed: the job restarts and ends FINISHED, and no record is lost: for
# every word every count 1..N (N its count in the input) is in the committed
# output at least once; duplicates are allowed.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 15
sl_write_file_job "$SL_DATA/job.yaml" at-least-once "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: AT_LEAST_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_kill_counts_tm "$jobid" KILL
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info after the restart"
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sl_check_at_least_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
