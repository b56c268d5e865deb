#!/usr/bin/env bash
# A cluster on several hosts (network namespaces, hosts_lib.sh): a
# jobmanager host, 4 taskmanager hosts and a client host. From the client,
# scripts/start-cluster.sh starts every daemon over ssh (conf/masters and
# conf/workers name the hosts; jobmanager.rpc.address is the jobmanager's
# host name; taskmanager.host is unset). Each taskmanager registers with
# its own host's address (the route to the jobmanager), never loopback, and
# runs in that host. Word count at parallelism 2 with checkpoints every
# 500 ms runs on two of the hosts (1 slot each, so records cross the
# bridge) and its committed output equals the reference exactly.
# scripts/stop-cluster.sh from the client stops every daemon on every host.
. "$(dirname "$0")/hosts_lib.sh"

tms=(sl-tm1 sl-tm2 sl-tm3 sl-tm4)
hl_new_cluster
hl_start_hosts sl-jm "${tms[@]}" sl-client
hl_conf_hosts sl-jm "${tms[@]}"

hl_script sl-client start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
echo "$SL_OUT"
for h in sl-jm "${tms[@]}"; do
    assert_contains "$SL_OUT" "on host $h " "start-cluster.sh output (a daemon started on $h over ssh)"
done

# The jobmanager listens on the wildcard and runs in its host.
jm_pids="$(hl_sluice_pids sl-jm)"
assert_eq 1 "$(grep -c . <<<"$jm_pids")" "sluice processes in host sl-jm: '$jm_pids'"
jm_log="$(hl_host_file sl-jm "$SL_LOG/sluice-jobmanager.log")"
assert_match "$jm_log" "jobmanager listening on tcp://0\.0\.0\.0:$SL_JM_PORT, advertised as sl-jm$" "jobmanager log"

# Every taskmanager registered with its own host's address, from its host.
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "'sluice taskmanagers' exit code (stderr: $SL_ERR)"
echo "$SL_OUT"
assert_eq 4 "$(grep -c RUNNING <<<"$SL_OUT")" "RUNNING taskmanagers in:"$'\n'"$SL_OUT"$'\n'
assert_not_contains "$SL_OUT" "127.0.0.1" "'sluice taskmanagers'"
want_addrs="$(for h in "${tms[@]}"; do echo "${HL_ADDR[$h]}"; done | sort | tr '\n' ' ')"
got_addrs="$(awk '{ sub(/:[0-9]+$/, "", $2); print $2 }' <<<"$SL_OUT" | sort | tr '\n' ' ')"
assert_eq "$want_addrs" "$got_addrs" "taskmanager addresses (one per host)"
while read -r tm hostport pid _; do
    addr="${hostport%:*}"
    host="$(hl_host_of_pid "$pid")"
    [ -n "$host" ] || fail "taskmanager $tm (pid $pid) runs in none of the hosts"
    assert_eq "${HL_ADDR[$host]}" "$addr" "address of taskmanager $tm (pid $pid, host $host)"
    tm_log="$(hl_host_file "$host" "$SL_LOG/sluice-taskmanager-0.log")"
    assert_contains "$tm_log" "advertised $addr (listening on 0.0.0.0)" "log of the taskmanager on $host"
done <<<"$SL_OUT"

# Word count across two hosts, checkpointed, exactly once.
sl_wordcount_setup 1500000 8
sl_write_file_job "$SL_DATA/job.yaml" hosts-wordcount "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 500 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"
placed="$(sl_tasks "$SL_OUT" | awk '{ print $5 }' | sort -u | grep -c .)"
assert_eq 2 "$placed" "taskmanagers the job's tasks run on (1 slot each, parallelism 2):"$'\n'"$SL_OUT"$'\n'
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_wait_job_end "$jobid" FINISHED 120
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# stop-cluster.sh over ssh stops them all.
hl_script sl-client stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
echo "$SL_OUT"
for h in sl-jm "${tms[@]}" sl-client; do
    left="$(hl_sluice_pids "$h")"
    [ -z "$left" ] || fail "sluice processes left on $h after stop-cluster.sh: $left"$'\n'"$SL_OUT"
    [ -z "$(ls -A "/proc/${HL_PID[$h]}/root$SL_PIDDIR")" ] ||
        fail "pid files left on $h: $(ls -A "/proc/${HL_PID[$h]}/root$SL_PIDDIR")"
done
echo "ok"
