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
. "$(dirname "$0")/lib.sh"

TUMBLE=1000 SLIDE_SIZE=2000 SLIDE=500 GAP=300 DELAY=500

# gen FILE NORMAL N LATE: FILE holds every record, NORMAL the ones not late;
# LATE=1 adds a record 5 s behind after every 1000th.
gen() {
    LC_ALL=C awk -v n="$3" -v late="$4" -v out="$1" -v ok="$2" '
    BEGIN {
        x = 4242
        for (i = 0; i < n; i++) {
            x = (x * 16807) % 2147483647; j = x % 401 - 200
            x = (x * 16807) % 2147483647; u = "u" (x % 20)
            x = (x * 16807) % 2147483647; a = x % 1000 - 300
            ts = (i - int(n / 2)) * 10 + j
            print ts "," u "," a > out
            print ts "," u "," a > ok
            if (late && i % 1000 == 999) print ts - 5000 "," u ",1" > out
        }
    }'
}

# ref KIND FILE: the windows of the records of FILE as the sink writes them.
ref() {
    LC_ALL=C awk -F, -v kind="$1" -v T="$TUMBLE" -v Z="$SLIDE_SIZE" -v D="$SLIDE" -v G="$GAP" '
    function fl(t, s) { return t - ((t % s) + s) % s }
    kind == "tumble" { s = fl($1, T); c[$2 "," s "," s + T]++ }
    kind == "slide" { for (s = fl($1, D); s > $1 - Z; s -= D) c[$2 "," s "," s + Z] += $3 }
    kind == "session" { print $2, $1 }
    END { for (k in c) print k "," c[k] }' "$2" |
        if [ "$1" = session ]; then
            LC_ALL=C sort -k1,1 -k2,2n | awk -v G="$GAP" '
            function out() { if (u != "") print u "," s "," e "," n }
            $1 != u || $2 > e { out(); u = $1; s = $2; e = $2 + G; n = 1; next }
            { if ($2 + G > e) e = $2 + G; n++ }
            END { out() }'
        else
            cat
        fi | LC_ALL=C sort
}

# check NAME KIND FILE: the sink folder of NAME against ref KIND FILE.
check() {
    local dir="$SL_DATA/out/$1" parts
    [ -z "$(find "$dir" -mindepth 1 -name '.*' | head -n 3)" ] || fail "$1: hidden files left"
    mapfile -t parts < <(find "$dir" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#parts[@]}" -ge 1 ] || fail "$1: no part files in $dir"
    ref "$2" "$3" >"$SL_DATA/$1.ref"
    LC_ALL=C sort "${parts[@]}" >"$SL_DATA/$1.out"
    if ! diff -u "$SL_DATA/$1.ref" "$SL_DATA/$1.out" >"$SL_DATA/$1.diff"; then
        fail "$1: windows differ from the reference (- reference, + emitted):"$'\n'"$(head -n 20 "$SL_DATA/$1.diff")"
    fi
    echo "$1: $(wc -l <"$SL_DATA/$1.out") windows match the reference"
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
    check tumble tumble "$1"
    check slide slide "$1"
    check session session "$1"
}

sl_new_cluster
sl_start_cluster 2

# ------------------------------------------------ one source, late records
gen "$SL_DATA/events.csv" "$SL_DATA/normal.csv" 20000 1
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

# ------------------------------------------------ two sources, other times
rm -rf "$SL_DATA/out"
gen "$SL_DATA/events2.csv" "$SL_DATA/normal2.csv" 30000 0
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
