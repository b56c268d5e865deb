#!/usr/bin/env bash
# Jobmanager failover (issue 13 (a)): a local ZooKeeper, two jobmanagers
# (leader and standby) and three taskmanagers (1 slot each); the
# taskmanagers and the CLI find the leader through ZooKeeper (sluice.yaml
# names a port no jobmanager listens on). The standby answers a CLI call
# made to it directly with "not the leader; the leader is HOST:PORT" (exit
# 3). A paced word count (about 20 s, parallelism 2, exactly-once, a
# checkpoint every 300 ms) runs; once a checkpoint completed, SIGKILL the
# leader. The standby takes over within the ZooKeeper session timeout (3 s,
# SL_HA_SESSION_TIMEOUT) plus a margin, runs the job again under the same
# JobID from the latest completed checkpoint (`sluice info` says a new
# leader recovered it), completes checkpoints with ids above every id the
# old leader triggered, `sluice list -a` shows the JobID RUNNING and then
# FINISHED, and the output is exactly-once. Once the job finished, its HA
# data is gone (ZooKeeper node, storageDir files). Prints the times from
# the kill to the job RUNNING again and to its next completed checkpoint
# (bench/ha_failover.sh reports them).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"

ha_cluster 2 3
leader_port="$HA_LEADER_PORT"
for p in "${HA_JM_PORTS[@]}"; do
    [ "$p" != "$leader_port" ] || continue
    ha_at "$p" list
    assert_eq 3 "$SL_RC" "exit code of 'sluice -m 127.0.0.1:$p list' at the standby (stdout: $SL_OUT; stderr: $SL_ERR)"
    assert_contains "$SL_ERR" "not the leader; the leader is " "the standby's answer"
    assert_contains "$SL_ERR" ":$leader_port" "the standby's answer (the leader's port)"
done

ha_wordcount_job ha-failover 3000000 20
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_job_running_now "$jobid"
before="$(sl_latest_ckpt_id "$jobid")"
echo "latest completed checkpoint before the kill: $before"

ha_signal_leader KILL
old_port="$HA_VICTIM_PORT"
wait_for -t 30 sl_pid_gone "$HA_VICTIM_PID"
ha_takeover "$jobid" "$HA_VICTIM_PORT"
new_port="$HA_NEW_PORT"
info="$HA_INFO"
ha_check_recovered_info "$info"

# Restored from a checkpoint at least as new as the one seen before the kill.
restored="$(ha_restored_id "$info")"
[ -n "$restored" ] || fail "the new leader's info has no 'restored from: <id> <uri>' line:"$'\n'"$info"
[ "$restored" -ge "$before" ] || fail "restored from checkpoint $restored, older than checkpoint $before completed before the kill"
assert_eq "$restored" "$(ha_recovered_id "$info")" "checkpoint of the 'recovered: by a new leader ... from checkpoint <id>' line (restored from $restored)"
# Ids only grow: the new leader's checkpoints are above every id the old
# one triggered (its log is complete: it is dead).
triggered="$(ha_max_triggered "$old_port" "$jobid")"
echo "the old leader triggered up to checkpoint $triggered; the new leader restored $restored"
floor="$restored"
[ "$before" -le "$floor" ] || floor="$before"
wait_for -t 60 ha_ckpt_above_at "$new_port" "$jobid" "$floor"
t_ckpt=$(($(sl__now_ms) - SL_KILL_MS))
[ "$HA_CKPT_ID" -gt "$triggered" ] ||
    fail "the new leader completed checkpoint $HA_CKPT_ID; the old leader had triggered up to $triggered: ids must only grow"
echo "RESULT jobmanager failover (session timeout $HA_SESSION_TIMEOUT): new leader after $HA_T_LEADER_MS ms, RUNNING again after $HA_T_RUNNING_MS ms, next checkpoint completed after $t_ckpt ms"

# `sluice list -a` (through ZooKeeper) shows the same JobID RUNNING.
wait_for -t 30 ha_list_state_is "$jobid" RUNNING
sl_wait_job_end "$jobid" FINISHED 180
ha_check_recovered_info "$SL_INFO"
wait_for -t 30 ha_list_state_is "$jobid" FINISHED
assert_eq 1 "$(awk 'NF' <<<"$SL_OUT" | wc -l)" "jobs in 'sluice list -a' (one job, recovered under its JobID):"$'\n'"$SL_OUT"

# The new leader's checkpoints of the job: every one above the old leader's.
sl_checkpoints "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice checkpoints' (stderr: $SL_ERR)"
low="$(awk '$2 == "COMPLETED" { if (m == "" || $1 < m) m = $1 } END { print m }' <<<"$SL_OUT")"
[ -n "$low" ] || fail "'sluice checkpoints' of the finished job lists no COMPLETED checkpoint:"$'\n'"$SL_OUT"
[ "$low" -gt "$triggered" ] || [ "$low" -eq "$restored" ] ||
    fail "the new leader lists completed checkpoint $low, not above the old leader's $triggered (restored $restored):"$'\n'"$SL_OUT"

wait_for -t 30 ha_zk_job_gone "$jobid"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
