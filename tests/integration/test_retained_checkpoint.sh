#!/usr/bin/env bash
# Retained checkpoints: a word count with
# execution.checkpointing.externalized-checkpoint-retention:
# RETAIN_ON_CANCELLATION and checkpoints every 300 ms is cancelled mid-run;
# its latest completed checkpoint stays on disk (with the ones before it up
# to state.checkpoints.num-retained) and `sluice run -s <that folder>`
# resumes the job from it, at another parallelism, to the end. The committed
# output over both jobs holds every word's counts 1..N exactly once. A
# cancelled job with the default DELETE_ON_CANCELLATION leaves no folder.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2
sl_wordcount_setup 1500000 12

job() {
    sl_write_file_job "$1" retained "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms
  execution.checkpointing.externalized-checkpoint-retention: $2"
}
job "$SL_DATA/retain.yaml" RETAIN_ON_CANCELLATION
job "$SL_DATA/delete.yaml" DELETE_ON_CANCELLATION

sl_submit_detached "$SL_DATA/retain.yaml"
j1="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$j1" 3
sl_job_running_now "$j1"
sl_run sl_cli cancel "$j1"
assert_eq 0 "$SL_RC" "exit code of 'sluice cancel' (stderr: $SL_ERR)"
sl_wait_job_end "$j1" CANCELED 60
sl_checkpoints "$j1"
latest="$(sl_ckpt_latest "$SL_OUT")"
[[ "$latest" =~ ^([0-9]+)\ (file://.*)$ ]] || fail "no latest completed checkpoint after the cancel:"$'\n'"$SL_OUT"
chk="$(sl_uri_path "${BASH_REMATCH[2]}")"
[ -f "$chk/_metadata" ] || fail "the latest checkpoint $chk did not survive the cancel: $(ls -la "$(dirname "$chk")" 2>&1)"
n="$(find "$SL_OUTDIR" -type f -name 'part-*' -exec cat {} + | wc -l)"
echo "cancelled after $n committed counts; resuming from $chk"

sl_run sl_cli run -p 3 -s "$chk" "$SL_DATA/retain.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run -s $chk'; stdout: $SL_OUT; stderr: $SL_ERR"
assert_contains "$SL_OUT" "finished with state FINISHED" "output of 'sluice run -s'"
j2="$(sl_jobid_of "$SL_OUT")"
sl_restored_from_is "$j2" "$chk"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# DELETE_ON_CANCELLATION (the default): nothing of the job stays.
SL_OUTDIR="$SL_DATA/out-delete"
job "$SL_DATA/delete.yaml" DELETE_ON_CANCELLATION
sl_submit_detached "$SL_DATA/delete.yaml"
j3="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$j3" 1
sl_run sl_cli cancel "$j3"
sl_wait_job_end "$j3" CANCELED 60
wait_for -t 30 bash -c "! [ -e '$(sl_ckpt_job_dir "$j3")' ]"
echo "ok"
