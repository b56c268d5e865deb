#!/usr/bin/env bash
# Savepoints and rescaling with event-time windows: a csv source (ts out of
# order by up to 200 ms, 500 ms allowed) into a keyed tumbling count and a
# keyed sliding sum, each into an exactly-once file sink, checkpoints every
# 300 ms. Three segments into the same sink folders: parallelism 2, `sluice
# stop` mid-run; `run -s` at parallelism 3, stop mid-run; `run -s` at
# parallelism 1 to the end. A stop takes the savepoint without the final
# watermark, so open windows stay in the savepoint (keyed state, with their
# timers) and fire later, exactly once. The committed windows equal an awk
# reference over the input row for row. Done twice: all on leveldb, then
# leveldb -> hashmap -> leveldb.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/windows_lib.sh"

TUMBLE=1000 SLIDE_SIZE=2000 SLIDE=500

sl_new_cluster
sl_conf_set state.savepoints.dir "file://$SL_ROOT/savepoints"
sl_start_cluster 2
win_gen "$SL_DATA/events.csv" 120000
rate=$((120000 / 14))
win_ref tumble "$SL_DATA/events.csv" "$TUMBLE" >"$SL_DATA/tumble.ref"
win_ref slide "$SL_DATA/events.csv" "$SLIDE_SIZE" "$SLIDE" >"$SL_DATA/slide.ref"
echo "input: 120000 records at $rate/s; reference: $(wc -l <"$SL_DATA/tumble.ref") tumbling, $(wc -l <"$SL_DATA/slide.ref") sliding windows"

# job FILE BACKEND OUT
job() {
    cat >"$1" <<EOF2
name: savepoint-windows
parallelism: 2
config:
  execution.checkpointing.interval: 300 ms
  state.backend.type: $2
pipeline:
  - name: events
    source: file
    path: $SL_DATA/events.csv
    format: csv
    schema: "ts:int, user:string, amount:int"
    rate: $rate
  - name: tumble
    input: events
    operator: window
    key-by: user
    time-field: ts
    max-out-of-orderness: 500 ms
    size: $TUMBLE ms
  - name: out_tumble
    input: tumble
    sink: file
    path: $3/tumble
  - name: slide
    input: events
    operator: window
    key-by: user
    time-field: ts
    max-out-of-orderness: 500 ms
    size: $SLIDE_SIZE ms
    slide: $SLIDE ms
    aggregate: sum
    field: amount
  - name: out_slide
    input: slide
    sink: file
    path: $3/slide
EOF2
}

# segments TAG B1 B2 B3
segments() {
    local tag="$1" out="$SL_DATA/out-$1" j
    job "$SL_DATA/$tag-1.yaml" "$2" "$out"
    job "$SL_DATA/$tag-2.yaml" "$3" "$out"
    job "$SL_DATA/$tag-3.yaml" "$4" "$out"

    sl_submit_detached "$SL_DATA/$tag-1.yaml" -p 2
    j="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j" 2
    sl_job_running_now "$j"
    sl_stop_job "$j"

    sl_submit_detached "$SL_DATA/$tag-2.yaml" -p 3 -s "$SL_SP"
    j="$SL_JOBID"
    wait_for sl_ckpt_completed_at_least "$j" 2
    sl_job_running_now "$j"
    sl_stop_job "$j"

    sl_run sl_cli run -p 1 -s "$SL_SP" "$SL_DATA/$tag-3.yaml"
    assert_eq 0 "$SL_RC" "exit code of the last segment's 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
    assert_contains "$SL_OUT" "finished with state FINISHED" "output of the last segment's 'sluice run'"
    win_check "$out/tumble" "$SL_DATA/tumble.ref"
    win_check "$out/slide" "$SL_DATA/slide.ref"
}

segments same leveldb leveldb leveldb
segments switch leveldb hashmap leveldb
echo "ok"
