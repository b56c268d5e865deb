#!/usr/bin/env bash
# Data tokens: a data frame must carry its job attempt's token (16 random
# bytes the jobmanager sends with DeployTasks). While word count (p=2, two
# taskmanagers, exactly-once file sink, checkpoints every 300 ms) runs,
# tests/tools/frame_inject sends each taskmanager's data port DATA and
# CREDIT frames of the running job, its current attempt and its real
# channels (tokenize -> count, subtasks 0-1) but with a random token: an
# early end of input, sequence numbers out of order and credits beyond the
# window, any of which would fail or cut a channel if accepted. Then the job
# still ends FINISHED without a restart, its output is exactly the
# reference, and each taskmanager logged the (rate-limited) drop warning.
. "$(dirname "$0")/lib.sh"

inject="$SL_BIN/../tools/frame_inject"
[ -x "$inject" ] || fail "$inject not found (make binaries builds tests/tools)"
ROUNDS="${INJECT_ROUNDS:-50}"

sl_new_cluster
sl_start_cluster 2
sl_wordcount_setup 1500000 20
sl_write_file_job "$SL_DATA/job.yaml" data-token "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms
  execution.checkpointing.mode: EXACTLY_ONCE
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 1000
  restart-strategy.fixed-delay.delay: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"
attempt="$(sl_field "$SL_OUT" attempt)"
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_run sl_cli list
assert_contains "$SL_OUT" "$jobid" "sluice list names the job"

# data ports of the taskmanagers, from their start-up log lines
mapfile -t data_ports < <(sed -n -E 's/.*: advertised .*, rpc port [0-9]+, data tcp:\/\/[^:]+:([0-9]+),.*/\1/p' "$SL_LOG"/sluice-taskmanager-*.log)
assert_eq 2 "${#data_ports[@]}" "taskmanager start-up lines with a data port"
echo "job $jobid attempt $attempt; data ports ${data_ports[*]}"

# edge tokenize (stage 1) -> count (stage 2), subtasks 0-1, both taskmanagers
for port in "${data_ports[@]}"; do
    sl_run "$inject" "tcp://127.0.0.1:$port" "$jobid" "$attempt" 1 2 "$ROUNDS"
    echo "inject at $port: $SL_OUT $SL_ERR"
    assert_eq 0 "$SL_RC" "frame_inject at data port $port"
    assert_contains "$SL_OUT" "sent=$((ROUNDS * 8)) failed=0" "frames sent to port $port"
done
sl_run sl_cli info "$jobid"
assert_eq RUNNING "$(sl_field "$SL_OUT" state)" "job state after the injection"

sl_wait_job_end "$jobid" FINISHED 180
assert_eq 0 "$(sl_field "$SL_INFO" restarts)" "restarts (a forged frame was accepted?)"
assert_eq "$attempt" "$(sl_field "$SL_INFO" attempt)" "the attempt that finished"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

want="data frame for job $jobid attempt $attempt with a wrong token from 127.0.0.1:"
for f in "$SL_LOG"/sluice-taskmanager-*.log; do
    n="$(grep -acF "$want" "$f" || true)"
    echo "${f##*/}: $n drop warnings"
    [ "$n" -ge 1 ] || fail "$f: no line '$want...: dropped'"$'\n'"$(tail -n 20 "$f")"
    # rate-limited: far fewer lines than the $((ROUNDS * 8)) frames dropped
    [ "$n" -le 30 ] || fail "$f: $n drop warnings for $((ROUNDS * 8)) frames (not rate-limited)"
done
echo "ok"
