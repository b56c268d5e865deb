#!/usr/bin/env bash
# shellcheck disable=SC2034,SC2120  # globals for the tests; optional arguments of helpers
# Helpers of the security tests (interface.md section 9, issue 14). Sourced
# after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/security_lib.sh"
#   sec_make_certs alice grafana      # scripts/sluice-certs.sh $SL_TMP/certs alice grafana
#   sl_new_cluster
#   sec_conf_internal                 # security.ssl.internal.* (the daemon certificate)
#   sec_conf_rest                     # security.ssl.rest.* with authentication
#   sec_conf_roles "alice:admin,grafana:view"
#   sec_start_jm                      # scripts/jobmanager.sh start
#   sec_start_tm; sec_start_tm        # scripts/taskmanager.sh start, fixed free ports
#   sec_wait_tms alice 2              # 2 RUNNING, as alice sees them
#   sec_run alice run -d job.yaml     # the CLI with alice's certificate: SL_RC/SL_OUT/SL_ERR
#   SEC_CLI_CN=alice                  # lib.sh's helpers (sl_info, sl_wait_job_end, ...) ask as alice
#   sec_assert_denied grafana cancel  # exit 1, "permission denied: grafana may not cancel"
#   sec_audit_has grafana cancel denied
#   sec_capture_start FILE            # tcpdump of every port of the cluster on lo
#   sec_capture_stop
#
# The daemons are started one by one (not with start-cluster.sh) so each
# taskmanager gets rpc and data ports picked here (SEC_PORTS lists them
# with the jobmanager's: the capture filter), and so a taskmanager can get
# other keys (another CA's certificate) with -D.
#
# Every daemon is in its cluster's pid files and every tcpdump is recorded
# with sl_record_pid: lib.sh's exit trap kills them by pid.

SEC_CERTS=""
SEC_PORTS=()
SEC_CAP_PID=""
SEC_CAP_FILE=""
SEC_CAP_DROPPED=""
SEC_JM_PID=""
SEC_TM_PID="" SEC_TM_LOG="" SEC_TM_RPC_PORT="" SEC_TM_DATA_PORT=""
SEC_START_TIMEOUT="${SEC_START_TIMEOUT:-60}"

# ------------------------------------------------------------ certificates

# sec_make_certs [-d DIR] [--host NAME]... CN...: scripts/sluice-certs.sh
# into DIR [$SL_TMP/certs]; the first call (or one with -d) sets SEC_CERTS.
sec_make_certs() {
    local dir="$SL_TMP/certs"
    if [ "${1:-}" = -d ]; then
        dir="$2"
        shift 2
    fi
    sl_run "$SL_SCRIPTS/sluice-certs.sh" "$dir" "$@"
    [ "$SL_RC" -eq 0 ] || fail "sluice-certs.sh $dir $* exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    [ -s "$dir/ca.pem" ] && [ -s "$dir/daemon.pem" ] && [ -s "$dir/daemon.key" ] ||
        fail "sluice-certs.sh $dir made no ca.pem / daemon.pem / daemon.key: $SL_OUT"
    SEC_LAST_CERTS="$dir"
    if [ -z "$SEC_CERTS" ] || [ "$dir" = "$SL_TMP/certs" ]; then SEC_CERTS="$dir"; fi
    echo "certificates in $dir: $(cd "$dir" && ls -- *.pem | tr '\n' ' ')"
}

# ---------------------------------------------------------- configuration

# sec_conf_internal [DIR]: mutual TLS between the daemons of the current
# cluster, with DIR's [SEC_CERTS] daemon certificate and CA.
sec_conf_internal() {
    local d="${1:-$SEC_CERTS}"
    sl_conf_set security.ssl.internal.enabled true
    sl_conf_set security.ssl.internal.cert "$d/daemon.pem"
    sl_conf_set security.ssl.internal.key "$d/daemon.key"
    sl_conf_set security.ssl.internal.trust-cert "$d/ca.pem"
}

# sec_conf_rest [DIR] [AUTHENTICATION]: TLS for the clients of the current
# cluster (the jobmanager presents DIR's daemon certificate; clients are
# verified against DIR/ca.pem), security.ssl.rest.authentication-enabled
# AUTHENTICATION [true].
sec_conf_rest() {
    local d="${1:-$SEC_CERTS}" auth="${2:-true}"
    sl_conf_set security.ssl.rest.enabled true
    sl_conf_set security.ssl.rest.cert "$d/daemon.pem"
    sl_conf_set security.ssl.rest.key "$d/daemon.key"
    sl_conf_set security.ssl.rest.trust-cert "$d/ca.pem"
    sl_conf_set security.ssl.rest.authentication-enabled "$auth"
}

# sec_conf_roles ROLES: security.authorization.roles ("alice:admin,ops:operate").
sec_conf_roles() {
    sl_conf_set security.authorization.roles "$1"
}

# sec_conf_all ROLES: internal and rest TLS with authentication, and ROLES.
sec_conf_all() {
    sec_conf_internal
    sec_conf_rest
    sec_conf_roles "$1"
}

# ------------------------------------------------------------------- CLI

# The CLI of lib.sh's helpers (sl_info, sl_wait_job_end, sl_kill_counts_tm,
# ...) presents SEC_CLI_CN's client certificate when that is set (the
# tests set it to an admin CN); with it empty, lib.sh's sl_cli as it is.
SEC_CLI_CN=""
eval "$(declare -f sl_cli | sed '1s/^sl_cli /sl__cli_lib /')"
sl_cli() {
    if [ -n "$SEC_CLI_CN" ] && [ "$SEC_CLI_CN" != - ]; then
        sl__cli_lib -D "security.ssl.rest.cert=$SEC_CERTS/$SEC_CLI_CN.pem" \
            -D "security.ssl.rest.key=$SEC_CERTS/$SEC_CLI_CN.key" \
            -D "security.ssl.rest.trust-cert=$SEC_CERTS/ca.pem" "$@"
    else
        sl__cli_lib "$@"
    fi
}

# sec_cli CN ARGS...: the CLI with the current cluster's configuration and
# CN's client certificate (SEC_CERTS/CN.pem, .key) given with -D, as a user
# passes it; CN "-": no certificate of its own (the cluster's keys as they are).
sec_cli() {
    local SEC_CLI_CN="$1"
    shift
    sl_cli "$@"
}

# sec_run CN ARGS...: sec_cli into SL_RC, SL_OUT, SL_ERR.
sec_run() {
    sl_run sec_cli "$@"
}

# sec_client_conf NAME [KEY VALUE]...: a configuration folder for a client
# that knows the current jobmanager's address and the given keys only;
# prints its path.
sec_client_conf() {
    local dir="$SL_ROOT/client-$1"
    shift
    mkdir -p "$dir"
    {
        echo "# a client's configuration, written by security_lib.sh"
        echo "jobmanager.rpc.address: 127.0.0.1"
        echo "jobmanager.rpc.port: $SL_JM_PORT"
        while [ "$#" -ge 2 ]; do
            echo "$1: $2"
            shift 2
        done
    } >"$dir/sluice.yaml"
    echo "$dir"
}

# sec_cli_conf DIR ARGS...: the CLI with the configuration folder DIR.
sec_cli_conf() {
    local dir="$1"
    shift
    timeout --foreground -k 5 "$SL_CLI_TIMEOUT" "$SL_BIN/sluice" -c "$dir" "$@"
}

# sec_assert_denied CN VERB ARGS...: `sluice ARGS` with CN's certificate
# exits 1 and says "permission denied: CN may not VERB".
sec_assert_denied() {
    local cn="$1" verb="$2"
    shift 2
    sec_run "$cn" "$@"
    assert_eq 1 "$SL_RC" "exit code of '$*' as $cn (stdout: $SL_OUT; stderr: $SL_ERR)"
    assert_contains "$SL_ERR" "permission denied: $cn may not $verb" "stderr of '$*' as $cn"
    echo "as $cn, '$*' is refused: $(head -n 1 <<<"$SL_ERR")"
}

# sec_assert_allowed CN ARGS...: `sluice ARGS` with CN's certificate exits 0.
sec_assert_allowed() {
    local cn="$1"
    shift
    sec_run "$cn" "$@"
    assert_eq 0 "$SL_RC" "exit code of '$*' as $cn (stdout: $SL_OUT; stderr: $SL_ERR)"
    assert_not_contains "$SL_ERR" "permission denied" "stderr of '$*' as $cn"
}

# ------------------------------------------------------------- audit log

# sec_audit_lines: the "audit:" lines of the current cluster's jobmanager log.
sec_audit_lines() {
    grep -h 'audit:' "$SL_LOG"/sluice-jobmanager*.log 2>/dev/null || true
}

# sec_audit_has CN VERB OUTCOME: for wait_for: some audit line of the
# jobmanager log names CN (as a word), VERB and OUTCOME (allowed | denied).
sec_audit_has() {
    local lines
    lines="$(sec_audit_lines)"
    echo "audit lines ($(grep -c . <<<"$lines" || true)), last ones:"$'\n'"$(tail -n 5 <<<"$lines")"
    CN="$1" VERB="$2" OUT="$3" awk '
        index($0, "audit:") && index($0, ENVIRON["VERB"]) && index($0, ENVIRON["OUT"]) {
            n = split($0, w, /[^A-Za-z0-9._-]+/)
            for (i = 1; i <= n; i++) if (w[i] == ENVIRON["CN"]) { found = 1; exit }
        }
        END { exit !found }' <<<"$lines"
}

# sec_assert_audit CN VERB OUTCOME: waits (10 s) for that audit line.
sec_assert_audit() {
    wait_for -t 10 sec_audit_has "$@"
    echo "audit line for $1 $2 $3: $(grep -F "$1" <<<"$(sec_audit_lines)" | grep -F "$2" | grep -F "$3" | tail -n 1)"
}

# ---------------------------------------------------------------- daemons

# sec__listening PORT: for wait_for: some socket listens on TCP PORT.
sec__listening() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# sec_start_jm [-D KEY=VALUE]...: scripts/jobmanager.sh start for the
# current cluster; waits until its RPC port listens. Sets SEC_JM_PID.
sec_start_jm() {
    sl_run sl_script jobmanager.sh start "$@"
    [ "$SL_RC" -eq 0 ] || fail "jobmanager.sh start $* exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    SEC_JM_PID="$(sed -n -E 's/.*\(pid ([0-9]+)\).*/\1/p' <<<"$SL_OUT" | head -n 1)"
    [ -n "$SEC_JM_PID" ] || fail "jobmanager.sh start printed no '(pid N)':"$'\n'"$SL_OUT"
    sl_record_pid "$SEC_JM_PID"
    SEC_PORTS+=("$SL_JM_PORT")
    wait_for -t "$SEC_START_TIMEOUT" sec__listening "$SL_JM_PORT"
    sl_pid_is_sluice "$SEC_JM_PID" jobmanager ||
        fail "the jobmanager (pid $SEC_JM_PID) is not running:"$'\n'"$(tail -n 20 "$SL_LOG/sluice-jobmanager.log")"
    echo "jobmanager pid $SEC_JM_PID on port $SL_JM_PORT"
}

# sec_start_tm [--may-fail] [-D KEY=VALUE]...: scripts/taskmanager.sh start
# with free taskmanager.rpc.port and taskmanager.data.port (added to
# SEC_PORTS) and the given keys. Sets SEC_TM_PID, SEC_TM_LOG,
# SEC_TM_RPC_PORT, SEC_TM_DATA_PORT. Does not wait for the registration
# (sec_wait_tms); with --may-fail a taskmanager that exits at once is no
# failure of the test.
sec_start_tm() {
    local may_fail=0
    if [ "${1:-}" = --may-fail ]; then
        may_fail=1
        shift
    fi
    sl_pick_port
    SEC_TM_RPC_PORT="$SL_PORT"
    sl_pick_port
    SEC_TM_DATA_PORT="$SL_PORT"
    SEC_PORTS+=("$SEC_TM_RPC_PORT" "$SEC_TM_DATA_PORT")
    sl_run sl_script taskmanager.sh start -D "taskmanager.rpc.port=$SEC_TM_RPC_PORT" \
        -D "taskmanager.data.port=$SEC_TM_DATA_PORT" "$@"
    if [ "$SL_RC" -ne 0 ] && [ "$may_fail" = 0 ]; then
        fail "taskmanager.sh start $* exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    fi
    SEC_TM_PID="$(sed -n -E 's/.*\(pid ([0-9]+)\).*/\1/p' <<<"$SL_OUT" | head -n 1)"
    SEC_TM_LOG="$(sed -n -E 's/.*logging to (.*)\.$/\1/p' <<<"$SL_OUT" | head -n 1)"
    [ -n "$SEC_TM_PID" ] || fail "taskmanager.sh start printed no '(pid N)':"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    [ -n "$SEC_TM_LOG" ] || fail "taskmanager.sh start printed no 'logging to FILE.':"$'\n'"$SL_OUT"
    sl_record_pid "$SEC_TM_PID"
    echo "taskmanager pid $SEC_TM_PID (rpc port $SEC_TM_RPC_PORT, data port $SEC_TM_DATA_PORT, log $SEC_TM_LOG, exit $SL_RC)${*:+ with $*}"
}

# sec__tms_running CN N: for wait_for: at least N taskmanagers RUNNING.
sec__tms_running() {
    sec_run "$1" taskmanagers
    echo "taskmanagers as $1: exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] && [ "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" -ge "$2" ]
}

# sec_wait_tms CN N: waits until N taskmanagers are RUNNING, asking as CN.
sec_wait_tms() {
    wait_for -t "$SEC_START_TIMEOUT" sec__tms_running "$1" "$2"
    echo "$2 taskmanager(s) RUNNING"
}

# sec_tm_listed CN PID: 0 if `sluice taskmanagers` (as CN) lists PID.
sec_tm_listed() {
    sec_run "$1" taskmanagers
    [ "$SL_RC" -eq 0 ] || fail "'sluice taskmanagers' as $1 exited $SL_RC: $SL_ERR"
    awk -v p="$2" '$3 == p { found = 1 } END { exit !found }' <<<"$SL_OUT"
}

# sec_start_cluster CN N: the jobmanager and N taskmanagers of the current
# cluster, one by one, then waits until N are RUNNING (asking as CN).
sec_start_cluster() {
    local i
    sec_start_jm
    for ((i = 0; i < $2; i++)); do sec_start_tm; done
    sec_wait_tms "$1" "$2"
}

# ---------------------------------------------------------------- capture

# sec_capture_start FILE [PORT...]: tcpdump of loopback TCP on PORTs
# [SEC_PORTS] into FILE (pcap, every packet written as it comes); returns
# once tcpdump is capturing. Sets SEC_CAP_PID and SEC_CAP_FILE.
sec_capture_start() {
    local file="$1" filter="" p
    shift
    local -a ports=("$@")
    [ "${#ports[@]}" -gt 0 ] || ports=("${SEC_PORTS[@]}")
    [ "${#ports[@]}" -gt 0 ] || fail "sec_capture_start: no ports to capture"
    command -v tcpdump >/dev/null 2>&1 || fail "tcpdump is not installed (scripts/install-deps.sh installs it)"
    for p in "${ports[@]}"; do filter+="${filter:+ or }tcp port $p"; done
    # --immediate-mode: packets reach the file at once (not a buffer at a
    # time); -B: a 16 MB kernel buffer (no drops at data-plane rates); -Z
    # root: no switch to the tcpdump user, who cannot write here.
    tcpdump -i lo -n -U --immediate-mode -B 16384 -Z root -w "$file" "$filter" \
        >"$file.out" 2>"$file.err" </dev/null &
    SEC_CAP_PID=$!
    SEC_CAP_FILE="$file"
    sl_record_pid "$SEC_CAP_PID"
    wait_for -t 20 sec__capturing "$file"
    echo "tcpdump (pid $SEC_CAP_PID) captures '$filter' into $file"
}

# sec__capturing FILE: for wait_for: tcpdump says it listens (fails at once
# if it exited).
sec__capturing() {
    if ! sl_pid_alive "$SEC_CAP_PID"; then
        fail "tcpdump exited at start: $(cat "$1.err")"
    fi
    grep -q 'listening on' "$1.err"
}

# sec_capture_stop: SIGINT to the tcpdump (it writes its last packets and
# its counts), waits until it ended. Sets SEC_CAP_DROPPED (packets the
# kernel dropped, as tcpdump counted them).
sec_capture_stop() {
    [ -n "$SEC_CAP_PID" ] || return 0
    if sl_pid_alive "$SEC_CAP_PID"; then kill -INT "$SEC_CAP_PID" 2>/dev/null || true; fi
    wait_for -t 20 sl_pid_gone "$SEC_CAP_PID"
    wait "$SEC_CAP_PID" 2>/dev/null || true
    echo "tcpdump stopped: $(grep -E 'packets' "$SEC_CAP_FILE.err" | tr '\n' ' ')"
    SEC_CAP_DROPPED="$(sed -n -E 's/^([0-9]+) packets? dropped by kernel.*/\1/p' "$SEC_CAP_FILE.err" | head -n 1)"
    SEC_CAP_PID=""
}

# sec_capture_packets FILE: number of packets in a capture.
sec_capture_packets() {
    tcpdump -n -r "$1" 2>/dev/null | wc -l
}

# sec_capture_count FILE WORD: how many times WORD occurs in the capture's
# bytes (headers and payloads alike; case-insensitive).
sec_capture_count() {
    { LC_ALL=C grep -a -i -o -F -- "$2" "$1" || true; } | wc -l
}

# -------------------------------------------------------------- input

# sec_add_marker TEXT MARKER EVERY: inserts a line "MARKER" after every
# EVERY-th line of TEXT (a word the tests then look for on the wire).
sec_add_marker() {
    LC_ALL=C awk -v m="$2" -v k="$3" '{ print } NR % k == 0 { print m }' "$1" >"$1.marked"
    mv -f "$1.marked" "$1"
}
