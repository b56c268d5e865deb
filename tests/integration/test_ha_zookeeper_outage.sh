#!/usr/bin/env bash
# High availability when ZooKeeper itself fails (issue 13, item 7): one
# jobmanager with HA and three taskmanagers run a checkpointing word count.
# ZooKeeper is stopped (SIGSTOP) for twice the session timeout. Once two
# thirds of the session timeout passed the leader's lease has run out: from
# then on no checkpoint completes and no part file is committed while
# ZooKeeper is away (the tasks keep running). When ZooKeeper is back, either
# the sessions expired (the server's expiry ran before the clients came
# back): the jobmanager loses leadership, wins it again, recovers the job
# under its JobID from its latest completed checkpoint and the taskmanagers
# register again; or the session survived: the lease is renewed and the job
# goes on. Either way the output is exactly-once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"

ha_cluster 1 3
port="$HA_LEADER_PORT"
log="${HA_JM_LOG[$port]}"
session_ms="$(ha_ms "$HA_SESSION_TIMEOUT")"
ha_wordcount_job ha-zk-outage 3000000 25
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 2

# the latest completed checkpoint, asked of the jobmanager directly: the
# CLI cannot find the leader while ZooKeeper is away
direct_latest() {
    local out l
    out="$(timeout 10 "$SL_BIN/sluice" -c "$SL_CONF" -m "127.0.0.1:$port" checkpoints "$jobid" 2>&1)" ||
        fail "sluice -m 127.0.0.1:$port checkpoints $jobid failed during the outage: $out"
    l="$(sl_ckpt_latest "$out")"
    if [ "$l" = none ]; then echo 0; else echo "${l%% *}"; fi
}
committed() {
    find "$SL_OUTDIR" -maxdepth 1 -type f -name 'part-*' -printf '%f %s\n' | sort
}
since_stop_at_least() {
    [ $(($(sl__now_ms) - stopped_ms)) -ge "$1" ]
}

kill -STOP "$HA_ZK_PID"
stopped_ms="$(sl__now_ms)"
echo "ZooKeeper stopped"
wait_for -t 30 since_stop_at_least $((session_ms * 2 / 3 + 700))
ck1="$(direct_latest)"
files1="$(committed)"
echo "latest completed checkpoint once the lease ran out: $ck1 ($(wc -l <<<"$files1") part files)"
grep -q "leadership lease ran out" "$log" ||
    fail "the jobmanager does not say its lease ran out:"$'\n'"$(tail -n 20 "$log")"
wait_for -t 30 since_stop_at_least $((session_ms * 2))
ck2="$(direct_latest)"
files2="$(committed)"
assert_eq "$ck1" "$ck2" "latest completed checkpoint while ZooKeeper was away"
assert_eq "$files1" "$files2" "committed part files while ZooKeeper was away"

kill -CONT "$HA_ZK_PID"
echo "ZooKeeper resumed after $(($(sl__now_ms) - stopped_ms)) ms"
back_to_work() {
    [ "$(grep -c 'granted leadership' "$log")" -ge 2 ] || grep -q 'leadership lease is renewed' "$log"
}
wait_for -t 60 back_to_work
sl_wait_job_end "$jobid" FINISHED 180
sl_info "$jobid"
if [ "$(grep -c 'granted leadership' "$log")" -ge 2 ]; then
    echo "the sessions expired: leadership lost and won again"
    grep -q "no longer the leader" "$log" || fail "the jobmanager did not say it lost leadership"
    assert_match "$SL_OUT" '^recovered: by a new leader' "info of the job recovered after the outage"
else
    echo "the session survived the outage: the lease was renewed"
    assert_not_contains "$(cat "$log")" "no longer the leader" "the jobmanager's log"
fi
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
