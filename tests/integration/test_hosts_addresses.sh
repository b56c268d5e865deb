#!/usr/bin/env bash
# Addresses on several hosts (network namespaces, hosts_lib.sh):
#  - IPv4, names: a taskmanager with taskmanager.host unset registers with
#    its host's address and listens on 0.0.0.0; one with taskmanager.host
#    set to its host name and taskmanager.bind-host to its address registers
#    with the name and listens on that address only.
#  - A taskmanager on a host with no route to the jobmanager, one with a
#    wildcard taskmanager.host, and a jobmanager whose
#    jobmanager.rpc.address does not resolve exit 2 with the reason.
#  - start-cluster.sh, when a taskmanager it starts over ssh exits at start
#    (a wildcard taskmanager.host), fails at once (not after its start
#    timeout) with the remote daemon's reason and exit code.
#  - IPv6: with jobmanager.rpc.address an IPv6 address, the jobmanager
#    listens on [::], the taskmanagers (started over ssh by
#    start-cluster.sh) register with their hosts' IPv6 addresses, and word
#    count at parallelism 2 across two hosts is exactly once.
. "$(dirname "$0")/hosts_lib.sh"

hl_new_cluster
hl_start_hosts sl-jm sl-tm1 sl-tm2 sl-lone sl-client
hl_conf_hosts sl-jm sl-tm1 sl-tm2

# jm_answers: for wait_for: `sluice taskmanagers` from the client works.
jm_answers() {
    sl_run sl_cli taskmanagers
    echo "exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" = 0 ]
}

# running_tms N: for wait_for: N taskmanagers RUNNING (listing in SL_OUT).
running_tms() {
    sl_run sl_cli taskmanagers
    echo "$SL_OUT $SL_ERR"
    [ "$SL_RC" = 0 ] && [ "$(grep -c ' RUNNING$' <<<"$SL_OUT")" = "$1" ]
}

# listen_addrs HOST PID: the local addresses PID listens on (TCP) in HOST.
listen_addrs() {
    hl_exec "$1" ss -Htlnp | awk -v p="pid=$2," 'index($0, p) { print $4 }' | sort
}

# check_placement LISTING: every taskmanager of LISTING runs in the host
# whose address (IPv4 or IPv6, by FAMILY) it registered with.
check_placement() {
    local listing="$1" family="$2" tm hostport pid addr host want
    while read -r tm hostport pid _; do
        addr="${hostport%:*}"
        addr="${addr#[}"
        addr="${addr%]}"
        host="$(hl_host_of_pid "$pid")"
        [ -n "$host" ] || fail "taskmanager $tm (pid $pid) runs in none of the hosts"
        if [ "$family" = 6 ]; then want="${HL_ADDR6[$host]}"; else want="${HL_ADDR[$host]}"; fi
        assert_eq "$want" "$addr" "address of taskmanager $tm (pid $pid, host $host)"
    done <<<"$listing"
}

# ------------------------------------------------ IPv4: default and split
hl_script sl-jm jobmanager.sh start
assert_eq 0 "$SL_RC" "jobmanager.sh start on sl-jm (stderr: $SL_ERR)"
wait_for -t 30 jm_answers
hl_script sl-tm1 taskmanager.sh start -D taskmanager.host=sl-tm1 -D "taskmanager.bind-host=${HL_ADDR[sl-tm1]}"
assert_eq 0 "$SL_RC" "taskmanager.sh start on sl-tm1 (stderr: $SL_ERR)"
hl_script sl-tm2 taskmanager.sh start
assert_eq 0 "$SL_RC" "taskmanager.sh start on sl-tm2 (stderr: $SL_ERR)"
wait_for -t 30 running_tms 2
listing="$SL_OUT"
echo "$listing"
tm1_pid="$(awk '$2 ~ /^sl-tm1:[0-9]+$/ { print $3 }' <<<"$listing")"
[ -n "$tm1_pid" ] || fail "no taskmanager registered as sl-tm1:<port>:"$'\n'"$listing"
tm2_pid="$(awk -v a="${HL_ADDR[sl-tm2]}" 'index($2, a ":") == 1 { print $3 }' <<<"$listing")"
[ -n "$tm2_pid" ] || fail "no taskmanager registered as ${HL_ADDR[sl-tm2]}:<port>:"$'\n'"$listing"
assert_eq sl-tm1 "$(hl_host_of_pid "$tm1_pid")" "host of the taskmanager registered as sl-tm1"
assert_eq sl-tm2 "$(hl_host_of_pid "$tm2_pid")" "host of the taskmanager registered as ${HL_ADDR[sl-tm2]}"
tm1_listen="$(listen_addrs sl-tm1 "$tm1_pid")"
tm2_listen="$(listen_addrs sl-tm2 "$tm2_pid")"
echo "sl-tm1 listens on: $(tr '\n' ' ' <<<"$tm1_listen")"
echo "sl-tm2 listens on: $(tr '\n' ' ' <<<"$tm2_listen")"
assert_eq 2 "$(grep -c . <<<"$tm1_listen")" "listening sockets of the sl-tm1 taskmanager (rpc, data)"
assert_eq 0 "$(grep -vc "^${HL_ADDR[sl-tm1]}:" <<<"$tm1_listen")" "sockets of the sl-tm1 taskmanager not on ${HL_ADDR[sl-tm1]} (taskmanager.bind-host): $tm1_listen"
assert_eq 2 "$(grep -c '^0\.0\.0\.0:' <<<"$tm2_listen")" "sockets of the sl-tm2 taskmanager on 0.0.0.0: $tm2_listen"

# ------------------------------------------------ no reachable address: exit 2
hl__run "remove the addresses of sl-lone" hl_exec sl-lone ip addr flush dev eth0
sl_run timeout 20 nsenter -t "${HL_PID[sl-lone]}" -n -u -m -- "$SL_BIN/sluice-taskmanager" -c "$SL_CONF"
assert_eq 2 "$SL_RC" "exit code of a taskmanager without a route to the jobmanager (stderr: $SL_ERR)"
assert_contains "$SL_ERR" "no route to 'sl-jm'" "stderr of a taskmanager without a route to the jobmanager"
assert_contains "$SL_ERR" "set taskmanager.host" "stderr of a taskmanager without a route to the jobmanager"
sl_run timeout 20 nsenter -t "${HL_PID[sl-tm2]}" -n -u -m -- "$SL_BIN/sluice-taskmanager" -c "$SL_CONF" -D taskmanager.host=0.0.0.0
assert_eq 2 "$SL_RC" "exit code of a taskmanager with taskmanager.host 0.0.0.0 (stderr: $SL_ERR)"
assert_contains "$SL_ERR" "taskmanager.host: 0.0.0.0 is a wildcard" "stderr of a taskmanager with taskmanager.host 0.0.0.0"
sl_run timeout 20 nsenter -t "${HL_PID[sl-tm2]}" -n -u -m -- "$SL_BIN/sluice-jobmanager" -c "$SL_CONF" -D jobmanager.rpc.address=no-such-host.invalid
assert_eq 2 "$SL_RC" "exit code of a jobmanager whose address does not resolve (stderr: $SL_ERR)"
assert_contains "$SL_ERR" "jobmanager.rpc.address: cannot resolve 'no-such-host.invalid'" "stderr of that jobmanager"

hl_script sl-client stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh (IPv4) exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
for h in sl-jm sl-tm1 sl-tm2; do
    [ -z "$(hl_sluice_pids "$h")" ] || fail "sluice processes left on $h after stop-cluster.sh: $(hl_sluice_pids "$h")"
done

# ------------------- a remote taskmanager that exits at start: reported at once
cp "$SL_CONF/sluice.yaml" "$SL_TMP/sluice.yaml.saved"
sl_conf_set taskmanager.host 0.0.0.0
t0="$(sl__now_ms)"
hl_script sl-client start-cluster.sh
took=$(($(sl__now_ms) - t0))
[ "$SL_RC" -ne 0 ] || fail "start-cluster.sh succeeded with taskmanager.host 0.0.0.0: $SL_OUT"
assert_contains "$SL_ERR" "the taskmanager (pid " "start-cluster.sh stderr"
assert_contains "$SL_ERR" "on host sl-tm1 exited at start (exit code 2)" "start-cluster.sh stderr"
assert_contains "$SL_ERR" "taskmanager.host: 0.0.0.0 is a wildcard" "start-cluster.sh stderr"
[ "$took" -lt 30000 ] || fail "start-cluster.sh took $took ms to report a taskmanager that exited at start"
echo "start-cluster.sh reported the remote taskmanager's exit after $took ms"
cp "$SL_TMP/sluice.yaml.saved" "$SL_CONF/sluice.yaml"
hl_script sl-client stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh after the failed start (stdout: $SL_OUT; stderr: $SL_ERR)"
for h in sl-jm sl-tm1 sl-tm2; do
    [ -z "$(hl_sluice_pids "$h")" ] || fail "sluice processes left on $h after stop-cluster.sh: $(hl_sluice_pids "$h")"
done

# ------------------------------------------------ IPv6
sl_conf_set jobmanager.rpc.address "\"${HL_ADDR6[sl-jm]}\""
hl_script sl-client start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh (IPv6) exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
assert_contains "$(hl_host_file sl-jm "$SL_LOG/sluice-jobmanager.log")" \
    "jobmanager listening on tcp://[::]:$SL_JM_PORT, advertised as ${HL_ADDR6[sl-jm]}" "jobmanager log"
wait_for -t 30 running_tms 2
listing="$SL_OUT"
echo "$listing"
want="$(printf '[%s]\n[%s]\n' "${HL_ADDR6[sl-tm1]}" "${HL_ADDR6[sl-tm2]}" | sort | tr '\n' ' ')"
got="$(awk '{ sub(/:[0-9]+$/, "", $2); print $2 }' <<<"$listing" | sort | tr '\n' ' ')"
assert_eq "$want" "$got" "IPv6 addresses of the taskmanagers"
check_placement "$listing" 6

sl_wordcount_setup 300000 2
sl_write_file_job "$SL_DATA/job.yaml" hosts-ipv6 "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 300 ms"
sl_submit_detached "$SL_DATA/job.yaml"
wait_for sl_job_deployed "$SL_JOBID"
assert_eq 2 "$(sl_tasks "$SL_OUT" | awk '{ print $5 }' | sort -u | grep -c .)" "taskmanagers the job runs on"
sl_wait_job_end "$SL_JOBID" FINISHED 120
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

hl_script sl-client stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh (IPv6) exit code (stdout: $SL_OUT; stderr: $SL_ERR)"
for h in sl-jm sl-tm1 sl-tm2; do
    [ -z "$(hl_sluice_pids "$h")" ] || fail "sluice processes left on $h after stop-cluster.sh: $(hl_sluice_pids "$h")"
done
echo "ok"
