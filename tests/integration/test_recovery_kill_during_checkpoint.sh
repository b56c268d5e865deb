#!/usr/bin/env bash
# A taskmanager lost while a checkpoint is in progress: only manual
# checkpoints (interval 1 h). Take checkpoint A, then SIGSTOP the taskmanager
# running a sink (`out`) subtask so it cannot ack, trigger `sluice
# checkpoint` in the background, wait until `sluice checkpoints` shows it in
# progress; another `sluice checkpoint` is refused then (exit 1,
# max-concurrent-checkpoints is 1); SIGKILL the stopped taskmanager. The in-progress checkpoint is
# aborted (the background command fails, its chk folder does not remain), the
# job restores from A and ends FINISHED exactly-once.
. "$(dirname "$0")/lib.sh"

# A long heartbeat timeout: the stopped taskmanager is lost by its SIGKILL
# (connection drop), not by the heartbeat, while the checkpoint is pending.
sl_recovery_cluster 3 heartbeat.timeout "60 s"
sl_wordcount_setup 2500000 20
sl_write_file_job "$SL_DATA/job.yaml" recovery-kill-during-checkpoint "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 1 h"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"

sl_trigger_checkpoint "$jobid"
first="$SL_CKPT_ID"

sl_job_running_now "$jobid"
prev_attempt="$(sl_field "$SL_OUT" attempt)"
tm="$(sl_task_tm "$SL_OUT" out)"
[ -n "$tm" ] || fail "no RUNNING 'out' subtask in info:"$'\n'"$SL_OUT"
echo "taskmanager $tm runs $(sl_task_of_tm "$SL_OUT" "$tm" out)"
sl_signal_tm STOP "$tm"
stopped_pid="$SL_SIGNALLED_PID"

# The manual checkpoint, in the background (it cannot complete).
"$SL_BIN/sluice" -c "$SL_CONF" checkpoint "$jobid" >"$SL_DATA/bg-checkpoint.out" 2>&1 </dev/null {SL_FD_OUT}>&- {SL_FD_ERR}>&- &
bg=$!
sl_record_pid "$bg"

in_progress() {
    sl_checkpoints "$jobid"
    echo "checkpoints exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    local n
    n="$(sl_ckpt_count "$SL_OUT" "in progress")"
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ]
}
wait_for in_progress
pending="$(awk '$2 == "IN_PROGRESS" { print $1 }' <<<"$SL_OUT" | sort -n | tail -n 1)"
[[ "$pending" =~ ^[0-9]+$ ]] || fail "'in progress' >= 1 but no '<id> IN_PROGRESS ...' row:"$'\n'"$SL_OUT"
[ "$pending" -gt "$first" ] || fail "checkpoint $pending in progress is not newer than checkpoint $first"
echo "checkpoint $pending is in progress"
# max-concurrent-checkpoints (1): a second manual checkpoint is refused now.
sl_run sl_cli checkpoint "$jobid"
assert_eq 1 "$SL_RC" "exit code of a second 'sluice checkpoint' while checkpoint $pending is in progress (stdout: $SL_OUT)"
assert_contains "$SL_ERR" "max-concurrent-checkpoints" "stderr of the refused 'sluice checkpoint'"
echo "refused: $SL_ERR"
sl_checkpoints "$jobid"
assert_eq 1 "$(sl_ckpt_count "$SL_OUT" "in progress")" "'in progress:' after the refused trigger"
echo "killing the stopped taskmanager"
kill -KILL "$stopped_pid"
wait_for -t 30 sl_pid_gone "$stopped_pid"

sl_wait_restart "$jobid" "$prev_attempt"
restored="$(sl_line_value "$SL_INFO" "restored from")"
assert_eq "$first" "${restored%% *}" "checkpoint in 'restored from: $restored' (the one completed before the kill)"

# The background `sluice checkpoint` ends, reporting a failure.
wait_for -t 120 sl_pid_gone "$bg"
rc=0
wait "$bg" || rc=$?
echo "background 'sluice checkpoint' exited $rc: $(cat "$SL_DATA/bg-checkpoint.out")"
[ "$rc" -ne 0 ] || fail "'sluice checkpoint' of the aborted checkpoint exited 0: $(cat "$SL_DATA/bg-checkpoint.out")"

sl_wait_job_end "$jobid" FINISHED 180
sl_checkpoints "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
echo "$SL_OUT"
assert_ge 1 "$(sl_ckpt_count "$SL_OUT" failed)" "'failed:' of 'sluice checkpoints'"
assert_eq 0 "$(sl_ckpt_count "$SL_OUT" "in progress")" "'in progress:' of 'sluice checkpoints' of the finished job"
dir="$(sl_ckpt_job_dir "$jobid")"
[ ! -e "$dir/chk-$pending" ] ||
    fail "the aborted checkpoint's folder $dir/chk-$pending remains: $(find "$dir/chk-$pending" | head -n 20)"
for c in $(sl_chk_folders "$dir"); do
    [ -f "$dir/$c/_metadata" ] || fail "checkpoint folder $dir/$c has no _metadata (a partial checkpoint left behind): $(find "$dir/$c" | head -n 20)"
done
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
