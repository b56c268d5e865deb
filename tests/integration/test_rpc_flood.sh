#!/usr/bin/env bash
# Oversized and repeated-field bombs over RPC (tests/tools/rpc_flood.c):
#  1. one 60 MB Heartbeat of empty repeated TaskMetrics is answered
#     STATUS_INVALID within 2 s (too large for a heartbeat), and the
#     jobmanager's peak resident memory stays below 256 MB (unpacking it took
#     3.7 GB); a 12 MB one is rejected for its element count;
#  2. four connections sending 12 MB bombs back to back for longer than
#     heartbeat.timeout: a probe heartbeat every 100 ms is answered within
#     1 s each time, the taskmanager stays RUNNING and the job keeps its
#     attempt (no failover);
#  3. the taskmanager's RPC server rejects a bomb as well and goes on;
#  4. a heartbeat of a registered taskmanager with more task metrics than
#     its slots can run keeps it alive, and its metrics are ignored;
#  5. 3000 malformed frames (after the bombs above) leave a bounded number
#     of "rejected" WARN lines and a "suppressed" line, not one line each;
#     so do 3000 malformed data frames at the taskmanager's data port.
. "$(dirname "$0")/lib.sh"

flood="$SL_BIN/../tools/rpc_flood"
[ -x "$flood" ] || fail "$flood not found (make BUILD=... binaries builds tests/tools)"

sl_new_cluster
sl_conf_set heartbeat.interval "200 ms"
sl_conf_set heartbeat.timeout "2 s"
sl_start_cluster 1
port="$SL_JM_PORT"
jm_pid="$(sl_pidfile_pids jobmanager | head -n 1)"
sl_pid_is_sluice "$jm_pid" jobmanager || fail "no live jobmanager in the pid file"

cat >"$SL_DATA/job.yaml" <<YAML
name: endless
parallelism: 1
pipeline:
  - name: gen
    source: datagen
    rate: 100
  - name: out
    sink: blackhole
YAML
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"
attempt="$(sl_field "$SL_OUT" attempt)"

# vm_hwm_mb PID: peak resident memory of PID in MB.
vm_hwm_mb() {
    awk '$1 == "VmHWM:" { printf "%d\n", $2 / 1024 }' "/proc/$1/status"
}
echo "jobmanager peak RSS before: $(vm_hwm_mb "$jm_pid") MB"

# 1. One 60 MB heartbeat bomb.
sl_run "$flood" "$port" bomb $((60 << 20))
echo "60 MB bomb: $SL_OUT (peak RSS now $(vm_hwm_mb "$jm_pid") MB)"
assert_contains "$SL_OUT" "status=2 " "reply to a 60 MB heartbeat bomb"
assert_contains "$SL_OUT" "a heartbeat request of" "reason given for the 60 MB heartbeat bomb"
ms="$(sed -n -E 's/.* ms=([0-9]+) .*/\1/p' <<<"$SL_OUT")"
[ -n "$ms" ] && [ "$ms" -lt 2000 ] || fail "the 60 MB bomb took ${ms:-?} ms to answer (bound 2000)"
hwm="$(vm_hwm_mb "$jm_pid")"
[ "$hwm" -lt 256 ] || fail "jobmanager peak RSS $hwm MB after a 60 MB bomb (bound 256 MB)"
# Below the heartbeat's size limit, the element count rejects it.
sl_run "$flood" "$port" bomb $((12 << 20))
echo "12 MB bomb: $SL_OUT"
assert_contains "$SL_OUT" "sluice.Heartbeat.tasks holds more than" "reason given for the 12 MB bomb"

# 2. A flood of 12 MB bombs on 4 connections for 4 s (2 x heartbeat.timeout).
sl_run "$flood" "$port" flood 4 4 $((12 << 20))
echo "flood: $SL_OUT (peak RSS now $(vm_hwm_mb "$jm_pid") MB)"
assert_eq 0 "$SL_RC" "rpc_flood exit code (every probe answered)"
max_ms="$(sed -n -E 's/.* max_ms=([0-9]+) .*/\1/p' <<<"$SL_OUT")"
[ -n "$max_ms" ] && [ "$max_ms" -lt 1000 ] || fail "a probe heartbeat waited ${max_ms:-?} ms during the flood (bound 1000)"
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers' after the flood"
assert_eq 1 "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" "RUNNING taskmanagers after the flood:"$'\n'"$SL_OUT"$'\n'
tm_port="$(awk '$6 == "RUNNING" { sub(/.*:/, "", $2); print $2; exit }' <<<"$SL_OUT")"
sl_info "$jobid"
assert_eq RUNNING "$(sl_field "$SL_OUT" state)" "job state after the flood"
assert_eq "$attempt" "$(sl_field "$SL_OUT" attempt)" "job attempt after the flood (a failover happened)"
if grep -q "lost" "$SL_LOG"/*jobmanager*.log; then
    fail "the jobmanager declared a taskmanager lost:"$'\n'"$(grep lost "$SL_LOG"/*jobmanager*.log)"
fi

# A request only a jobmanager sends is refused unread by the jobmanager.
sl_run "$flood" "$SL_JM_PORT" deploy
echo "deploy to the jobmanager: $SL_OUT"
assert_contains "$SL_OUT" "status=2 " "the jobmanager's reply to a deploy"
assert_contains "$SL_OUT" "deploy_tasks is not a jobmanager request" "the jobmanager's reason"

# 3. The taskmanager's server.
sl_run "$flood" "$tm_port" bomb $((12 << 20))
echo "12 MB bomb to the taskmanager: $SL_OUT"
assert_contains "$SL_OUT" "status=2 " "the taskmanager's reply to a heartbeat bomb"
assert_contains "$SL_OUT" "heartbeat is not a taskmanager request" "the taskmanager's reason"
sl_info "$jobid"
assert_eq RUNNING "$(sl_field "$SL_OUT" state)" "job state after the bomb to the taskmanager"
assert_eq "$attempt" "$(sl_field "$SL_OUT" attempt)" "job attempt after the bomb to the taskmanager"

# 4. A forged heartbeat of a real taskmanager (with 4096 task metrics,
# more than its 2 slots can run): it lacks the taskmanager's session token,
# so it is refused before its metrics are looked at (the size bound behind
# that is tests/unit/test_rpc_bounds.c's), and the real one stays RUNNING.
sl_run sl_cli taskmanagers
tm_id="$(awk '$6 == "RUNNING" { print $1; exit }' <<<"$SL_OUT")"
sl_run "$flood" "$port" bomb 4096 "$tm_id"
echo "4096 metrics from $tm_id: $SL_OUT"
assert_contains "$SL_OUT" "status=0 " "reply to a heartbeat of $tm_id with 4096 task metrics"
wait_for grep -q "a heartbeat for taskmanager $tm_id without its session token: refused" \
    "$SL_LOG"/*jobmanager*.log
assert_eq 1 "$(sl_running_tms)" "RUNNING taskmanagers after the forged heartbeat"

# 5. Rate-limited warnings: about 850 bombs and 3000 junk frames so far.
sl_run "$flood" "$port" junk 3000
assert_eq 0 "$SL_RC" "rpc_flood junk exit code: $SL_OUT $SL_ERR"
lines="$(grep -c "rejected" "$SL_LOG"/*jobmanager*.log || true)"
echo "'rejected' lines in the jobmanager log: $lines"
[ "$lines" -le 60 ] || fail "$lines 'rejected' lines after thousands of bad frames (bound 60)"
# junk_suppressed: one more junk frame; a "suppressed" line has appeared.
junk_suppressed() {
    "$flood" "$port" junk 1 >/dev/null
    grep -q "suppressed [0-9]* similar messages from common/rpc_server.c" "$SL_LOG"/*jobmanager*.log
}
wait_for junk_suppressed

tm_log="$(ls "$SL_LOG"/*taskmanager*.log | head -n 1)"
data_port="$(sed -n -E 's/.*, data tcp:\/\/[^:]+:([0-9]+),.*/\1/p' "$tm_log" | head -n 1)"
[ -n "$data_port" ] || fail "no data port in $tm_log"
sl_run "$flood" "$data_port" datajunk 3000
assert_eq 0 "$SL_RC" "rpc_flood datajunk exit code: $SL_OUT $SL_ERR"
# dropped_lines N: at least N "dropped a malformed frame" lines are logged.
dropped_lines() {
    [ "$(grep -c "dropped a malformed frame" "$tm_log" || true)" -ge "$1" ]
}
wait_for dropped_lines 10
lines="$(grep -c "dropped a malformed frame" "$tm_log" || true)"
echo "'dropped a malformed frame' lines after 3000 junk data frames: $lines"
[ "$lines" -le 20 ] || fail "3000 junk data frames wrote $lines lines (bound 20)"

sl_pid_is_sluice "$jm_pid" jobmanager || fail "the jobmanager (pid $jm_pid) is gone"
echo "ok"
