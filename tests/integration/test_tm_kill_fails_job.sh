#!/usr/bin/env bash
# A taskmanager lost under a job without checkpointing and without a restart
# strategy fails the job: SIGKILL the taskmanager running one of its
# subtasks; the job ends FAILED and `info` names that taskmanager as lost.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

seq 1 200000 >"$SL_DATA/lines.txt"
mkdir -p "$SL_DATA/out"
sl_write_file_job "$SL_DATA/job.yaml" lose-a-tm "$SL_DATA/lines.txt" "$SL_DATA/out" 2 \
    "    rate: 100" "  restart-strategy.type: none"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"
tasks="$(sl_tasks "$SL_OUT")"

# The taskmanager of a RUNNING subtask (a count subtask if the lines allow),
# and its pid as the jobmanager lists it.
tm="$(awk '$4 == "RUNNING" && $2 ~ /^counts/ { print $5; exit }' <<<"$tasks")"
[ -n "$tm" ] || tm="$(awk '$4 == "RUNNING" { print $5; exit }' <<<"$tasks")"
[ -n "$tm" ] || fail "no RUNNING task with a tm-id in the task lines of info:"$'\n'"$tasks"
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers'"
pid="$(awk -v tm="$tm" '$1 == tm { print $3 }' <<<"$SL_OUT")"
[ -n "$pid" ] || fail "taskmanager $tm (from info) is not listed by 'sluice taskmanagers':"$'\n'"$SL_OUT"
# Only ever kill a taskmanager of this test's cluster.
grep -qx "$pid" < <(sl_pidfile_pids taskmanager) || fail "pid $pid of $tm is not in this cluster's taskmanager pid file"
sl_pid_is_sluice "$pid" taskmanager || fail "pid $pid of $tm is not a live sluice-taskmanager"
echo "killing taskmanager $tm (pid $pid)"
kill -KILL "$pid"

wait_for sl_job_state_is "$jobid" FAILED
failure="$(sl_field "$SL_OUT" failure)"
[ -n "$failure" ] || fail "info of the FAILED job has no 'failure:' line:"$'\n'"$SL_OUT"
assert_contains "$failure" "taskmanager $tm" "failure reason"
assert_contains "$failure" "lost" "failure reason"
assert_eq 0 "$(sl_field "$SL_OUT" restarts)" "restarts of a job without restart strategy"
echo "ok"
