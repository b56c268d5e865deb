#!/usr/bin/env bash
# Who is refused at the door of a cluster with internal and rest TLS and
# client authentication (certificates by scripts/sluice-certs.sh):
# - a plain-TCP client (a configuration with only the jobmanager's address;
#   and the cluster's own with TLS switched off by -D) exits 3 (cannot
#   reach: the TLS handshake never completes) within a bound;
# - a TLS client without a certificate exits 1, "permission denied: no
#   client certificate"; one with a certificate of another CA exits 1,
#   "permission denied";
# - taskmanagers that must never register: one with another CA's daemon
#   certificate (trusting our CA), one with everything from another CA, one
#   with a client certificate of our CA (clientAuth only: a client cannot
#   pose as a taskmanager), one with internal TLS off (the rest keys still
#   make it dial the jobmanager with TLS, as a client without a
#   certificate), one without any TLS. Each one's log says why it
#   cannot connect or that it was refused, and `sluice taskmanagers` never
#   lists any of them, while the good taskmanager registers and a word
#   count runs on it alone, exactly-once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/security_lib.sh"

PLAIN_BOUND=60 # seconds a refused plain client may take to give up

sec_make_certs alice
other="$SL_TMP/other-ca"
sec_make_certs -d "$other" alice
SEC_CLI_CN=alice
sl_new_cluster
sl_conf_set taskmanager.numberOfTaskSlots 2
sec_conf_all "alice:admin"
sec_start_jm
sec_start_tm
good_pid="$SEC_TM_PID"
sec_wait_tms alice 1
sec_assert_allowed alice list

# ------------------------------------------------------- plain TCP clients
# plain_client WHAT CMD...: CMD exits 3 within PLAIN_BOUND seconds.
plain_client() {
    local what="$1" t0 t1
    shift
    t0="$(sl__now_ms)"
    sl_run timeout -k 5 $((PLAIN_BOUND + 30)) "$@"
    t1="$(sl__now_ms)"
    echo "$what: exit $SL_RC after $((t1 - t0)) ms: $(head -n 2 <<<"$SL_ERR")"
    [ "$SL_RC" -ne 124 ] && [ "$SL_RC" -ne 137 ] || fail "$what hung (killed after $((PLAIN_BOUND + 30)) s)"
    assert_eq 3 "$SL_RC" "exit code of $what (stdout: $SL_OUT; stderr: $SL_ERR)"
    [ $((t1 - t0)) -le $((PLAIN_BOUND * 1000)) ] || fail "$what took $((t1 - t0)) ms to give up (bound $PLAIN_BOUND s)"
    assert_not_contains "$SL_OUT" "$SL_JM_PORT" "stdout of $what"
}
plain_conf="$(sec_client_conf plain)"
plain_client "a plain-TCP client (address only)" "$SL_BIN/sluice" -c "$plain_conf" list
plain_client "the CLI with TLS switched off by -D" "$SL_BIN/sluice" -c "$SL_CONF" \
    -D security.ssl.rest.enabled=false -D security.ssl.internal.enabled=false \
    -D security.ssl.rest.authentication-enabled=false list
sec_assert_allowed alice list # the jobmanager is still fine

# ------------------------------------------------- TLS without a certificate
nocert_conf="$(sec_client_conf nocert security.ssl.rest.enabled true security.ssl.rest.trust-cert "$SEC_CERTS/ca.pem")"
for cmd in list taskmanagers; do
    sl_run sec_cli_conf "$nocert_conf" "$cmd"
    assert_eq 1 "$SL_RC" "exit code of '$cmd' over TLS without a certificate (stdout: $SL_OUT; stderr: $SL_ERR)"
    assert_contains "$SL_ERR" "permission denied: no client certificate" "stderr of '$cmd' without a certificate"
    echo "'$cmd' without a certificate: $(head -n 1 <<<"$SL_ERR")"
done
wait_for -t 10 bash -c "grep -h 'audit:' '$SL_LOG'/sluice-jobmanager*.log | grep -F taskmanagers | grep -q denied"
echo "audit: $(sec_audit_lines | grep -F taskmanagers | grep denied | tail -n 1)"

# A certificate of another CA (the server verified against ours).
sl_run sl__cli_lib -D "security.ssl.rest.cert=$other/alice.pem" -D "security.ssl.rest.key=$other/alice.key" \
    -D "security.ssl.rest.trust-cert=$SEC_CERTS/ca.pem" list
assert_eq 1 "$SL_RC" "exit code of 'list' with another CA's client certificate (stdout: $SL_OUT; stderr: $SL_ERR)"
assert_contains "$SL_ERR" "permission denied" "stderr of 'list' with another CA's client certificate"
echo "another CA's alice: $(head -n 1 <<<"$SL_ERR")"
# A client trusting another CA does not talk to our jobmanager at all.
sl_run sl__cli_lib -D "security.ssl.rest.cert=$other/alice.pem" -D "security.ssl.rest.key=$other/alice.key" \
    -D "security.ssl.rest.trust-cert=$other/ca.pem" list
[ "$SL_RC" -ne 0 ] || fail "a client trusting another CA listed the jobs: $SL_OUT"
assert_not_contains "$SL_OUT" "Job" "stdout of a client trusting another CA"
echo "a client trusting another CA: exit $SL_RC: $(head -n 1 <<<"$SL_ERR")"

# ------------------------------------------------------ bad taskmanagers
declare -A bad_log=() bad_what=()
bad_pids=()
# bad_tm WHAT -D ...: a taskmanager that must not register.
bad_tm() {
    local what="$1"
    shift
    sec_start_tm --may-fail "$@"
    bad_pids+=("$SEC_TM_PID")
    bad_log[$SEC_TM_PID]="$SEC_TM_LOG"
    bad_what[$SEC_TM_PID]="$what"
}
I=security.ssl.internal
bad_tm "another CA's daemon certificate" -D "$I.cert=$other/daemon.pem" -D "$I.key=$other/daemon.key"
bad_tm "everything from another CA" -D "$I.cert=$other/daemon.pem" -D "$I.key=$other/daemon.key" \
    -D "$I.trust-cert=$other/ca.pem"
bad_tm "a client certificate (alice, clientAuth only)" -D "$I.cert=$SEC_CERTS/alice.pem" -D "$I.key=$SEC_CERTS/alice.key"
bad_tm "internal TLS off (TLS to the jobmanager as a rest client only, no daemon certificate)" -D "$I.enabled=false"
bad_tm "no TLS at all" -D "$I.enabled=false" -D security.ssl.rest.enabled=false \
    -D security.ssl.rest.authentication-enabled=false

# reason_logged PID: for wait_for: the taskmanager's log (after its start
# line) says why it cannot connect or that it was refused.
REASON='refused|denied|permission|certificate|verif|handshake|trust|cannot|could not|unable|fail|reject|closed|timed out'
reason_logged() {
    local log="${bad_log[$1]}"
    if grep -q 'registered at the jobmanager' "$log"; then
        fail "the taskmanager with ${bad_what[$1]} (pid $1) registered:"$'\n'"$(tail -n 20 "$log")"
    fi
    awk '/^=== / { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' "$log" |
        grep -v 'advertised' | grep -iE "$REASON"
}
for pid in "${bad_pids[@]}"; do
    wait_for -t 60 reason_logged "$pid"
    echo "taskmanager with ${bad_what[$pid]} (pid $pid) logs: $(reason_logged "$pid" | head -n 2 | tr '\n' ' ')"
done
# Give the bad ones several heartbeat intervals more; none is ever listed.
listed_bad() {
    local pid
    sec_run alice taskmanagers
    [ "$SL_RC" -eq 0 ] || fail "'sluice taskmanagers' as alice exited $SL_RC: $SL_ERR"
    for pid in "${bad_pids[@]}"; do
        if awk -v p="$pid" '$3 == p { f = 1 } END { exit !f }' <<<"$SL_OUT"; then
            fail "the taskmanager with ${bad_what[$pid]} (pid $pid) registered:"$'\n'"$SL_OUT"$'\n'"$(tail -n 20 "${bad_log[$pid]}")"
        fi
    done
    awk -v p="$good_pid" '$3 == p && $6 == "RUNNING" { f = 1 } END { exit !f }' <<<"$SL_OUT" ||
        fail "the good taskmanager (pid $good_pid) is not RUNNING:"$'\n'"$SL_OUT"
}
# Watch for WATCH_S seconds (past heartbeat.timeout, 5 s): polled, each
# poll must hold.
WATCH_S=8
watch_end=$(($(sl__now_ms) + WATCH_S * 1000))
polls=0
while [ "$(sl__now_ms)" -lt "$watch_end" ]; do
    listed_bad
    polls=$((polls + 1))
    sleep 0.2
done
echo "$polls polls over $WATCH_S s: no bad taskmanager listed"
echo "taskmanagers after the bad ones tried: $(awk '{ print $1, $3, $6 }' <<<"$SL_OUT" | tr '\n' ';')"
refused_regs="$(sec_audit_lines | grep -F 'register a taskmanager' | grep -F denied | head -n 8 || true)"
echo "jobmanager audit lines about refused registrations:"$'\n'"${refused_regs:-  (none)}"

# --------------------------------------------- the job runs on the good one
sl_wordcount_setup 400000 3
sl_write_file_job "$SL_DATA/job.yaml" refusals-wordcount "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for sl_job_deployed "$jobid"
good_id="$(sec_run alice taskmanagers && awk -v p="$good_pid" '$3 == p { print $1 }' <<<"$SL_OUT")"
[ -n "$good_id" ] || fail "no taskmanager id for the good taskmanager (pid $good_pid)"
sl_info "$jobid"
others="$(sl_tasks "$SL_OUT" | awk -v tm="$good_id" '$5 != tm')"
[ -z "$others" ] || fail "tasks placed elsewhere than on the good taskmanager $good_id:"$'\n'"$SL_OUT"
sl_wait_job_end "$jobid" FINISHED 120
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
listed_bad
echo "ok"
