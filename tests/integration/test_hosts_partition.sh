#!/usr/bin/env bash
# A partition (hosts_lib.sh): a jobmanager host, 4 taskmanager hosts and two
# client hosts; start-cluster.sh starts the jobmanager and the taskmanagers
# of sl-tm1..3 over ssh (1 slot each, heartbeat.timeout 3 s), and the
# taskmanager of sl-tm4 is started over ssh with 2 slots and its own
# heartbeat.timeout of 60 s: it is slow to notice that it is cut off, so it
# goes on running its tasks for the whole partition.
#
# 1. Word count at parallelism 2 (checkpoints every 500 ms): slot 0 goes
#    to sl-tm4 (most free slots). Once a checkpoint completed, sl-tm4's
#    switch port goes down for 2x the jobmanager's heartbeat.timeout: the
#    host stays up and its tasks keep running, but nothing it sends
#    arrives. The jobmanager declares it lost and restarts the job on the
#    others from the latest completed checkpoint. Whatever the cut-off
#    taskmanager does meanwhile (its sink writes, its state, any ack) must
#    not reach the output or a checkpoint: the output is exactly-once.
# 2. The partition heals: the same taskmanager process (same id and pid)
#    learns that the jobmanager forgot it, drops its old tasks and, once
#    they ended, registers again, RUNNING with all its slots free; the
#    jobmanager logs that it came back.
# 3. A second word count at parallelism 5 needs every slot, so it runs on
#    the rejoined host too, and is exactly-once. It is run attached from
#    the first client host, which is cut off for 2x heartbeat.timeout while
#    it waits: the jobmanager keeps serving the other client host (list,
#    checkpoints go on), the job finishes exactly-once, and the attached
#    CLI, once reconnected, reports the end of the job.
. "$(dirname "$0")/hosts_lib.sh"

tms=(sl-tm1 sl-tm2 sl-tm3 sl-tm4)
hl_new_cluster
cat >>"$SL_CONF/sluice.yaml" <<EOF
heartbeat.interval: 500 ms
heartbeat.timeout: 3 s
EOF
hb_ms=3000
hl_start_hosts sl-jm "${tms[@]}" sl-client sl-client2
hl_conf_hosts sl-jm sl-tm1 sl-tm2 sl-tm3
hl_script sl-client start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
wait_for hl_running_tms_are 3
hl_remote_script sl-tm4 taskmanager.sh start -D "heartbeat.timeout=60 s" -D taskmanager.numberOfTaskSlots=2
assert_eq 0 "$SL_RC" "taskmanager.sh start on sl-tm4 over ssh (stdout: $SL_OUT; stderr: $SL_ERR)"
wait_for hl_running_tms_are 4

# ------------------------------------------------ 1. a busy host is cut off
sl_wordcount_setup 3000000 25
out1="$SL_OUTDIR"
ref1="$SL_REF"
sl_write_file_job "$SL_DATA/job1.yaml" hosts-partition "$SL_TEXT" "$out1" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 500 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job1.yaml"
job1="$SL_JOBID"
echo "job $job1 submitted"
wait_for sl_ckpt_completed_at_least "$job1" 1
hl_pick_victim "$job1" counts
victim_tm="$SL_VICTIM_TM" victim_pid="$SL_VICTIM_PID" victim_host="$SL_VICTIM_HOST"
assert_eq sl-tm4 "$victim_host" "host of the first 'counts' subtask (sl-tm4 has the most free slots)"
SL_KILL_MS="$(sl__now_ms)"
t_cut="$SL_KILL_MS"
hl_cut "$victim_host" on

sl_wait_restart "$job1" "$SL_PREV_ATTEMPT" 120
if awk -v tm="$victim_tm" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$SL_INFO"; then
    fail "tasks of the new attempt are placed on the cut-off taskmanager $victim_tm:"$'\n'"$SL_INFO"
fi
sl_run sl_cli taskmanagers
awk -v tm="$victim_tm" '$1 == tm && $6 == "LOST" { ok = 1 } END { exit !ok }' <<<"$SL_OUT" ||
    fail "the cut-off taskmanager $victim_tm is not listed LOST:"$'\n'"$SL_OUT"
sl_pid_alive "$victim_pid" || fail "the cut-off taskmanager (pid $victim_pid) died"

# The partition lasts 2x heartbeat.timeout (a duration of the scenario,
# not a wait for a condition).
left=$((t_cut + 2 * hb_ms - $(sl__now_ms)))
if [ "$left" -gt 0 ]; then sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"; fi

# ------------------------------------------------------- 2. it heals, rejoins
hl_cut "$victim_host" off
t_heal="$(sl__now_ms)"
# hl_tm_rejoined TM PID: for wait_for: TM (pid PID) is RUNNING again with
# every slot free.
hl_tm_rejoined() {
    sl_run sl_cli taskmanagers
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] &&
        awk -v tm="$1" -v p="$2" '$1 == tm && $3 == p && $6 == "RUNNING" && $4 == $5 { ok = 1 } END { exit !ok }' <<<"$SL_OUT"
}
wait_for -t 60 hl_tm_rejoined "$victim_tm" "$victim_pid"
echo "RESULT partition: taskmanager $victim_tm RUNNING again with all slots free $(($(sl__now_ms) - t_heal)) ms after the partition healed"
tm_log="$(hl_host_file "$victim_host" "$SL_LOG/sluice-taskmanager-0.log")"
assert_match "$tm_log" "cancelling job $job1 attempt $SL_PREV_ATTEMPT: " "log of the cut-off taskmanager"
assert_eq 2 "$(grep -c "registered at the jobmanager" <<<"$tm_log")" "registrations in the log of the cut-off taskmanager"
# It registered again only once its old tasks had ended (all slots free).
ended_at="$(grep -n "job $job1 attempt $SL_PREV_ATTEMPT ended on this taskmanager" <<<"$tm_log" | head -n 1 | cut -d: -f1)"
again_at="$(grep -n "registered at the jobmanager" <<<"$tm_log" | sed -n 2p | cut -d: -f1)"
if [ -z "$ended_at" ] || [ -z "$again_at" ] || [ "$ended_at" -ge "$again_at" ]; then
    fail "the cut-off taskmanager registered again (log line $again_at) before its old attempt ended (line ${ended_at:-none}):"$'\n'"$tm_log"
fi
jm_log="$(hl_host_file sl-jm "$SL_LOG/sluice-jobmanager.log")"
assert_contains "$jm_log" "taskmanager $victim_tm registered again after it was lost" "jobmanager log"

sl_wait_job_end "$job1" FINISHED 180
sl_check_exactly_once "$out1" "$ref1"

# ------------------------- 3. all four slots, attached, the client cut off
data1="$SL_DATA"
SL_DATA="$data1/job2"
mkdir -p "$SL_DATA"
sl_wordcount_setup 2000000 20 7
SL_DATA="$data1"
out2="$SL_OUTDIR"
ref2="$SL_REF"
sl_write_file_job "$SL_DATA/job2.yaml" hosts-partition-5 "$SL_TEXT" "$out2" 5 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 500 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
attached_out="$SL_TMP/attached.out"
sl_cli run "$SL_DATA/job2.yaml" >"$attached_out" 2>&1 &
attached_pid=$!
sl_record_pid "$attached_pid"
# hl_attached_job: for wait_for: the attached run printed its job id.
hl_attached_job() {
    job2="$(grep -oE '[0-9a-f]{32}' "$attached_out" | head -n 1)"
    [ -n "$job2" ]
}
wait_for -t 60 hl_attached_job
echo "job $job2 submitted attached from sl-client"
wait_for sl_job_deployed "$job2"
placed="$(sl_tasks "$SL_OUT" | awk '{ print $5 }' | sort -u | tr '\n' ' ')"
assert_contains "$placed" "$victim_tm" "taskmanagers of job $job2 (parallelism 5 needs the rejoined one)"
wait_for sl_ckpt_completed_at_least "$job2" 1
before2="$(sl_latest_ckpt_id "$job2")"

t_cut="$(sl__now_ms)"
hl_cut sl-client on
HL_CLIENT=sl-client2 # the other client host keeps working meanwhile
sl_run sl_cli list
assert_eq 0 "$SL_RC" "'sluice list' from sl-client2 while sl-client is cut off (stderr: $SL_ERR)"
assert_contains "$SL_OUT" "$job2 RUNNING" "'sluice list' from sl-client2"
wait_for -t 30 sl_ckpt_latest_id_above "$job2" "$before2"
left=$((t_cut + 2 * hb_ms - $(sl__now_ms)))
if [ "$left" -gt 0 ]; then sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"; fi
sl_pid_alive "$attached_pid" || fail "the attached CLI exited while its host was cut off:"$'\n'"$(cat "$attached_out")"
hl_cut sl-client off

wait_for -t 180 sl_pid_gone "$attached_pid"
rc=0
wait "$attached_pid" || rc=$?
cat "$attached_out"
assert_eq 0 "$rc" "exit code of the attached 'sluice run' (output: $(cat "$attached_out"))"
assert_contains "$(cat "$attached_out")" "Job $job2 finished with state FINISHED" "output of the attached 'sluice run'"
sl_wait_job_end "$job2" FINISHED 60
sl_check_exactly_once "$out2" "$ref2"
echo "ok"
