#!/usr/bin/env bash
# Silent death of a host (hosts_lib.sh): a cluster of a jobmanager host and
# 4 taskmanager hosts (1 slot each), started over ssh, runs word count at
# parallelism 2 with checkpoints every 500 ms. Once a checkpoint completed,
# the link of a host running a 'counts' subtask goes down and then every
# sluice process in it gets SIGKILL: no FIN, no RST reaches anyone, as when
# a machine loses power. The jobmanager declares its taskmanager lost after
# heartbeat.timeout (SL_HB_TIMEOUT [3 s]; not before: nothing else tells
# it), the job restarts on the other hosts from the latest completed
# checkpoint (no task on the dead host), completes a later checkpoint and
# finishes with exactly-once output; the dead taskmanager is listed LOST.
# The surviving tasks' waits on the dead peer (credit, receives) end when
# their attempt is cancelled, or the restart could not get their slots.
# Prints the time from the death to RUNNING again and to the next completed
# checkpoint (bench/hosts_failover.sh reports them).
. "$(dirname "$0")/hosts_lib.sh"

hb_timeout="${SL_HB_TIMEOUT:-3 s}"
hb_interval="${SL_HB_INTERVAL:-500 ms}"
tms=(sl-tm1 sl-tm2 sl-tm3 sl-tm4)
hl_new_cluster
cat >>"$SL_CONF/sluice.yaml" <<EOF
heartbeat.interval: $hb_interval
heartbeat.timeout: $hb_timeout
EOF
hl_start_hosts sl-jm "${tms[@]}" sl-client
hl_conf_hosts sl-jm "${tms[@]}"
hl_script sl-client start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
wait_for hl_running_tms_are 4

sl_wordcount_setup 3000000 25
sl_write_file_job "$SL_DATA/job.yaml" hosts-silent-death "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 500 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_ckpt_completed_at_least "$jobid" 1

hl_pick_victim "$jobid" counts
before_id="$(sl_latest_ckpt_id "$jobid")"
hl_kill_host_silently "$SL_VICTIM_HOST"
t_death="$SL_KILL_MS"

sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT" 120
t_running="$(sl__now_ms)"
noticed=$((SL_FAILURE_SEEN_MS - t_death))
hb_ms="$(hl_ms_of "$hb_timeout")"
echo "the failure was visible in 'sluice info' $noticed ms after the death (heartbeat.timeout $hb_ms ms)"
# Nothing but the heartbeat timeout can tell: a loss seen much earlier
# means something (a FIN, an RST) reached the jobmanager.
[ "$noticed" -ge $((hb_ms - hb_ms / 4)) ] ||
    fail "the job left RUNNING $noticed ms after the death, before heartbeat.timeout ($hb_ms ms): the death was not silent"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info after the restart"
if awk -v tm="$SL_VICTIM_TM" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$SL_INFO"; then
    fail "tasks of the new attempt are placed on the dead taskmanager $SL_VICTIM_TM:"$'\n'"$SL_INFO"
fi
wait_for -t 60 sl_ckpt_latest_id_above "$jobid" "$before_id"
t_ckpt="$(sl__now_ms)"
echo "RESULT silent death (heartbeat.timeout $hb_ms ms): RUNNING again after $((t_running - t_death)) ms, next checkpoint completed after $((t_ckpt - t_death)) ms"

sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "'sluice taskmanagers' exit code (stderr: $SL_ERR)"
awk -v tm="$SL_VICTIM_TM" '$1 == tm && $6 == "LOST" { ok = 1 } END { exit !ok }' <<<"$SL_OUT" ||
    fail "the dead taskmanager $SL_VICTIM_TM is not listed LOST:"$'\n'"$SL_OUT"

sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
echo "ok"
