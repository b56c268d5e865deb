#!/usr/bin/env bash
# Live garbage (tests/tools/live_garbage.c) at a running cluster's ports
# while word count (p=2, exactly-once file sink, a checkpoint every 300 ms,
# fixed-delay restarts) runs on 2 taskmanagers, for GARBAGE_SECONDS [12] s,
# all at once:
#   - the jobmanager's RPC port and each taskmanager's RPC port, over nng
#     req0: valid Request envelopes of every kind with odd values
#     (unknown ids, out-of-range attempts, tasks and checkpoint ids, huge
#     counts and lengths, up to 39 repeated elements, paths like ../..),
#     mutations of them and random bytes;
#   - the same ports over plain TCP: random bytes, cut and foreign SP
#     handshakes, length headers of 0, 2, 2^31, 2^32 and 2^63-1, frames cut
#     short, request ids without the high bit, stalled connections; and
#     well-formed SP requests, which must be answered;
#   - each taskmanager's data port, over nng push0: random bytes, cut
#     headers, bad magic and kinds, frames of unknown jobs and other
#     attempts, of the running job on out-of-range stages and subtasks,
#     4 MiB frames, and a few frames of the running job's real channels
#     with far-ahead sequence numbers or credits beyond the window (they
#     carry no data token: the runs drop them with a warning);
# and a raw TCP stream at the data port. Then both daemons still run and
# answer (a ListTms probe at every port, `sluice taskmanagers` lists both
# RUNNING), the job ends FINISHED and its output is exactly-once, and the
# logs stay bounded (failed deploys rate-limited) with no control byte.
. "$(dirname "$0")/lib.sh"

garbage="$SL_BIN/../tools/live_garbage"
[ -x "$garbage" ] || fail "$garbage not found (make BUILD=... binaries builds tests/tools)"
SECS="${GARBAGE_SECONDS:-12}"
SEED="${GARBAGE_SEED:-$RANDOM$RANDOM}"
echo "garbage for $SECS s, seed $SEED (GARBAGE_SEED replays the choices)"

sl_new_cluster
sl_start_cluster 2
sl_wordcount_setup 1500000 $((SECS + 14))
sl_write_file_job "$SL_DATA/job.yaml" live-garbage "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms
  execution.checkpointing.mode: EXACTLY_ONCE
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 1000
  restart-strategy.fixed-delay.delay: 200 ms"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"
attempt="$(sl_field "$SL_OUT" attempt)"
wait_for sl_ckpt_completed_at_least "$jobid" 1

jm_pid="$(sl_pidfile_pids jobmanager | head -n 1)"
mapfile -t tm_pids < <(sl_pidfile_pids taskmanager)
assert_eq 2 "${#tm_pids[@]}" "taskmanagers in the pid file"
# rpc and data ports of each taskmanager, from its start-up log line
mapfile -t tm_ports < <(sed -n -E 's/.*: advertised .*, rpc port ([0-9]+), data tcp:\/\/[^:]+:([0-9]+),.*/\1 \2/p' "$SL_LOG"/sluice-taskmanager-*.log)
assert_eq 2 "${#tm_ports[@]}" "taskmanager start-up lines with ports"
echo "jobmanager port $SL_JM_PORT; taskmanagers (rpc data): ${tm_ports[*]}; job $jobid attempt $attempt"

mkdir -p "$SL_DATA/sandbox"
out="$SL_DATA/garbage"
mkdir -p "$out"
pids=()
# run_bg NAME CMD...: one garbage stream in the background, output in $out/NAME
run_bg() {
    local name="$1"
    shift
    "$@" >"$out/$name" 2>&1 </dev/null {SL_FD_OUT}>&- {SL_FD_ERR}>&- &
    pids+=("$!")
    sl_record_pid "$!"
}
run_bg jm-rpc "$garbage" rpc "$SL_JM_PORT" jm "$jobid" "$SECS" "$SEED" "$SL_DATA/sandbox"
run_bg jm-raw "$garbage" raw "$SL_JM_PORT" 48 "$SECS" "$((SEED + 1))"
i=0
for pp in "${tm_ports[@]}"; do
    read -r rpc data <<<"$pp"
    run_bg "tm$i-rpc" "$garbage" rpc "$rpc" tm "$jobid" "$SECS" "$((SEED + 10 + i))" "$SL_DATA/sandbox"
    run_bg "tm$i-raw" "$garbage" raw "$rpc" 48 "$SECS" "$((SEED + 20 + i))"
    run_bg "tm$i-data" "$garbage" data "$data" "$jobid" "$attempt" "$SECS" "$((SEED + 30 + i))"
    run_bg "tm$i-dataraw" "$garbage" raw "$data" 80 "$SECS" "$((SEED + 40 + i))"
    i=$((i + 1))
done
rc_all=0
for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || rc_all=$rc
done
for f in "$out"/*; do echo "${f##*/}: $(tail -n 1 "$f")"; done
[ "$rc_all" -eq 0 ] || fail "a garbage stream reports a daemon that no longer answers (exit $rc_all):"$'\n'"$(tail -n 3 "$out"/*)"

# Both daemons still run and answer.
sl_pid_is_sluice "$jm_pid" jobmanager || fail "the jobmanager (pid $jm_pid) is gone"
for p in "${tm_pids[@]}"; do sl_pid_is_sluice "$p" taskmanager || fail "taskmanager pid $p is gone"; done
sl_run "$garbage" probe "$SL_JM_PORT"
assert_eq 0 "$SL_RC" "probe of the jobmanager ($SL_OUT $SL_ERR)"
for pp in "${tm_ports[@]}"; do
    read -r rpc data <<<"$pp"
    sl_run "$garbage" probe "$rpc"
    assert_eq 0 "$SL_RC" "probe of the taskmanager at rpc port $rpc ($SL_OUT $SL_ERR)"
done
# the two real ones (fake registrations may be listed too)
both_running() {
    local p
    sl_run sl_cli taskmanagers
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] || return 1
    for p in "${tm_pids[@]}"; do
        awk -v p="$p" '$3 == p && $6 == "RUNNING" { ok = 1 } END { exit !ok }' <<<"$SL_OUT" || return 1
    done
}
wait_for -t 30 both_running
echo "both daemons answer; both taskmanagers RUNNING"

sl_wait_job_end "$jobid" FINISHED 180
restarts="$(sl_field "$SL_INFO" restarts)"
echo "restarts: $restarts"
# frames of the job's attempt (real channels or not) without its data token
# are dropped by the run, with a warning
cat "$SL_LOG"/sluice-taskmanager-*.log | grep -aq "data frame for job $jobid attempt $attempt with a wrong token from" ||
    fail "no taskmanager logged a dropped frame of job $jobid attempt $attempt with a wrong token"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
# Logs stay bounded and readable: failed deploys are rate-limited (10 lines
# per 5 s and place), no line holds a control byte sent by a peer.
for f in "$SL_LOG"/sluice-taskmanager-*.log; do
    n="$(grep -ac 'deploy of job' "$f" || true)"
    [ "$n" -le $((10 * (SECS / 5 + 3))) ] || fail "$f: $n 'deploy of job' lines in $SECS s of garbage (not rate-limited)"
done
bad="$(LC_ALL=C grep -anP '[\x00-\x08\x0b-\x1f\x7f]' "$SL_LOG"/*.log | head -n 3 || true)"
[ -z "$bad" ] || fail "log lines with control bytes:"$'\n'"$(cat -v <<<"$bad")"
echo "warnings logged: jobmanager $(grep -c ' WARN ' "$SL_LOG"/sluice-jobmanager.log || true)," \
    "taskmanagers $(cat "$SL_LOG"/sluice-taskmanager-*.log | grep -c ' WARN ' || true)"
echo "ok"
