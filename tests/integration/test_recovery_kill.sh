#!/usr/bin/env bash
# Recovery from a lost taskmanager, exactly-once: a rate-limited word count
# (a few MB, ~15 s) at parallelism 2 on 3 taskmanagers with 1 slot each,
# checkpoints every 200 ms. Once a checkpoint completed, SIGKILL the
# taskmanager running a `counts` subtask. The job goes RESTARTING, runs again
# in a new attempt on the free slots, restored from the latest completed
# checkpoint, and ends FINISHED. The committed output (part-* files, no hidden
# file left) holds for every word the counts 1..N exactly once, N its count in
# the input; info shows restarts >= 1 and `restored from:`. After FINISHED
# the job's checkpoints are discarded (`latest checkpoint: none`).
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 15
sl_write_file_job "$SL_DATA/job.yaml" recovery-kill "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

wait_for sl_ckpt_completed_at_least "$jobid" 1
before="$(sl_latest_ckpt_id "$jobid")"
echo "latest completed checkpoint before the kill: $before"
sl_kill_counts_tm "$jobid" KILL
victim="$SL_VICTIM_TM"
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
info="$SL_INFO"

# Restored from a checkpoint at least as new as the one seen before the kill.
restored="$(sl_line_value "$info" "restored from")"
[[ "$restored" =~ ^([0-9]+)\ file://.*chk-([0-9]+)/?$ ]] ||
    fail "info after the restart has no 'restored from: <id> file://.../chk-<id>' line:"$'\n'"$info"
rid="${BASH_REMATCH[1]}"
assert_eq "$rid" "${BASH_REMATCH[2]}" "checkpoint id vs chk folder of 'restored from: $restored'"
[ "$rid" -ge "$before" ] || fail "restored from checkpoint $rid, older than checkpoint $before completed before the kill"
# The lost taskmanager runs nothing of the new attempt.
if awk -v tm="$victim" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$info"; then
    fail "tasks of the new attempt are placed on the killed taskmanager $victim:"$'\n'"$info"
fi

sl_wait_job_end "$jobid" FINISHED 180
info="$SL_INFO"
assert_ge 1 "$(sl_field "$info" restarts)" "restarts in the info of the finished job"
assert_match "$info" '^restored from: [0-9]+ file://' "info of the finished job"
# A finished job's checkpoints are discarded (Flink's rule), its folder too.
wait_for -t 30 bash -c "! [ -e '$(sl_ckpt_job_dir "$jobid")' ]"
sl_info "$jobid"
assert_match "$SL_OUT" '^latest checkpoint: none$' "info of the finished job"

sl_checkpoints "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
assert_ge 1 "$(sl_ckpt_count "$SL_OUT" restored)" "'restored:' in 'sluice checkpoints' of the finished job: $SL_OUT"
assert_match "$SL_OUT" '^latest completed: none$' "'sluice checkpoints' of the finished job"

sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
