#!/usr/bin/env bash
# A restart that finds no checkpoint that verifies (issue 19, item 1): only
# manual checkpoints (interval 1 h, num-retained 3). Take checkpoints A and
# B with `sluice checkpoint`, wait until the sink committed part files,
# damage a state file of every retained checkpoint, note every committed
# part file (name and md5), SIGKILL the taskmanager of a `counts` subtask.
#
# 1. Default (execution.state-recovery.allow-empty-on-failure false): the
#    job does not start over without state: it ends FAILED, `sluice info`
#    shows the reason (both checkpoints named, and the key), so does the
#    jobmanager log; no new attempt is deployed; every committed part file
#    is still there, unchanged; the damaged checkpoints stay (FAILED keeps
#    them).
# 2. The key set to true in the job's config: block (a per-job override):
#    the job restarts without state (no `restored from:`), the jobmanager
#    log says why, it ends FINISHED; every part file committed before the
#    kill is still there, unchanged (a restart never deletes committed
#    output), so the output is at-least-once.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
sl_wordcount_setup 1500000 12
jm_log="$SL_LOG/sluice-jobmanager.log"

# damage_all JOBID: flips bytes in the largest state file of every
# completed chk-* folder of the job.
damage_all() {
    local dir c victim n=0
    dir="$(sl_ckpt_job_dir "$1")"
    for c in $(sl_chk_folders "$dir"); do
        [ -f "$dir/$c/_metadata" ] || continue
        victim="$(find "$dir/$c" -type f ! -name _metadata -size +0 -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)"
        [ -n "$victim" ] || fail "$dir/$c has no state file besides _metadata"
        sl_corrupt_file "$victim"
        n=$((n + 1))
    done
    [ "$n" -ge 2 ] || fail "expected at least 2 completed checkpoints in $dir, found $n"
}

committed_parts() {
    local n
    n="$(find "$1" -maxdepth 1 -type f -name 'part-*' | wc -l)"
    echo "$n committed part files in $1"
    [ "$n" -ge 1 ]
}

# run_until_kill NAME OUTDIR [CONFIG-YAML]: submits, takes checkpoints A and
# B, damages them, records the committed files in $SL_DATA/NAME.md5 and
# kills a counts taskmanager. Sets JOB, CHK_A, CHK_B.
run_until_kill() {
    local name="$1" out="$2" extra="${3:-}"
    mkdir -p "$out"
    sl_write_file_job "$SL_DATA/$name.yaml" "$name" "$SL_TEXT" "$out" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 1 h
  state.checkpoints.num-retained: 3${extra:+
$extra}"
    sl_submit_detached "$SL_DATA/$name.yaml"
    JOB="$SL_JOBID"
    echo "job $JOB ($name) submitted"
    wait_for sl_job_deployed "$JOB"
    sl_trigger_checkpoint "$JOB"
    CHK_A="$SL_CKPT_ID"
    sl_trigger_checkpoint "$JOB"
    CHK_B="$SL_CKPT_ID"
    wait_for committed_parts "$out"
    damage_all "$JOB"
    (cd "$out" && find . -maxdepth 1 -type f -name 'part-*' -printf '%f\n' | LC_ALL=C sort | xargs md5sum) >"$SL_DATA/$name.md5"
    echo "committed before the kill: $(wc -l <"$SL_DATA/$name.md5") part files"
    sl_kill_counts_tm "$JOB" KILL
}

# check_committed NAME OUTDIR: every part file noted before the kill is
# still there with the same content.
check_committed() {
    local bad
    bad="$(cd "$2" && md5sum -c --quiet "$SL_DATA/$1.md5" 2>&1 || true)"
    [ -z "$bad" ] || fail "committed part files were deleted or changed after the restart:"$'\n'"$bad"$'\n'"now in $2: $(ls "$2" | head -n 30)"
    echo "all $(wc -l <"$SL_DATA/$1.md5") committed part files survived unchanged"
}

# ---- 1. default: the job fails with the reasons
run_until_kill strict "$SL_DATA/out-strict"
strict="$JOB"
prev="$SL_PREV_ATTEMPT"
sl_wait_job_end "$strict" FAILED 120
failure="$(sl_line_value "$SL_INFO" failure)"
echo "failure: $failure"
assert_contains "$failure" "no checkpoint to restore from verifies" "failure cause in 'sluice info'"
assert_contains "$failure" "checkpoint $CHK_B: " "failure cause in 'sluice info'"
assert_contains "$failure" "checkpoint $CHK_A: " "failure cause in 'sluice info'"
assert_contains "$failure" "execution.state-recovery.allow-empty-on-failure" "failure cause in 'sluice info'"
assert_eq "$prev" "$(sl_field "$SL_INFO" attempt)" "attempt of the failed job (no attempt without state may start)"
grep -F "job $strict" "$jm_log" | grep -q "failed: cannot restart: no checkpoint to restore from verifies" ||
    fail "the jobmanager log does not say why job $strict failed:"$'\n'"$(grep -F "$strict" "$jm_log" | tail -n 20)"
check_committed strict "$SL_DATA/out-strict"
dir="$(sl_ckpt_job_dir "$strict")"
[ -f "$dir/chk-$CHK_A/_metadata" ] && [ -f "$dir/chk-$CHK_B/_metadata" ] ||
    fail "the checkpoints of the FAILED job were removed: $(find "$dir" -maxdepth 2 2>&1 | head -n 20)"
! grep -hq "removing .*/part-" "$SL_LOG"/sluice-taskmanager-*.log ||
    fail "a taskmanager removed a committed part file: $(grep -h "removing .*/part-" "$SL_LOG"/sluice-taskmanager-*.log | head -n 5)"

# ---- 2. allowed by the job's config: restart without state, nothing deleted
sl_add_taskmanager
run_until_kill lenient "$SL_DATA/out-lenient" "  execution.state-recovery.allow-empty-on-failure: true"
lenient="$JOB"
sl_wait_restart "$lenient" "$SL_PREV_ATTEMPT"
if grep -qE '^restored from:' <<<"$SL_INFO"; then
    fail "job $lenient restored state from damaged checkpoints:"$'\n'"$SL_INFO"
fi
grep -F "job $lenient" "$jm_log" | grep -q "starting without state (execution.state-recovery.allow-empty-on-failure is true)" ||
    fail "the jobmanager log does not say job $lenient started without state:"$'\n'"$(grep -F "$lenient" "$jm_log" | tail -n 20)"
sl_wait_job_end "$lenient" FINISHED 180
check_committed lenient "$SL_DATA/out-lenient"
sl_check_at_least_once "$SL_DATA/out-lenient" "$SL_REF"
echo "ok"
