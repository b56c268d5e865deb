#!/usr/bin/env bash
# The only jobmanager dies and comes back (issue 13 (b)): a local
# ZooKeeper, one jobmanager and three taskmanagers (1 slot each) that find
# it through ZooKeeper. A paced word count (about 20 s, parallelism 2,
# exactly-once, a checkpoint every 300 ms) runs; once a checkpoint
# completed, SIGKILL the jobmanager, then start it again with
# `scripts/jobmanager.sh start` (same port, same folders). Once its old
# ZooKeeper session expired it leads (a higher leader id), recovers the job
# under the same JobID from the latest completed checkpoint (`sluice info`
# says so), the taskmanagers register with it again, and the job finishes
# with exactly-once output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"

ha_cluster 1 3
port="$HA_LEADER_PORT"

ha_wordcount_job ha-restart 3000000 20
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_job_running_now "$jobid"
before="$(sl_latest_ckpt_id "$jobid")"
echo "latest completed checkpoint before the kill: $before"

ha_signal_leader KILL
wait_for -t 30 sl_pid_gone "$HA_VICTIM_PID"
triggered="$(ha_max_triggered "$port" "$jobid")"
ha_start_jm "$port"
new_pid="${HA_JM_PID[$port]}"
[ "$new_pid" != "$HA_VICTIM_PID" ] || fail "jobmanager.sh start reported the dead pid $new_pid"
ha_takeover "$jobid"
assert_eq "$new_pid" "$HA_LEADER_PID" "pid of the leader after the restart"
info="$HA_INFO"
ha_check_recovered_info "$info"
restored="$(ha_restored_id "$info")"
[ -n "$restored" ] || fail "the restarted jobmanager's info has no 'restored from: <id> <uri>' line:"$'\n'"$info"
[ "$restored" -ge "$before" ] || fail "restored from checkpoint $restored, older than checkpoint $before completed before the kill"
wait_for -t 60 ha_ckpt_above_at "$port" "$jobid" "$restored"
[ "$HA_CKPT_ID" -gt "$triggered" ] ||
    fail "the restarted jobmanager completed checkpoint $HA_CKPT_ID; before the kill it had triggered up to $triggered: ids must only grow"
echo "restarted jobmanager: RUNNING again $HA_T_RUNNING_MS ms after the kill, checkpoint $HA_CKPT_ID completed"
wait_for -t 30 ha_tms_running_at "$port" 3

wait_for -t 30 ha_list_state_is "$jobid" RUNNING
sl_wait_job_end "$jobid" FINISHED 180
wait_for -t 30 ha_list_state_is "$jobid" FINISHED
wait_for -t 30 ha_zk_job_gone "$jobid"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
