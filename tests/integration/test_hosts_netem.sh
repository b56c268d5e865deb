#!/usr/bin/env bash
# Network faults short of a partition (issue 11, item 5): a jobmanager
# host, 2 taskmanager hosts (1 slot each) and a client host
# (hosts_lib.sh); scripts/start-cluster.sh over ssh. The links of both
# taskmanager hosts then drop 5 % of the frames and delay every frame by
# 50 ms, each per direction (hl_impair: tc netem where the kernel has it,
# else the userspace link_emu.py), so the data plane between the two
# taskmanagers crosses two impaired links each way (round trip >= 200 ms,
# about 10 % loss per direction) and every RPC with the jobmanager one.
# Word count at parallelism 2 with exactly-once checkpoints every 500 ms
# still finishes, with no restart and no taskmanager lost (default
# heartbeats: 1 s interval, 5 s timeout), checkpoints complete, and its
# committed output equals the reference exactly. The impairment is checked
# to be real: the TCP connect times between the hosts, and frames dropped
# on both links during the job.
. "$(dirname "$0")/hosts_lib.sh"

LOSS_PCT=5
DELAY_MS=50
RTT_MIN_TM_TM=$((4 * DELAY_MS * 9 / 10))  # two impaired links, each way: 4 x the delay (10 % slack)
RTT_MIN_JM_TM=$((2 * DELAY_MS * 9 / 10))  # one impaired link
RTT_MAX_CLEAN=$((DELAY_MS / 2))           # between two unimpaired hosts
JOB_END_S=150                             # bound on the job under impairment

tms=(sl-tm1 sl-tm2)
hl_new_cluster
hl_start_hosts sl-jm "${tms[@]}" sl-client
hl_conf_hosts sl-jm "${tms[@]}"

hl_script sl-client start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
echo "$SL_OUT"
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "'sluice taskmanagers' exit code (stderr: $SL_ERR)"
assert_eq 2 "$(grep -c RUNNING <<<"$SL_OUT")" "RUNNING taskmanagers in:"$'\n'"$SL_OUT"$'\n'

# Impair both taskmanager hosts' links; check it shows in round trips.
for h in "${tms[@]}"; do hl_impair "$h" "$LOSS_PCT" "$DELAY_MS"; done
rtt="$(hl_rtt_ms sl-tm1 "${HL_ADDR[sl-tm2]}")"
echo "TCP connect sl-tm1 -> sl-tm2: $rtt ms"
assert_ge "$RTT_MIN_TM_TM" "$rtt" "round trip between the impaired taskmanager hosts (ms)"
for h in "${tms[@]}"; do
    rtt="$(hl_rtt_ms sl-jm "${HL_ADDR[$h]}")"
    echo "TCP connect sl-jm -> $h: $rtt ms"
    assert_ge "$RTT_MIN_JM_TM" "$rtt" "round trip between sl-jm and $h (ms)"
done
rtt="$(hl_rtt_ms sl-client "${HL_ADDR[sl-jm]}")"
echo "TCP connect sl-client -> sl-jm: $rtt ms"
if [ "$rtt" -lt 0 ] || [ "$rtt" -gt "$RTT_MAX_CLEAN" ]; then
    fail "round trip between the unimpaired sl-client and sl-jm: $rtt ms, expected 0-$RTT_MAX_CLEAN"
fi

# Word count across the two impaired hosts, checkpointed, exactly once.
sl_wordcount_setup 1500000 8
sl_write_file_job "$SL_DATA/job.yaml" hosts-netem "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 500 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
t0="$(sl__now_ms)"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"
wait_for sl_job_deployed "$jobid"
placed="$(sl_tasks "$SL_OUT" | awk '{ print $5 }' | sort -u | grep -c .)"
assert_eq 2 "$placed" "taskmanagers the job's tasks run on (1 slot each, parallelism 2):"$'\n'"$SL_OUT"$'\n'
wait_for sl_ckpt_completed_at_least "$jobid" 1
sl_wait_job_end "$jobid" FINISHED "$JOB_END_S"
echo "job ran $(( ($(sl__now_ms) - t0) / 1000 )) s under impairment"
assert_eq 0 "$(sl_field "$SL_INFO" restarts)" "restarts of the job (info:"$'\n'"$SL_INFO)"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
sl_checkpoints "$jobid"
echo "$SL_OUT"
assert_ge 1 "$(sl_ckpt_count "$SL_OUT" completed)" "completed checkpoints"

# No taskmanager was lost; both links did drop frames.
sl_run sl_cli taskmanagers
assert_eq 2 "$(grep -c RUNNING <<<"$SL_OUT")" "RUNNING taskmanagers after the job in:"$'\n'"$SL_OUT"$'\n'
for h in "${tms[@]}"; do
    echo "impairment of $h:"
    hl_impair_stats "$h"
    assert_ge 1 "$(hl_impair_drops "$h")" "frames dropped on the link of $h"
done

for h in "${tms[@]}"; do hl_impair "$h" off; done
hl_script sl-client stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
for h in sl-jm "${tms[@]}"; do
    left="$(hl_sluice_pids "$h")"
    [ -z "$left" ] || fail "sluice processes left on $h after stop-cluster.sh: $left"$'\n'"$SL_OUT"
done
echo "ok"
