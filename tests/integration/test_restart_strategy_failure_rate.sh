#!/usr/bin/env bash
# restart-strategy failure-rate (max-failures-per-interval 1, interval 10 min,
# delay 200 ms): the job survives the first SIGKILLed taskmanager and is
# FAILED after the second within the interval, although a replacement
# taskmanager gives it enough slots.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 60
sl_write_file_job "$SL_DATA/job.yaml" restart-failure-rate "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  restart-strategy.type: failure-rate
  restart-strategy.failure-rate.max-failures-per-interval: 1
  restart-strategy.failure-rate.failure-rate-interval: 10 min
  restart-strategy.failure-rate.delay: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1

sl_kill_counts_tm "$jobid" KILL
sl_add_taskmanager
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
assert_eq 1 "$(sl_field "$SL_INFO" restarts)" "restarts after the first kill"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info after the first restart"

sl_add_taskmanager
sl_kill_counts_tm "$jobid" KILL
sl_wait_job_end "$jobid" FAILED 60
assert_eq 1 "$(sl_field "$SL_INFO" restarts)" "restarts of the FAILED job (failure-rate, 1 per 10 min)"
[ -n "$(sl_field "$SL_INFO" failure)" ] || fail "info of the FAILED job has no 'failure:' line:"$'\n'"$SL_INFO"
echo "failure: $(sl_field "$SL_INFO" failure)"
echo "ok"
