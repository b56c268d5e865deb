#!/usr/bin/env bash
# restart-strategy exponential-delay (initial-backoff 500 ms, multiplier 2,
# max-backoff 10 s, no jitter): the job survives two SIGKILLed taskmanagers
# (a replacement is started after each), ends FINISHED with restarts 2 and an
# exactly-once output. The job is out of RUNNING for at least the backoff of
# each restart (500 ms, then 1000 ms): a lower bound only, measured from the
# last poll before RESTARTING (or the kill) to the first poll seeing RUNNING
# again.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 20
sl_write_file_job "$SL_DATA/job.yaml" restart-exponential-delay "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  restart-strategy.type: exponential-delay
  restart-strategy.exponential-delay.initial-backoff: 500 ms
  restart-strategy.exponential-delay.backoff-multiplier: 2.0
  restart-strategy.exponential-delay.max-backoff: 10 s
  restart-strategy.exponential-delay.reset-backoff-threshold: 1 h
  restart-strategy.exponential-delay.jitter-factor: 0"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1

backoff=500
for k in 1 2; do
    # Enough slots for the restart without waiting for a new taskmanager.
    if [ "$k" -gt 1 ]; then sl_add_taskmanager; fi
    sl_kill_counts_tm "$jobid" KILL
    sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
    assert_eq "$k" "$(sl_field "$SL_INFO" restarts)" "restarts after kill $k"
    assert_eq 1 "$SL_SAW_RESTARTING" "RESTARTING seen after kill $k"
    [ -n "$SL_RESTART_WINDOW_MS" ] || fail "kill $k: no observation of the job before RESTARTING"
    echo "kill $k: out of RUNNING for at most $SL_RESTART_WINDOW_MS ms as observed (backoff $backoff ms)"
    [ "$SL_RESTART_WINDOW_MS" -ge "$backoff" ] ||
        fail "kill $k: the job was RESTARTING for less than the $backoff ms backoff (observed window $SL_RESTART_WINDOW_MS ms)"
    latest="$(sl_latest_ckpt_id "$jobid")"
    wait_for sl_ckpt_latest_id_above "$jobid" "$latest"
    backoff=$((backoff * 2))
done

sl_wait_job_end "$jobid" FINISHED 180
assert_eq 2 "$(sl_field "$SL_INFO" restarts)" "restarts of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
