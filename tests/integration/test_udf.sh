#!/usr/bin/env bash
# User-defined operators (`operator: udf`, include/sluice/udf.h) with the
# examples build/examples/libsession_counter.so (value state) and
# libsession_summary.so (event-time timers): a csv of (user, ts) built by
# awk, read by one source subtask (each user's records in file order, ts
# never decreasing, watermark: ts - 50 ms), keyed by user into both udfs
# at parallelism 2, each into a csv file sink. The counter's output
# (user,sessions on every new session) and the summaries (user, start,
# last ts + gap, count per session, emitted when the gap timer fires) must
# equal awk references, first without failure, then with checkpoints every
# 200 ms and a SIGKILL of a taskmanager running the timer udf (exactly-once;
# the library files are removed after the submit: the job carries them).
# The input's second half has one event time, so the watermark stands
# still: the timers of the first half's last sessions (users that never
# come back) stay pending until the end; the kill comes after a checkpoint
# taken in the second half and the job must restore from it, so those
# sessions are emitted only if the timers were restored from keyed state.
# Submit-time errors exit 2 with file:line:column: a missing library file,
# a file that is no shared object, a missing symbol.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 4
lib="$(dirname "$SL_BIN")/examples/libsession_counter.so"
tlib="$(dirname "$SL_BIN")/examples/libsession_summary.so"
[ -f "$lib" ] || fail "$lib is missing (make binaries builds it)"
[ -f "$tlib" ] || fail "$tlib is missing (make binaries builds it)"
input="$SL_DATA/events.csv"
gap=400
half=10000

# ------------------------------------------------------------ input, reference
# first half: 41 users, ts up by 0..22 ms a record; second half: 41 other
# users, all at one ts 100 ms after the first half's last
LC_ALL=C awk -v seed=4242 -v n=20000 -v half="$half" '
BEGIN {
    x = seed; t = 1000
    for (i = 0; i < n; i++) {
        x = (x * 16807) % 2147483647; u = (i < half ? "user" : "late") (x % 41)
        x = (x * 16807) % 2147483647
        if (i < half) t += x % 23; else if (i == half) t += 100
        printf "%s,%d\n", u, t
    }
}' >"$input"
LC_ALL=C awk -F, -v gap="$gap" '
    { u = $1; ts = $2 + 0
      if (!(u in last) || ts - last[u] > gap) { s[u]++; print u "," s[u] }
      last[u] = ts }' "$input" | LC_ALL=C sort >"$SL_DATA/reference.csv"
# sessions: user, first ts, last ts + gap, records
LC_ALL=C awk -F, -v gap="$gap" '
    function out(u) { print u "," first[u] "," last[u] + gap "," n[u] }
    { u = $1; ts = $2 + 0
      if ((u in last) && ts - last[u] > gap) { out(u); delete last[u] }
      if (!(u in last)) { first[u] = ts; n[u] = 0 }
      last[u] = ts; n[u]++ }
    END { for (u in last) out(u) }' "$input" | LC_ALL=C sort >"$SL_DATA/summaries.csv"
# first-half users whose last session ends after the standing watermark
pending="$(LC_ALL=C awk -F, -v gap="$gap" -v half="$half" '
    NR <= half { last[$1] = $2 + 0; wm = $2 + 100 - 50 }
    END { for (u in last) n += last[u] + gap > wm; print n + 0 }' "$input")"
echo "input: $(wc -l <"$input") records; reference: $(wc -l <"$SL_DATA/reference.csv") new sessions, $(wc -l <"$SL_DATA/summaries.csv") summaries ($pending timers pending through the second half)"
[ "$pending" -ge 5 ] || fail "the input leaves only $pending timers pending in its second half"

# write_job FILE OUTDIR LIBRARY SYMBOL [TIMER LIBRARY] [EXTRA SOURCE LINE]
# [CONFIG BLOCK]: the counter udf into OUTDIR/sessions; with a timer
# library also the summaries udf into OUTDIR/summaries.
write_job() {
    {
        echo "name: udf-sessions"
        echo "parallelism: 2"
        if [ -n "${7:-}" ]; then echo "config:"; echo "$7"; fi
        echo "pipeline:"
        echo "  - name: events"
        echo "    source: file"
        echo "    path: $input"
        echo "    format: csv"
        echo "    schema: \"user:string, ts:int\""
        echo "    parallelism: 1"
        echo "    watermark: \"ts, 50 ms\""
        if [ -n "${6:-}" ]; then echo "$6"; fi
        echo "  - name: sessions"
        echo "    input: events"
        echo "    operator: udf"
        echo "    library: $3"
        echo "    symbol: $4"
        echo "    key-by: user"
        echo "    schema: \"user:string, sessions:int\""
        echo "    params:"
        echo "      gap_ms: $gap"
        echo "  - name: out"
        echo "    sink: file"
        echo "    path: $2/sessions"
        if [ -n "${5:-}" ]; then
            echo "  - name: summaries"
            echo "    input: events"
            echo "    operator: udf"
            echo "    library: $5"
            echo "    symbol: session_summary"
            echo "    key-by: user"
            echo "    schema: \"user:string, start:int, end:int, count:int\""
            echo "    params: {gap_ms: $gap}"
            echo "  - name: out_summaries"
            echo "    sink: file"
            echo "    path: $2/summaries"
        fi
    } >"$1"
}

# check_out OUTDIR REFERENCE: the committed output equals the reference.
check_out() {
    local hidden
    hidden="$(find "$1" -mindepth 1 -name '.*' | head -n 5)"
    [ -z "$hidden" ] || fail "hidden files left in $1: $hidden"
    find "$1" -type f -name 'part-*' -exec cat {} + | LC_ALL=C sort >"$SL_DATA/got.csv"
    if ! cmp -s "$SL_DATA/got.csv" "$2"; then
        fail "output of $1 differs from the reference ($(wc -l <"$SL_DATA/got.csv") vs $(wc -l <"$2") lines):"$'\n'"$(diff "$2" "$SL_DATA/got.csv" | head -n 10)"
    fi
    echo "output of $1 equals the reference ($(wc -l <"$SL_DATA/got.csv") rows)"
}

check_both() {
    check_out "$1/sessions" "$SL_DATA/reference.csv"
    check_out "$1/summaries" "$SL_DATA/summaries.csv"
}

# records_out INFO STAGE: records out of STAGE's task(s), from info.
records_out() {
    awk -v st="$2" '$1 == "task" { hit = $2 == st; next }
        hit && $1 == "records" { gsub(/,/, ""); t += $5; hit = 0 }
        END { print t + 0 }' <<<"$1"
}

# past_half JOBID: for wait_for: the source emitted more than half+1000 records.
past_half() {
    local n
    sl_info "$1"
    n="$(records_out "$SL_OUT" events)"
    echo "source records out: $n"
    [ "$n" -gt $((half + 1000)) ]
}

# ------------------------------------------------------------ no failure
write_job "$SL_DATA/plain.yaml" "$SL_DATA/out-plain" "$lib" session_counter "$tlib"
sl_run sl_cli run "$SL_DATA/plain.yaml"
assert_eq 0 "$SL_RC" "exit code of the plain run (out: $SL_OUT; err: $SL_ERR)"
check_both "$SL_DATA/out-plain"

# ------------------------------------------------------------ SIGKILL, exactly-once
cp "$lib" "$SL_DATA/libcopy.so"
cp "$tlib" "$SL_DATA/libtcopy.so"
write_job "$SL_DATA/kill.yaml" "$SL_DATA/out-kill" "file://$SL_DATA/libcopy.so" session_counter \
    "$SL_DATA/libtcopy.so" "    rate: 2000" "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/kill.yaml"
jobid="$SL_JOBID"
rm -f "$SL_DATA/libcopy.so" "$SL_DATA/libtcopy.so"
wait_for -t 60 past_half "$jobid"
after="$(sl_latest_ckpt_id "$jobid")"
wait_for sl_ckpt_latest_id_above "$jobid" "$after"
sl_kill_counts_tm "$jobid" KILL summaries
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts of the killed job"
restored="$(sed -n -E 's/^restored from: ([0-9]+) .*/\1/p' <<<"$SL_INFO" | head -n 1)"
assert_ge $((after + 1)) "$restored" "checkpoint the killed job restored (one of the second half)"
check_both "$SL_DATA/out-kill"

# ------------------------------------------------------------ submit-time errors
# the library: line of write_job is line 14 without extra lines; its value
# starts at column 14.
write_job "$SL_DATA/missing.yaml" "$SL_DATA/out-x" "$SL_DATA/nope/libnone.so" session_counter
sl_run sl_cli run "$SL_DATA/missing.yaml"
assert_eq 2 "$SL_RC" "exit code with a missing library file (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/missing.yaml:14:14: cannot read library '$SL_DATA/nope/libnone.so'" "stderr"

write_job "$SL_DATA/notso.yaml" "$SL_DATA/out-x" "$input" session_counter
sl_run sl_cli run "$SL_DATA/notso.yaml"
assert_eq 2 "$SL_RC" "exit code with a library that is no shared object (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/notso.yaml:14:14: cannot load library '$input': " "stderr"

write_job "$SL_DATA/nosym.yaml" "$SL_DATA/out-x" "$lib" no_such_operator
sl_run sl_cli run "$SL_DATA/nosym.yaml"
assert_eq 2 "$SL_RC" "exit code with a missing symbol (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/nosym.yaml:15:13: library '$lib' has no symbol 'no_such_operator'" "stderr"
[ ! -e "$SL_DATA/out-x" ] || [ -z "$(ls -A "$SL_DATA/out-x")" ] || fail "a refused job wrote output"
echo "ok"
