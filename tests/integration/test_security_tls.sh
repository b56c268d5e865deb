#!/usr/bin/env bash
# Mutual TLS between the daemons (security.ssl.internal.*) and TLS with
# client certificates for the CLI (security.ssl.rest.*, authentication on),
# with the certificates made by scripts/sluice-certs.sh: the rate-limited
# word count of test_recovery_kill (parallelism 2 on 3 taskmanagers with 1
# slot each, checkpoints every 200 ms, a SIGKILL of the taskmanager of a
# `counts` subtask after a checkpoint) restarts from a checkpoint and ends
# FINISHED with its output exactly-once: the data plane works encrypted,
# across a recovery. Every taskmanager gets its rpc and data ports from the
# test, and tcpdump records loopback traffic on those ports and the
# jobmanager's through the whole run: a marker word sprinkled through the
# input (so it crosses the data plane between taskmanagers, keyed by word)
# never appears in the capture, while the capture holds many packets, data
# port packets among them, and the daemon certificate's CN (TLS 1.2 sends
# certificates in clear: the connections were TLS). Control first: the same
# job on a cluster without TLS, captured the same way, shows the marker in
# clear (so its absence later means encryption, not a capture that missed
# the data).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/security_lib.sh"

marker=qzsluicemarkerqz # lower case letters: the tokenizer keeps it as it is

# wordcount_input BYTES SECONDS: words.txt with the marker after every 50th
# line, its reference, the sink folder and a rate for SECONDS (SL_TEXT,
# SL_REF, SL_OUTDIR, SL_RATE).
wordcount_input() {
    SL_TEXT="$SL_DATA/words.txt"
    SL_REF="$SL_DATA/reference.txt"
    SL_OUTDIR="$SL_DATA/out"
    sl_gen_text "$SL_TEXT" "$1"
    sec_add_marker "$SL_TEXT" "$marker" 50
    sl_reference "$SL_TEXT" "$SL_REF"
    mkdir -p "$SL_OUTDIR"
    SL_RATE="$(sl_rate_for "$SL_TEXT" "$2")"
    echo "input: $(stat -c %s "$SL_TEXT") bytes, $(wc -l <"$SL_TEXT") lines, marker '$marker' $(awk -v m="$marker" '$1 == m { print $2 }' "$SL_REF") times; rate $SL_RATE lines/s"
}

# stop_daemons: stops the current cluster's daemons (by their pid files).
stop_daemons() {
    sl_run sl_script taskmanager.sh stop-all
    sl_run sl_script jobmanager.sh stop
}

# ---------------------------------------------------- control: no TLS
echo "=== control: the same word count without TLS shows the marker in clear"
sl_new_cluster
sl_conf_set taskmanager.numberOfTaskSlots 1
SEC_PORTS=()
sec_start_cluster - 2
wordcount_input 300000 2
sl_write_file_job "$SL_DATA/job.yaml" plain-wordcount "$SL_TEXT" "$SL_OUTDIR" 2
sec_capture_start "$SL_TMP/plain.pcap"
sl_submit_detached "$SL_DATA/job.yaml"
sl_wait_job_end "$SL_JOBID" FINISHED 120
sec_capture_stop
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
plain_packets="$(sec_capture_packets "$SL_TMP/plain.pcap")"
plain_hits="$(sec_capture_count "$SL_TMP/plain.pcap" "$marker")"
echo "without TLS: $plain_packets packets, the marker $plain_hits times in clear"
assert_ge 1 "$plain_hits" "occurrences of the marker in the capture of the run without TLS (the control: does the marker cross the captured ports at all?)"
stop_daemons

# ------------------------------------------------------------ with TLS
echo "=== internal and rest TLS with client authentication"
sec_make_certs alice
SEC_CLI_CN=alice # every lib.sh helper asks as alice
sl_new_cluster
sl_conf_set taskmanager.numberOfTaskSlots 1
sec_conf_all "alice:admin"
SEC_PORTS=()
data_ports=()
sec_start_jm
for i in 1 2 3; do
    sec_start_tm
    data_ports+=("$SEC_TM_DATA_PORT")
done
sec_wait_tms alice 3
wordcount_input 2500000 15
sl_write_file_job "$SL_DATA/job.yaml" tls-recovery-kill "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
cap="$SL_TMP/tls.pcap"
sec_capture_start "$cap"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

wait_for sl_ckpt_completed_at_least "$jobid" 1
before="$(sl_latest_ckpt_id "$jobid")"
echo "latest completed checkpoint before the kill: $before"
sl_kill_counts_tm "$jobid" KILL
victim="$SL_VICTIM_TM"
sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
info="$SL_INFO"
restored="$(sl_line_value "$info" "restored from")"
[[ "$restored" =~ ^([0-9]+)\ file://.*chk-([0-9]+)/?$ ]] ||
    fail "info after the restart has no 'restored from: <id> file://.../chk-<id>' line:"$'\n'"$info"
rid="${BASH_REMATCH[1]}"
[ "$rid" -ge "$before" ] || fail "restored from checkpoint $rid, older than checkpoint $before completed before the kill"
if awk -v tm="$victim" '$1 == "task" && $5 == tm { found = 1 } END { exit !found }' <<<"$info"; then
    fail "tasks of the new attempt are placed on the killed taskmanager $victim:"$'\n'"$info"
fi
sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sec_capture_stop
dropped="$SEC_CAP_DROPPED"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# ------------------------------------------------------------ the capture
packets="$(sec_capture_packets "$cap")"
data_filter=""
for p in "${data_ports[@]}"; do data_filter+="${data_filter:+ or }tcp port $p"; done
data_packets="$(tcpdump -n -r "$cap" "$data_filter" 2>/dev/null | wc -l)"
hits="$(sec_capture_count "$cap" "$marker")"
cn_hits="$(sec_capture_count "$cap" sluice-daemon)"
echo "with TLS: $packets packets ($data_packets on the data ports), the marker $hits times, 'sluice-daemon' (certificates in handshakes) $cn_hits times; capture $(stat -c %s "$cap") bytes"
assert_ge 500 "$packets" "packets in the capture of the TLS run (is the capture empty?)"
assert_ge 100 "$data_packets" "packets on the taskmanagers' data ports in the capture (did the data plane cross the captured ports?)"
[[ "$dropped" =~ ^[0-9]+$ ]] || fail "tcpdump did not report its dropped packets: $(cat "$cap.err")"
[ $((dropped * 1000)) -le "$packets" ] || fail "tcpdump dropped $dropped packets of $((packets + dropped)) (over 0.1%): the capture may have missed records"
assert_eq 0 "$hits" "occurrences of the marker '$marker' in the capture of the TLS run (records in clear on the wire)"
assert_ge 1 "$cn_hits" "occurrences of the daemon certificate's CN in the capture (no TLS handshake captured?)"
echo "ok"
