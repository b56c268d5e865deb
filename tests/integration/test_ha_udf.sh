#!/usr/bin/env bash
# A job with UDF libraries survives a jobmanager failover (issue 13 (d)):
# a local ZooKeeper, two jobmanagers and three taskmanagers (1 slot each).
# The job of test_udf.sh (examples build/examples/libsession_counter.so:
# value state; libsession_summary.so: event-time timers), keyed by user at
# parallelism 2 into two csv file sinks, its source paced to about 20 s,
# exactly-once, a checkpoint every 300 ms. The libraries are copies removed
# right after the submit: the job carries them, and the new leader must
# find them in high-availability.storageDir. Once a checkpoint taken in the
# second half of the input completed (a standing watermark: timers of the
# first half's last sessions are pending in keyed state), SIGKILL the
# leader; the standby takes over, recovers the job under its JobID and it
# finishes; both outputs equal awk references exactly (nothing lost or
# twice, the pending timers restored).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"

lib="$(dirname "$SL_BIN")/examples/libsession_counter.so"
tlib="$(dirname "$SL_BIN")/examples/libsession_summary.so"
[ -f "$lib" ] || fail "$lib is missing (make binaries builds it)"
[ -f "$tlib" ] || fail "$tlib is missing (make binaries builds it)"
ha_cluster 2 3
input="$SL_DATA/events.csv"
gap=400
n=40000
half=20000
rate=2000

# ------------------------------------------------------------ input, reference
# (as test_udf.sh) first half: 41 users, ts up by 0..22 ms a record; second
# half: 41 other users, all at one ts 100 ms after the first half's last
LC_ALL=C awk -v seed=4343 -v n="$n" -v half="$half" '
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
      last[u] = ts }' "$input" | LC_ALL=C sort >"$SL_DATA/sessions.ref"
LC_ALL=C awk -F, -v gap="$gap" '
    function out(u) { print u "," first[u] "," last[u] + gap "," n[u] }
    { u = $1; ts = $2 + 0
      if ((u in last) && ts - last[u] > gap) { out(u); delete last[u] }
      if (!(u in last)) { first[u] = ts; n[u] = 0 }
      last[u] = ts; n[u]++ }
    END { for (u in last) out(u) }' "$input" | LC_ALL=C sort >"$SL_DATA/summaries.ref"
echo "input: $n records; reference: $(wc -l <"$SL_DATA/sessions.ref") new sessions, $(wc -l <"$SL_DATA/summaries.ref") summaries"

cp "$lib" "$SL_DATA/libcounter-copy.so"
cp "$tlib" "$SL_DATA/libsummary-copy.so"
out="$SL_DATA/out"
cat >"$SL_DATA/job.yaml" <<EOF
name: ha-udf-sessions
parallelism: 2
config:
  execution.checkpointing.interval: 300 ms
  execution.checkpointing.mode: EXACTLY_ONCE
pipeline:
  - name: events
    source: file
    path: $input
    format: csv
    schema: "user:string, ts:int"
    parallelism: 1
    watermark: "ts, 50 ms"
    rate: $rate
  - name: sessions
    input: events
    operator: udf
    library: file://$SL_DATA/libcounter-copy.so
    symbol: session_counter
    key-by: user
    schema: "user:string, sessions:int"
    params:
      gap_ms: $gap
  - name: out
    sink: file
    path: $out/sessions
  - name: summaries
    input: events
    operator: udf
    library: $SL_DATA/libsummary-copy.so
    symbol: session_summary
    key-by: user
    schema: "user:string, start:int, end:int, count:int"
    params: {gap_ms: $gap}
  - name: out_summaries
    sink: file
    path: $out/summaries
EOF
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
rm -f "$SL_DATA/libcounter-copy.so" "$SL_DATA/libsummary-copy.so"
echo "job $jobid submitted; its library files removed"

# records_out INFO STAGE: records out of STAGE's task(s), from info.
records_out() {
    awk -v st="$2" '$1 == "task" { hit = $2 == st; next }
        hit && $1 == "records" { gsub(/,/, ""); t += $5; hit = 0 }
        END { print t + 0 }' <<<"$1"
}

# past_half JOBID: for wait_for: the source emitted more than half+1000 records.
past_half() {
    local k
    sl_info "$1"
    k="$(records_out "$SL_OUT" events)"
    echo "source records out: $k"
    [ "$k" -gt $((half + 1000)) ]
}

# check_out DIR REFERENCE: the committed output equals the reference.
check_out() {
    local hidden
    [ -d "$1" ] || fail "sink folder $1 does not exist"
    hidden="$(find "$1" -mindepth 1 -name '.*' | head -n 5)"
    [ -z "$hidden" ] || fail "hidden (in-progress) files left in $1: $hidden"
    find "$1" -type f -name 'part-*' -exec cat {} + | LC_ALL=C sort >"$SL_DATA/got.csv"
    cmp -s "$SL_DATA/got.csv" "$2" ||
        fail "output of $1 differs from the reference ($(wc -l <"$SL_DATA/got.csv") vs $(wc -l <"$2") lines):"$'\n'"$(diff "$2" "$SL_DATA/got.csv" | head -n 10)"
    echo "output of $1 equals the reference ($(wc -l <"$SL_DATA/got.csv") rows)"
}

wait_for -t 60 past_half "$jobid"
after="$(sl_latest_ckpt_id "$jobid")"
wait_for sl_ckpt_latest_id_above "$jobid" "$after"
sl_job_running_now "$jobid"
before="$(sl_latest_ckpt_id "$jobid")"
echo "checkpoint $before completed in the second half; killing the leader"

ha_signal_leader KILL
wait_for -t 30 sl_pid_gone "$HA_VICTIM_PID"
ha_takeover "$jobid" "$HA_VICTIM_PORT"
ha_check_recovered_info "$HA_INFO"
restored="$(ha_restored_id "$HA_INFO")"
[ -n "$restored" ] || fail "the new leader's info has no 'restored from: <id> <uri>' line:"$'\n'"$HA_INFO"
assert_ge "$before" "$restored" "checkpoint the new leader restored (one of the second half)"

sl_wait_job_end "$jobid" FINISHED 180
check_out "$out/sessions" "$SL_DATA/sessions.ref"
check_out "$out/summaries" "$SL_DATA/summaries.ref"
echo "ok"
