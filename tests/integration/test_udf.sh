#!/usr/bin/env bash
# User-defined operators (`operator: udf`, include/sluice/udf.h) with the
# example session counter (build/examples/libsession_counter.so): a csv of
# (user, ts) built by awk, read by one source subtask (each user's records
# in file order), keyed by user into the udf at parallelism 2, into a csv
# file sink. The output (user,sessions on every new session) must equal an
# awk reference, first without failure, then with checkpoints every 200 ms
# and a SIGKILL of a taskmanager running the udf mid-run (exactly-once; the
# library file is removed after the submit: the job carries its bytes).
# Submit-time errors exit 2 with file:line:column: a missing library file,
# a file that is no shared object, a missing symbol.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 4
lib="$(dirname "$SL_BIN")/examples/libsession_counter.so"
[ -f "$lib" ] || fail "$lib is missing (make binaries builds it)"
input="$SL_DATA/events.csv"
gap=400

# ------------------------------------------------------------ input, reference
LC_ALL=C awk -v seed=4242 -v n=20000 '
BEGIN {
    x = seed; t = 1000
    for (i = 0; i < n; i++) {
        x = (x * 16807) % 2147483647; u = "user" (x % 41)
        x = (x * 16807) % 2147483647; t += x % 23
        printf "%s,%d\n", u, t
    }
}' >"$input"
LC_ALL=C awk -F, -v gap="$gap" '
    { u = $1; ts = $2 + 0
      if (!(u in last) || ts - last[u] > gap) { s[u]++; print u "," s[u] }
      last[u] = ts }' "$input" | LC_ALL=C sort >"$SL_DATA/reference.csv"
echo "input: $(wc -l <"$input") records; reference: $(wc -l <"$SL_DATA/reference.csv") sessions"

# write_job FILE OUTDIR LIBRARY SYMBOL [EXTRA SOURCE LINE] [CONFIG BLOCK]
write_job() {
    {
        echo "name: udf-sessions"
        echo "parallelism: 2"
        if [ -n "${6:-}" ]; then echo "config:"; echo "$6"; fi
        echo "pipeline:"
        echo "  - name: events"
        echo "    source: file"
        echo "    path: $input"
        echo "    format: csv"
        echo "    schema: \"user:string, ts:int\""
        echo "    parallelism: 1"
        if [ -n "${5:-}" ]; then echo "$5"; fi
        echo "  - name: sessions"
        echo "    operator: udf"
        echo "    library: $3"
        echo "    symbol: $4"
        echo "    key-by: user"
        echo "    schema: \"user:string, sessions:int\""
        echo "    params:"
        echo "      gap_ms: $gap"
        echo "  - name: out"
        echo "    sink: file"
        echo "    path: $2"
    } >"$1"
}

# check_out OUTDIR: the committed output equals the reference.
check_out() {
    local hidden
    hidden="$(find "$1" -mindepth 1 -name '.*' | head -n 5)"
    [ -z "$hidden" ] || fail "hidden files left in $1: $hidden"
    find "$1" -type f -name 'part-*' -exec cat {} + | LC_ALL=C sort >"$SL_DATA/got.csv"
    if ! cmp -s "$SL_DATA/got.csv" "$SL_DATA/reference.csv"; then
        fail "output of $1 differs from the reference ($(wc -l <"$SL_DATA/got.csv") vs $(wc -l <"$SL_DATA/reference.csv") lines):"$'\n'"$(diff "$SL_DATA/reference.csv" "$SL_DATA/got.csv" | head -n 10)"
    fi
    echo "output of $1 equals the reference ($(wc -l <"$SL_DATA/got.csv") rows)"
}

# ------------------------------------------------------------ no failure
write_job "$SL_DATA/plain.yaml" "$SL_DATA/out-plain" "$lib" session_counter
sl_run sl_cli run "$SL_DATA/plain.yaml"
assert_eq 0 "$SL_RC" "exit code of the plain run (out: $SL_OUT; err: $SL_ERR)"
check_out "$SL_DATA/out-plain"

# ------------------------------------------------------------ SIGKILL, exactly-once
cp "$lib" "$SL_DATA/libcopy.so"
write_job "$SL_DATA/kill.yaml" "$SL_DATA/out-kill" "file://$SL_DATA/libcopy.so" session_counter \
    "    rate: 2000" "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/kill.yaml"
jobid="$SL_JOBID"
rm -f "$SL_DATA/libcopy.so"
wait_for sl_ckpt_completed_at_least "$jobid" 3
sl_kill_counts_tm "$jobid" KILL sessions
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts of the killed job"
check_out "$SL_DATA/out-kill"

# ------------------------------------------------------------ submit-time errors
# the library: line of write_job is line 12 without extra lines; its value
# starts at column 14.
write_job "$SL_DATA/missing.yaml" "$SL_DATA/out-x" "$SL_DATA/nope/libnone.so" session_counter
sl_run sl_cli run "$SL_DATA/missing.yaml"
assert_eq 2 "$SL_RC" "exit code with a missing library file (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/missing.yaml:12:14: cannot read library '$SL_DATA/nope/libnone.so'" "stderr"

write_job "$SL_DATA/notso.yaml" "$SL_DATA/out-x" "$input" session_counter
sl_run sl_cli run "$SL_DATA/notso.yaml"
assert_eq 2 "$SL_RC" "exit code with a library that is no shared object (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/notso.yaml:12:14: cannot load library '$input': " "stderr"

write_job "$SL_DATA/nosym.yaml" "$SL_DATA/out-x" "$lib" no_such_operator
sl_run sl_cli run "$SL_DATA/nosym.yaml"
assert_eq 2 "$SL_RC" "exit code with a missing symbol (err: $SL_ERR)"
assert_contains "$SL_ERR" "$SL_DATA/nosym.yaml:13:13: library '$lib' has no symbol 'no_such_operator'" "stderr"
[ ! -e "$SL_DATA/out-x" ] || [ -z "$(ls -A "$SL_DATA/out-x")" ] || fail "a refused job wrote output"
echo "ok"
