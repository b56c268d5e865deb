#!/usr/bin/env bash
# A deposed leader acts on nothing (issue 13 (c)): a local ZooKeeper, two
# jobmanagers and three taskmanagers (1 slot each). A paced word count
# (about 25 s, parallelism 2, exactly-once, a checkpoint every 300 ms)
# runs; once a checkpoint completed, SIGSTOP the leader. Its ZooKeeper
# session expires (3 s), the standby takes over and runs the job on (a
# checkpoint of its own completes) while the old leader still sleeps. Then
# SIGCONT the old leader: from then on its log has no line of a deploy,
# a checkpoint trigger or completion, a restart, a removal or deletion
# (HA_ACTION_RE in ha_lib.sh), and it says it lost leadership
# (HA_LOST_RE); the new leader stays the leader; the checkpoints it relies
# on (the latest completed one when the old leader woke, and the next)
# are still on disk; the job's ZooKeeper node is still there while it
# runs; the job finishes under the new leader with exactly-once output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"

# check_kept ID DIR: checkpoint ID is still on disk (DIR/_metadata), or the
# new leader's retention removed it (it logs that before it removes).
check_kept() {
    [ -f "$2/_metadata" ] && return 0
    grep -qE "removing checkpoint $1 |removing $2 " "${HA_JM_LOG[$new_port]}" ||
        fail "checkpoint $1 ($2) of the new leader is gone and the new leader did not remove it"
    echo "checkpoint $1 was removed by the new leader's retention"
}

ha_cluster 2 3
session_ms="$(ha_ms "$HA_SESSION_TIMEOUT")"

ha_wordcount_job ha-fencing 3500000 25
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_job_running_now "$jobid"
before="$(sl_latest_ckpt_id "$jobid")"

ha_signal_leader STOP
old_port="$HA_VICTIM_PORT" old_pid="$HA_VICTIM_PID"
t_stop="$SL_KILL_MS"
wait_for -t 10 ha_pid_stopped "$old_pid"
# It writes nothing while stopped (the log is written line by line with
# write(2)): everything from here on was written after SIGCONT.
offset="$(ha_log_size "$old_port")"

ha_takeover "$jobid" "$old_port"
new_port="$HA_NEW_PORT" new_id="$HA_LEADER_ID"
ha_check_recovered_info "$HA_INFO"
restored="$(ha_restored_id "$HA_INFO")"
floor="${restored:-$before}"
[ "$before" -le "$floor" ] || floor="$before"
wait_for -t 60 ha_ckpt_above_at "$new_port" "$jobid" "$floor"
echo "the new leader completed checkpoint $HA_CKPT_ID"
stopped_ms=$(($(sl__now_ms) - t_stop))
[ "$stopped_ms" -gt "$session_ms" ] || fail "the old leader was stopped only $stopped_ms ms, not past the session timeout ($session_ms ms)"
sl_job_running_now "$jobid"
# What the new leader relies on when the old one wakes.
wait_for -t 30 ha_ckpt_above_at "$new_port" "$jobid" 0
relied_id="$HA_CKPT_ID" relied_dir="$(sl_uri_path "$HA_CKPT_URI")"
check_kept "$relied_id" "$relied_dir"

echo "SIGCONT to the old leader (pid $old_pid) after $stopped_ms ms stopped"
kill -CONT "$old_pid"
wait_for -t 30 ha_log_since_matches "$old_port" "$offset" "$HA_LOST_RE"
echo "the old leader says: $(ha_log_since "$old_port" "$offset" | grep -E -m 1 -- "$HA_LOST_RE")"
# Give it time to misbehave: the new leader completes three more checkpoints.
wait_for -t 60 ha_ckpt_above_at "$new_port" "$jobid" $((relied_id + 2))
next_id="$HA_CKPT_ID" next_dir="$(sl_uri_path "$HA_CKPT_URI")"
check_kept "$next_id" "$next_dir"
check_kept "$relied_id" "$relied_dir"
ha_leader >/dev/null || fail "no leader in ZooKeeper after the old leader woke"
assert_eq "$new_port" "$HA_LEADER_PORT" "the leader's port after the old leader woke"
assert_eq "$new_id" "$HA_LEADER_ID" "the leader id after the old leader woke"
ha_zk_children "$HA_ZK_ROOT/$HA_CID/jobs" | grep -qx "$jobid" ||
    fail "$HA_ZK_ROOT/$HA_CID/jobs no longer lists the running job $jobid"
sl_job_running_now "$jobid"

sl_wait_job_end "$jobid" FINISHED 180
ha_leader >/dev/null || true
assert_eq "$new_port" "$HA_LEADER_PORT" "the leader's port when the job finished"
acted="$(ha_log_since "$old_port" "$offset" | grep -E -- "$HA_ACTION_RE" | head -n 10 || true)"
[ -z "$acted" ] || fail "the deposed leader acted after SIGCONT:"$'\n'"$acted"
echo "the deposed leader logged $(ha_log_since "$old_port" "$offset" | wc -l) lines after SIGCONT, none of an action"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
