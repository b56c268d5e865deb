#!/usr/bin/env bash
# Event-time windows end to end. A csv input built by awk: ts (ms, from
# negative values up, out of order by up to 200 ms), user (20 keys), amount;
# plus a few records late by far more than the 500 ms out-of-orderness (the
# source's watermark passed all their windows). Three window stages at
# parallelism 2 -- a tumbling count, a sliding sum and a session count --
# each into a file sink, compared row for row with an awk reference over the
# records that are not late; the late ones are dropped and their count
# logged. Then a source at parallelism 2 whose subtasks read different event
# times (several input channels with different watermarks), and a window job
# with checkpoints whose window taskmanager is SIGKILLed mid-run: its
# committed output must be exactly that of a run without failure.
# Metrics: `sluice info` (text and --json) of the finished first job shows
# exactly the late records an awk model of the watermark counts from the
# input alone, per window stage and in total, and per task the records in
# and out (source out = window stage in = the input's records).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/windows_lib.sh"

TUMBLE=1000 SLIDE_SIZE=2000 SLIDE=500 GAP=300 DELAY=500

# check KIND FILE SIZE [SLIDE]: the sink folder of window stage KIND against
# win_ref KIND FILE SIZE [SLIDE].
check() {
    win_ref "$@" >"$SL_DATA/$1.ref"
    win_check "$SL_DATA/out/$1" "$SL_DATA/$1.ref"
}

# job FILE NAME INPUT SRC_PAR [EXTRA_SOURCE_LINES] [CONFIG]
job() {
    {
        echo "name: $2"
        echo "parallelism: 2"
        [ -z "${6:-}" ] || printf 'config:\n%s\n' "$6"
        echo "pipeline:"
        echo "  - name: events"
        echo "    source: file"
        echo "    path: $3"
        echo "    format: csv"
        echo "    schema: \"ts:int, user:string, amount:int\""
        echo "    parallelism: $4"
        [ -z "${5:-}" ] || echo "$5"
        for w in "tumble|size: $TUMBLE ms" "slide|size: $SLIDE_SIZE ms
    slide: $SLIDE ms
    aggregate: sum
    field: amount" "session|gap: $GAP ms"; do
            echo "  - name: ${w%%|*}"
            echo "    input: events"
            echo "    operator: window"
            echo "    key-by: user"
            echo "    time-field: ts"
            echo "    max-out-of-orderness: $DELAY ms"
            echo "    ${w#*|}"
            echo "  - name: out_${w%%|*}"
            echo "    input: ${w%%|*}"
            echo "    sink: file"
            echo "    path: $SL_DATA/out/${w%%|*}"
        done
    } >"$1"
}

check_all() {
    check tumble "$1" "$TUMBLE"
    check slide "$1" "$SLIDE_SIZE" "$SLIDE"
    check session "$1" "$GAP"
}

sl_new_cluster
sl_start_cluster 2

# ------------------------------------------------ one source, late records
win_gen "$SL_DATA/normal.csv" 20000 4242 "$SL_DATA/events.csv"
nlate=$(($(wc -l <"$SL_DATA/events.csv") - $(wc -l <"$SL_DATA/normal.csv")))
echo "input: $(wc -l <"$SL_DATA/events.csv") records, $nlate late"
job "$SL_DATA/w1.yaml" windows-late "$SL_DATA/events.csv" 1
sl_run sl_cli run "$SL_DATA/w1.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
jobid="$(sl_jobid_of "$SL_OUT")"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "output of 'sluice run'"
check_all "$SL_DATA/normal.csv"
for st in tumble slide session; do
    n="$(cat "$SL_ROOT"/log/*.log | sed -n -E "s/.*window $st [0-9]+\/2 of job $jobid: ([0-9]+) late records dropped.*/\1/p" |
        awk '{ t += $1; c++ } END { print c + 0, t + 0 }')"
    assert_eq "2 $nlate" "$n" "$st: logged subtasks and late records"
done
echo "late records dropped and logged: $nlate per window stage"

# late_ref KIND FILE: records of FILE late for window KIND, by a model of
# the source's watermark (max ts seen - delay, sent at least every 200
# records, SL_WM_EVERY): counted with the freshest watermark (max ts of the
# records before) and the stalest (lagging 250 records); the input makes
# them agree, else it prints "ambiguous".
late_ref() {
    LC_ALL=C awk -F, -v kind="$1" -v T="$TUMBLE" -v Z="$SLIDE_SIZE" -v D="$SLIDE" -v G="$GAP" \
        -v delay="$DELAY" -v lag=250 '
    function fl(t, s) { return t - ((t % s) + s) % s }
    function last_end(t) {
        if (kind == "tumble") return fl(t, T) + T
        if (kind == "slide") return fl(t, D) + Z
        return t + G
    }
    BEGIN { max = "none" }
    {
        ts = $1 + 0; e = last_end(ts) - 1
        if (NR > 1) { hi += (e <= max - delay) }
        if (NR > lag) { lo += (e <= lagmax[NR % lag] - delay) }
        if (max == "none" || ts > max) max = ts
        lagmax[NR % lag] = max
    }
    END { if (hi != lo) print "ambiguous " lo " " hi; else print hi + 0 }' "$2"
}

# task_sum INFO CHAIN FIELD: FIELD (in, out, late) summed over the task
# lines of CHAIN in an info text (the line under each task line).
task_sum() {
    awk -v chain="$2" -v f="$3" '
        $1 == "task" { hit = $2 == chain; next }
        hit && $1 == "records" {
            line = $0; gsub(/,/, "", line); n = split(line, w, " ")
            for (i = 2; i < n; i++) if (w[i] == f) t += w[i + 1]
            hit = 0
        }
        END { print t + 0 }' <<<"$1"
}

total_late=0
for st in tumble slide session; do
    want="$(late_ref "$st" "$SL_DATA/events.csv")"
    [[ "$want" =~ ^[0-9]+$ ]] || fail "$st: the late-record model is $want for this input"
    eval "late_$st=$want"
    total_late=$((total_late + want))
done
echo "reference late records: tumble $late_tumble, slide $late_slide, session $late_session"
sl_info "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice info' (err: $SL_ERR)"
assert_contains "$SL_OUT" $'\nlate records: '"$total_late"$'\n' "info of the finished job"
ninput="$(wc -l <"$SL_DATA/events.csv")"
assert_eq "$ninput" "$(task_sum "$SL_OUT" events out)" "records out of the source task"
assert_eq 0 "$(task_sum "$SL_OUT" events in)" "records in of the source task"
for st in tumble slide session; do
    eval "want=\$late_$st"
    assert_eq "$want" "$(task_sum "$SL_OUT" "$st+out_$st" late)" "$st: late records of its tasks"
    assert_eq "$ninput" "$(task_sum "$SL_OUT" "$st+out_$st" in)" "$st: records in of its tasks"
    assert_eq 0 "$(task_sum "$SL_OUT" "$st+out_$st" out)" "$st: records out of its tasks (a sink)"
done
sl_run sl_cli info --json "$jobid"
assert_eq 0 "$SL_RC" "exit code of 'sluice info --json' (err: $SL_ERR)"
got="$(python3 -c '
import json, sys
j = json.load(sys.stdin)
def total(chain, f):
    return sum(t[f] for t in j["tasks"] if t["chain"] == chain)
print(j["late-records"], sum(t["late-records"] for t in j["tasks"]),
      total("events", "records-out"),
      *[total(s + "+out_" + s, k) for s in ("tumble", "slide", "session")
        for k in ("late-records", "records-in")])' <<<"$SL_OUT")" ||
    fail "info --json is no json with the metrics: $SL_OUT"
assert_eq "$total_late $total_late $ninput $late_tumble $ninput $late_slide $ninput $late_session $ninput" \
    "$got" "late records and records in/out in info --json"
echo "info shows $total_late late records (text and json), records in/out per task"

# ------------------------------------------------ two sources, other times
rm -rf "$SL_DATA/out"
win_gen "$SL_DATA/events2.csv" 30000
cp "$SL_DATA/events2.csv" "$SL_DATA/normal2.csv"
# the sources' own watermark setting this time (same field and delay),
# and the leveldb state backend
job "$SL_DATA/w2.yaml" windows-two-sources "$SL_DATA/events2.csv" 2 '    watermark: "ts, 500 ms"' \
    "  state.backend.type: leveldb"
sl_run sl_cli run "$SL_DATA/w2.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run'; stdout: $SL_OUT; stderr: $SL_ERR"
assert_contains "$SL_OUT" "finished with state FINISHED" "output of 'sluice run'"
check_all "$SL_DATA/normal2.csv"

# datagen (ts = record number, 2 subtasks): 100 records per 100 ms window
cat >"$SL_DATA/dg.yaml" <<EOF2
name: windows-datagen
parallelism: 2
pipeline:
  - name: gen
    source: datagen
    count: 5000
    keys: 7
  - name: w
    operator: window
    key-by: key
    time-field: ts
    size: 100 ms
  - name: out
    sink: file
    path: $SL_DATA/out/dg
EOF2
sl_run sl_cli run "$SL_DATA/dg.yaml"
assert_eq 0 "$SL_RC" "exit code of 'sluice run' (datagen); stdout: $SL_OUT; stderr: $SL_ERR"
got="$(cat "$SL_DATA"/out/dg/part-* | awk -F, '{ n[$2 "," $3] += $4 } END { for (k in n) print k "," n[k] }' | sort -t, -k1,1n | awk -F, '$3 != 100 || $2 != $1 + 100 { bad++ } END { print NR, bad + 0 }')"
assert_eq "50 0" "$got" "datagen windows (count, wrong ones)"
echo "datagen: 50 windows of 100 records"

# a watermark on a field that is not an int is refused at submission
job "$SL_DATA/bad.yaml" windows-bad "$SL_DATA/events2.csv" 1 '    watermark: "user, 1 s"'
sl_run sl_cli run "$SL_DATA/bad.yaml"
[ "$SL_RC" -ne 0 ] || fail "a watermark on a string field was accepted: $SL_OUT"
assert_contains "$SL_OUT$SL_ERR" "field 'user' is string, expected int" "error for a bad watermark"

# ------------------------------------------------ SIGKILL with checkpoints
data2="$SL_DATA"
sl_recovery_cluster 3
job "$SL_DATA/w3.yaml" windows-kill "$data2/events2.csv" 2 "    rate: 2500" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/w3.yaml"
jobid="$SL_JOBID"
wait_for sl_ckpt_completed_at_least "$jobid" 3
# windows fired by watermarks mid-run, committed by a checkpoint
committed() {
    [ -n "$(find "$SL_DATA/out/tumble" -type f -name 'part-*' -size +0 2>/dev/null | head -n 1)" ]
}
wait_for -t 20 committed
sl_info "$jobid"
assert_eq RUNNING "$(sl_field "$SL_OUT" state)" "state once windows were committed"
sl_kill_counts_tm "$jobid" KILL tumble
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
assert_match "$SL_INFO" '^restored from: [0-9]+ file://' "info of the finished job"
check_all "$data2/normal2.csv"
echo "ok"
