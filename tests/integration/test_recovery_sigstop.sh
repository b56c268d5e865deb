#!/usr/bin/env bash
# A hung taskmanager (SIGSTOP: its connections stay open) is detected by the
# heartbeat timeout (heartbeat.interval 200 ms, heartbeat.timeout 2 s; the
# job must leave RUNNING within 8 s of the SIGSTOP, SL_HEARTBEAT_DETECT_BOUND_MS
# overrides): the job restarts on the other slots from the latest completed
# checkpoint and ends FINISHED exactly-once. The stopped taskmanager is
# killed at the end.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3 heartbeat.interval "200 ms" heartbeat.timeout "2 s"
detect_bound_ms="${SL_HEARTBEAT_DETECT_BOUND_MS:-8000}"
sl_wordcount_setup 2500000 15
sl_write_file_job "$SL_DATA/job.yaml" recovery-sigstop "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_kill_counts_tm "$jobid" STOP
stopped_pid="$SL_SIGNALLED_PID"
stopped_tm="$SL_VICTIM_TM"
t_stop="$(sl__now_ms)"
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
echo "running again $(($(sl__now_ms) - t_stop)) ms after SIGSTOP"
# Noticed by the heartbeat timeout (2 s), with a generous margin.
noticed=$((SL_FAILURE_SEEN_MS - t_stop))
echo "the failure was visible in 'sluice info' $noticed ms after SIGSTOP"
[ "$noticed" -le "$detect_bound_ms" ] ||
    fail "the job left RUNNING only $noticed ms after SIGSTOP; heartbeat.timeout is 2 s (bound $detect_bound_ms ms). Jobmanager log:"$'\n'"$(grep -E 'lost|heartbeat|failed|timed out' "$SL_LOG/sluice-jobmanager.log" | tail -n 10)"
sl_pid_alive "$stopped_pid" || fail "the stopped taskmanager (pid $stopped_pid) died"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info after the restart"
if awk -v tm="$stopped_tm" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$SL_INFO"; then
    fail "tasks of the new attempt are placed on the stopped taskmanager $stopped_tm:"$'\n'"$SL_INFO"
fi
sl_run sl_cli taskmanagers
if awk -v tm="$stopped_tm" '$1 == tm && $6 == "RUNNING" { found = 1 } END { exit !found }' <<<"$SL_OUT"; then
    fail "the stopped taskmanager $stopped_tm is still listed RUNNING:"$'\n'"$SL_OUT"
fi

sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# Cleanup: the stopped taskmanager goes (SIGKILL works on a stopped process).
kill -KILL "$stopped_pid" 2>/dev/null || true
kill -CONT "$stopped_pid" 2>/dev/null || true
wait_for -t 30 sl_pid_gone "$stopped_pid"
echo "ok"
