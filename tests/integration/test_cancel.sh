#!/usr/bin/env bash
# Cancelling a running job: a rate-limited source keeps the job RUNNING;
# `sluice cancel` ends it as CANCELED, `list -a` shows it so, `list` no longer
# shows it, and every slot is free again.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 2

# 200000 lines at 100 records/s: far longer than this test.
seq 1 200000 >"$SL_DATA/lines.txt"
mkdir -p "$SL_DATA/out"
sl_write_file_job "$SL_DATA/job.yaml" cancel-me "$SL_DATA/lines.txt" "$SL_DATA/out" 2 "    rate: 100"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_state_is "$jobid" RUNNING

sl_run sl_cli list
assert_eq 0 "$SL_RC" "exit code of 'sluice list'"
assert_match "$SL_OUT" "^$jobid RUNNING cancel-me$" "'sluice list' while running"

sl_run sl_cli cancel "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice cancel'; stdout: $SL_OUT; stderr: $SL_ERR"

listed_canceled() {
    sl_run sl_cli list -a
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] && grep -qxF "$jobid CANCELED cancel-me" <<<"$SL_OUT"
}
wait_for listed_canceled
assert_eq CANCELED "$(sl_job_state "$jobid")" "state in 'sluice info' after cancel"

sl_run sl_cli list
assert_eq 0 "$SL_RC" "exit code of 'sluice list'"
assert_not_contains "$SL_OUT" "$jobid" "'sluice list' (running jobs only) after cancel"

slots_all_free() {
    sl_run sl_cli taskmanagers
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] || return 1
    [ "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" -eq 2 ] || return 1
    awk '$4 != $5 { busy = 1 } END { exit busy }' <<<"$SL_OUT"
}
wait_for slots_all_free
echo "ok"
