#!/usr/bin/env bash
# Savepoints and rescaling with a word count (file source -> tokenize ->
# count -> exactly-once file sink), checkpoints every 300 ms. Three segments
# into one sink folder: run at parallelism 2, `sluice stop` mid-run (a
# savepoint, then the job ends FINISHED); `run -s` at parallelism 3, stop
# again mid-run; `run -s` at parallelism 1 to the end. The committed output
# holds every word's counts 1..N exactly once across the segments: nothing
# lost, nothing counted twice, although keyed state (counts by key group),
# the source's read positions and the sink's pending files were
# redistributed twice. Done twice: all on hashmap, then hashmap -> leveldb ->
# hashmap (the savepoint format does not depend on the backend). Each
# savepoint folder is self-contained and outlives its job.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_conf_set state.savepoints.dir "file://$SL_ROOT/savepoints"
sl_start_cluster 2
sl_wordcount_setup 1500000 14

# job FILE BACKEND OUTDIR
job() {
    sl_write_file_job "$1" savepoint-wordcount "$SL_TEXT" "$3" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: 300 ms
  state.backend.type: $2"
}

# words_out OUTDIR: rows committed so far.
words_out() {
    find "$1" -type f -name 'part-*' -exec cat {} + 2>/dev/null | wc -l
}

total="$(awk '{ t += $2 } END { print t }' "$SL_REF")"

# segments TAG B1 B2 B3: the three segments with these state backends.
segments() {
    local tag="$1" out="$SL_DATA/out-$1" j1 j2 sp1 sp2 n
    mkdir -p "$out"
    job "$SL_DATA/$tag-1.yaml" "$2" "$out"
    job "$SL_DATA/$tag-2.yaml" "$3" "$out"
    job "$SL_DATA/$tag-3.yaml" "$4" "$out"

    sl_submit_detached "$SL_DATA/$tag-1.yaml" -p 2
    j1="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j1" 2
    sl_job_running_now "$j1"
    sl_stop_job "$j1"
    sp1="$SL_SP"
    n="$(words_out "$out")"
    [ "$n" -lt "$total" ] || fail "segment 1 already emitted all $total counts: the stop was not mid-run"
    echo "$tag segment 1 (p2, $2): $n of $total counts committed"

    sl_submit_detached "$SL_DATA/$tag-2.yaml" -p 3 -s "$sp1"
    j2="$SL_JOBID"
    sl_restored_from_is "$j2" "$sp1"
    wait_for sl_ckpt_completed_at_least "$j2" 2
    sl_job_running_now "$j2"
    sl_stop_job "$j2"
    sp2="$SL_SP"
    n="$(words_out "$out")"
    [ "$n" -lt "$total" ] || fail "segment 2 already emitted all $total counts: the stop was not mid-run"
    echo "$tag segment 2 (p3, $3): $n of $total counts committed"

    sl_run sl_cli run -p 1 -s "$sp2" "$SL_DATA/$tag-3.yaml"
    assert_eq 0 "$SL_RC" "exit code of the last segment's 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
    assert_contains "$SL_OUT" "finished with state FINISHED" "output of the last segment's 'sluice run'"
    sl_check_exactly_once "$out" "$SL_REF"
    # savepoints belong to the user: both are still there and complete
    sl_check_savepoint_folder "$sp1"
    sl_check_savepoint_folder "$sp2"
}

segments same hashmap hashmap hashmap
segments switch hashmap leveldb hashmap
echo "ok"
