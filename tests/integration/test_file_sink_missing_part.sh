#!/usr/bin/env bash
# A committed part file that a restored checkpoint covers is missing (lost
# in a crash, or removed by someone): the file sink does not carry on as if
# nothing happened. Manual checkpoints only (interval 1 h); take checkpoint
# A, wait for committed part files, remove one, SIGKILL the taskmanager of
# a `counts` subtask. Every restore from A fails the sink's task with a
# message naming the file; with restart-strategy fixed-delay (2 attempts)
# the job ends FAILED and `sluice info` (and the jobmanager log) name the
# missing file as the cause: the restarts are bounded by the strategy and
# never silent.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 1500000 12
sl_write_file_job "$SL_DATA/job.yaml" missing-part "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 1 h
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 2
  restart-strategy.fixed-delay.delay: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"
sl_trigger_checkpoint "$jobid"

committed_parts() {
    local n
    n="$(find "$SL_OUTDIR" -maxdepth 1 -type f -name 'part-*' | wc -l)"
    echo "$n committed part files"
    [ "$n" -ge 1 ]
}
wait_for committed_parts
victim="$(find "$SL_OUTDIR" -maxdepth 1 -type f -name 'part-*' | LC_ALL=C sort | head -n 1)"
rm -f "$victim"
echo "removed the committed part file $victim"

sl_kill_counts_tm "$jobid" KILL
sl_wait_job_end "$jobid" FAILED 120
failure="$(sl_line_value "$SL_INFO" failure)"
echo "failure: $failure"
assert_contains "$failure" "$victim" "failure cause in 'sluice info'"
assert_contains "$failure" "missing" "failure cause in 'sluice info'"
assert_eq 2 "$(sl_field "$SL_INFO" restarts)" "restarts (fixed-delay, 2 attempts)"
grep -F "job $jobid" "$SL_LOG/sluice-jobmanager.log" | grep -F "failed:" | grep -qF "$victim" ||
    fail "the jobmanager log does not name the missing file $victim"
echo "ok"
