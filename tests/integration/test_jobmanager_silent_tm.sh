#!/usr/bin/env bash
# The jobmanager's loop never waits on the network. A fake taskmanager
# (silent_tm.py) registers with an RPC address that accepts TCP connections
# but never answers, and registers again whenever it is dropped, while an
# exactly-once word count with checkpoints every 200 ms runs at parallelism 2
# on 3 real taskmanagers (1 slot each). A dial that waited for the peer
# would stall the loop for nng's 10 s handshake timeout per registration.
# Checked: within 4 s of the registration at least 3 more checkpoints
# complete; a SIGKILL of a real taskmanager is noticed within 3 s and the job
# restarts on real taskmanagers only (never on the silent one); the job ends
# FINISHED with exactly-once output.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is needed for the silent taskmanager"
here="$(cd "$(dirname "$0")" && pwd -P)"

sl_recovery_cluster 3
sl_wordcount_setup 2500000 20
sl_write_file_job "$SL_DATA/job.yaml" silent-tm "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_ckpt_completed_at_least "$jobid" 1

silent_id=silent0000000001
silent_out="$SL_DATA/silent_tm.out"
python3 "$here/silent_tm.py" "$SL_JM_PORT" "$silent_id" 4 >"$silent_out" 2>&1 &
sl_record_pid $!
wait_for -t 20 grep -q '^registered$' "$silent_out"
reg_ms="$(sl__now_ms)"
head -n 1 "$silent_out"
sl_checkpoints "$jobid"
base="$(sl_ckpt_count "$SL_OUT" completed)"
[[ "$base" =~ ^[0-9]+$ ]] || fail "'sluice checkpoints' has no 'completed:' count:"$'\n'"$SL_OUT"
echo "completed checkpoints when the silent taskmanager registered: $base"

wait_for -t 4 sl_ckpt_completed_at_least "$jobid" $((base + 3))
echo "3 more checkpoints completed $(($(sl__now_ms) - reg_ms)) ms after the registration"

sl_kill_counts_tm "$jobid" KILL
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
[ -n "$SL_FAILURE_SEEN_MS" ] || fail "no poll saw the job leave attempt $SL_PREV_ATTEMPT"
noticed=$((SL_FAILURE_SEEN_MS - SL_KILL_MS))
echo "the loss of $SL_VICTIM_TM was visible $noticed ms after the SIGKILL"
[ "$noticed" -le 3000 ] || fail "the loss of taskmanager $SL_VICTIM_TM showed only $noticed ms after its SIGKILL"
if awk -v tm="$silent_id" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$SL_INFO"; then
    fail "tasks of the new attempt are placed on the silent taskmanager:"$'\n'"$SL_INFO"
fi

sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
grep -q '^registered$' "$silent_out" || fail "the silent taskmanager never registered"
echo "silent taskmanager registrations: $(grep -c '^registered$' "$silent_out")"
echo "ok"
