#!/usr/bin/env bash
# Savepoint errors lose nothing:
# - a savepoint into a folder that cannot be created fails with the reason
#   (exit 1) while the job keeps running, and the next savepoint works;
# - savepoints of an unknown job, or with no folder given nor configured,
#   fail with the reason;
# - `run -s` from a missing folder, from a savepoint with a corrupt state
#   file, with a changed max-parallelism, or with state of a stage the job
#   no longer has (unless -n) fails at submit with the reason, and no job
#   is created;
# - `savepoint -d` disposes of a savepoint (and refuses a folder without
#   _metadata).
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 1
sl_wordcount_setup 300000 60

job() { # FILE NAME [EXTRA-CONFIG] [MAX-PARALLELISM]
    sl_write_file_job "$1" "$2" "$SL_TEXT" "$SL_OUTDIR" 1 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms${3:-}"
    if [ -n "${4:-}" ]; then sed -i "2a max-parallelism: $4" "$1"; fi
}
job "$SL_DATA/job.yaml" sp-errors

sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"

# no folder given, none configured
sl_run sl_cli savepoint "$jobid"
assert_eq 1 "$SL_RC" "exit code of a savepoint without a folder (stdout: $SL_OUT)"
assert_contains "$SL_ERR" "state.savepoints.dir" "error of a savepoint without a folder"

# a folder that cannot be created: its parent is a regular file
: >"$SL_DATA/not-a-folder"
sl_run sl_cli savepoint "$jobid" "$SL_DATA/not-a-folder/sp"
assert_eq 1 "$SL_RC" "exit code of a savepoint into an unwritable folder (stdout: $SL_OUT)"
assert_contains "$SL_ERR" "Not a directory" "error of a savepoint into an unwritable folder"
sl_job_running_now "$jobid"
[ -z "$(find "$SL_DATA/not-a-folder" -mindepth 1 2>/dev/null)" ] || fail "something was written under the bad folder"

# unknown job
sl_run sl_cli savepoint 0123456789abcdef0123456789abcdef "$SL_DATA/sp"
assert_eq 1 "$SL_RC" "exit code of a savepoint of an unknown job"
assert_contains "$SL_ERR" "no such job" "error of a savepoint of an unknown job"

# a good one (relative folder, resolved against the current directory)
cd "$SL_DATA"
sl_savepoint "$jobid" sp
assert_eq "$SL_DATA/sp" "$(dirname "$SL_SP")" "folder of the savepoint given as 'sp'"
good="$SL_SP"
cd - >/dev/null
sl_job_running_now "$jobid"
sl_savepoint "$jobid" "file://$SL_DATA/sp2"
second="$SL_SP"
sl_run sl_cli cancel "$jobid"
sl_wait_job_end "$jobid" CANCELED 60
jobs_before="$(sl_cli list -a | wc -l)"

# run -s ERROR-CASE... : must fail at submit (exit 2), naming the reason
refused() {
    local want="$1" file="$2"
    shift 2
    sl_run sl_cli run -d "$@" "$file"
    assert_eq 2 "$SL_RC" "exit code of 'sluice run -d $* $file' (stdout: $SL_OUT)"
    assert_contains "$SL_ERR" "$want" "error of 'sluice run -d $* $file'"
    assert_eq "" "$(sl_jobid_of "$SL_OUT")" "a JobID printed by a refused submit"
    echo "refused as expected: $SL_ERR"
}
refused "no savepoint or checkpoint there" "$SL_DATA/job.yaml" -s "$SL_DATA/missing"
job "$SL_DATA/maxp.yaml" sp-errors "" 64
refused "max-parallelism 128" "$SL_DATA/maxp.yaml" -s "$good"
sed 's/- name: counts/- name: tallies/; s/input: counts/input: tallies/' "$SL_DATA/job.yaml" >"$SL_DATA/renamed.yaml"
refused "stage 'counts' maps to no stage" "$SL_DATA/renamed.yaml" -s "$good"
cp -a "$good" "$SL_DATA/corrupt"
state="$(find "$SL_DATA/corrupt" -name '*.state' | LC_ALL=C sort | tail -n 1)"
sl_corrupt_file "$state"
refused "checksum" "$SL_DATA/job.yaml" -s "$SL_DATA/corrupt"
assert_eq "$jobs_before" "$(sl_cli list -a | wc -l)" "jobs listed after the refused submits"

# -n: the state of the renamed stage is skipped; the job runs
sl_submit_detached "$SL_DATA/renamed.yaml" -s "$good" -n
renamed="$SL_JOBID"
wait_for sl_job_deployed "$renamed"
sl_restored_from_is "$renamed" "$good"
sl_run sl_cli cancel "$renamed"
sl_wait_job_end "$renamed" CANCELED 60

# dispose
sl_run sl_cli savepoint -d "$second"
assert_eq 0 "$SL_RC" "exit code of 'sluice savepoint -d' (stderr: $SL_ERR)"
[ ! -e "$second" ] || fail "savepoint $second still exists after -d: $(ls -la "$second")"
sl_run sl_cli savepoint -d "$second"
assert_eq 1 "$SL_RC" "exit code of a second 'sluice savepoint -d'"
assert_contains "$SL_ERR" "no savepoint or checkpoint there" "error of a second 'sluice savepoint -d'"
sl_check_savepoint_folder "$good"
echo "ok"
