#!/usr/bin/env bash
# shellcheck disable=SC2034  # globals (SL_ROOT, SL_DATA, SL_JM_PORT, ...) are for the tests
# Helpers every integration test sources:
#
#   . "$(dirname "$0")/lib.sh"
#   sl_new_cluster                 # temp root with conf/ log/ pid/ data/, free ports, sluice.yaml
#   sl_conf_set key value          # optional: change a key of that cluster's sluice.yaml
#   sl_start_cluster 2             # scripts/start-cluster.sh with 2 local taskmanagers
#   sl_run sl_cli taskmanagers     # sets SL_RC, SL_OUT, SL_ERR
#   wait_for sl_job_state_is "$jobid" RUNNING
#   assert_eq 0 "$SL_RC" "taskmanagers exit code"
#
# Several clusters per test: sl_new_cluster makes the new one current and
# sets SL_ROOT; keep it (a=$SL_ROOT) and switch back with sl_use "$a".
#
# On exit (pass, fail or signal) every daemon in the pid files of every
# cluster root and every pid recorded with sl_record_pid is killed with
# SIGKILL, by pid (only if it is still that process), and the temp folder is
# removed unless KEEP_TMP=1. Tests never sleep for correctness: they wait for
# conditions with wait_for (poll every 0.1 s, default bound 60 s,
# SL_WAIT_TIMEOUT overrides).
#
# Environment: SLUICE_BUILD (build folder, e.g. build or build-asan: binaries
# in <repo>/$SLUICE_BUILD/bin), else SLUICE_BIN_DIR, else <repo>/build/bin.
# KEEP_TMP=1 keeps the temp folder. SL_SANITIZER_CHECK=0 skips the check that
# no log holds a sanitizer report.

set -Eeuo pipefail

SL_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SL_SCRIPTS="$SL_REPO/scripts"
if [ -n "${SLUICE_BUILD:-}" ]; then
    case "$SLUICE_BUILD" in
        /*) SL_BIN="$SLUICE_BUILD/bin" ;;
        *) SL_BIN="$SL_REPO/$SLUICE_BUILD/bin" ;;
    esac
elif [ -n "${SLUICE_BIN_DIR:-}" ]; then
    SL_BIN="$SLUICE_BIN_DIR"
else
    SL_BIN="$SL_REPO/build/bin"
fi
export SLUICE_BIN_DIR="$SL_BIN"
# Never pick up the caller's cluster: every call names its folders.
unset SLUICE_CONF_DIR SLUICE_LOG_DIR SLUICE_PID_DIR

SL_USER="${USER:-$(id -un)}"
SL_TEST="$(basename "$0" .sh)"
SL_MAIN_PID=$$
SL_WAIT_TIMEOUT="${SL_WAIT_TIMEOUT:-60}"
SL_CLI_TIMEOUT="${SL_CLI_TIMEOUT:-300}"
SL_FAILED=0
SL_LAST_ERR=""
SL_ROOTS=()
SL_PIDS=()
declare -A SL_USED_PORTS=()
SL_RC=0 SL_OUT="" SL_ERR=""
SL_ROOT="" SL_CONF="" SL_LOG="" SL_PIDDIR="" SL_DATA="" SL_JM_PORT=""

# The test's own stdout/stderr, for messages written while a command's
# output is redirected (a signal can arrive inside sl_run or wait_for).
exec {SL_FD_OUT}>&1 {SL_FD_ERR}>&2

SL_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sluice-it-$SL_TEST.XXXXXX")"

# ---------------------------------------------------------------- failing

sl__now_ms() {
    local t="${EPOCHREALTIME/[.,]/}"
    echo $((10#$t / 1000))
}

# Last lines of every log of every cluster of this test, to stderr.
sl_dump_logs() {
    local root f
    for root in "${SL_ROOTS[@]}"; do
        for f in "$root"/log/*.log; do
            [ -f "$f" ] || continue
            echo "----- $f (last 60 lines)" >&2
            tail -n 60 "$f" >&2 || true
        done
    done
}

# fail MESSAGE...: reports, dumps the logs and ends the test (exit 1).
fail() {
    echo "FAIL: $SL_TEST: $*" >&"$SL_FD_ERR"
    if [ "$BASHPID" != "$SL_MAIN_PID" ]; then exit 1; fi
    SL_FAILED=1
    sl_dump_logs 2>&"$SL_FD_ERR"
    exit 1
}

# --------------------------------------------------------------- cleanup

# 0 if pid is a live, non-zombie process.
sl_pid_alive() {
    local pid="$1" state
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    case "$state" in Z | X | x | "") return 1 ;; esac
    return 0
}

# 0 if pid is live and its command line names a sluice binary (ROLE given:
# sluice-ROLE exactly; else any of sluice-jobmanager, sluice-taskmanager, sluice).
sl_pid_is_sluice() {
    local pid="$1" role="${2:-}" arg
    local -a args=()
    sl_pid_alive "$pid" || return 1
    mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do
        case "${arg##*/}" in
            sluice-jobmanager | sluice-taskmanager | sluice)
                if [ -z "$role" ] || [ "${arg##*/}" = "sluice-$role" ]; then return 0; fi
                ;;
        esac
    done
    return 1
}

# sl_record_pid PID: kill this pid (SIGKILL) at cleanup if still running.
sl_record_pid() {
    SL_PIDS+=("$1")
}

sl__ppid() {
    sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2
}

sl__cleanup() {
    local root f pid
    local -a killed=()
    for root in "${SL_ROOTS[@]}"; do
        for f in "$root"/pid/*.pid; do
            [ -f "$f" ] || continue
            while IFS= read -r pid || [ -n "$pid" ]; do
                pid="${pid//[[:space:]]/}"
                if sl_pid_is_sluice "$pid"; then
                    kill -KILL "$pid" 2>/dev/null && killed+=("$pid")
                fi
            done <"$f"
        done
    done
    for pid in "${SL_PIDS[@]}"; do
        # Only our own children or sluice processes (guard against pid reuse).
        if sl_pid_alive "$pid" && { [ "$(sl__ppid "$pid")" = "$SL_MAIN_PID" ] || sl_pid_is_sluice "$pid"; }; then
            kill -KILL "$pid" 2>/dev/null && killed+=("$pid")
        fi
    done
    for pid in "${killed[@]}"; do
        wait "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            sl_pid_alive "$pid" || break
            sleep 0.1
        done
    done
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "kept temp folder $SL_TMP" >&2
    else
        rm -rf "$SL_TMP"
    fi
}

# Sanitizer reports in any log fail a test that otherwise passed.
sl__check_sanitizers() {
    local root f hits=""
    [ "${SL_SANITIZER_CHECK:-1}" = 1 ] || return 0
    for root in "${SL_ROOTS[@]}"; do
        for f in "$root"/log/*.log; do
            [ -f "$f" ] || continue
            if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$f"; then
                hits+=" $f"
            fi
        done
    done
    [ -z "$hits" ] || {
        echo "FAIL: $SL_TEST: sanitizer report in:$hits" >&2
        for f in $hits; do grep -E -m 5 -A 15 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: ' "$f" >&2 || true; done
        return 1
    }
}

sl__on_exit() {
    local rc=$?
    set +e
    trap - ERR
    trap '' INT TERM # finish the cleanup even when signalled again
    exec 1>&"$SL_FD_OUT" 2>&"$SL_FD_ERR"
    if [ "$rc" -eq 0 ] && ! sl__check_sanitizers; then rc=1; SL_FAILED=1; fi
    if [ "$rc" -ne 0 ] && [ "$SL_FAILED" = 0 ]; then
        case "$rc" in
            130 | 143) echo "FAIL: $SL_TEST: interrupted by a signal (exit status $rc; test timeout?)" >&2 ;;
            *) echo "FAIL: $SL_TEST: exited with status $rc${SL_LAST_ERR:+ at $SL_LAST_ERR}" >&2 ;;
        esac
        sl_dump_logs
    fi
    sl__cleanup
    exit "$rc"
}
trap sl__on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'SL_LAST_ERR="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR

# ------------------------------------------------------------ assertions

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]  (fixed string)
assert_contains() {
    [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain '$2'; it is:"$'\n'"$1"
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
    [[ "$1" != *"$2"* ]] || fail "${3:-output} contains '$2' but should not; it is:"$'\n'"$1"
}

# assert_match TEXT ERE [WHAT]  (some line of TEXT matches the extended regex)
assert_match() {
    grep -qE -- "$2" <<<"$1" || fail "${3:-output} has no line matching /$2/; it is:"$'\n'"$1"
}

# sl_run CMD...: runs CMD (never fails the test), sets SL_RC, SL_OUT, SL_ERR.
sl_run() {
    local o="$SL_TMP/.run.out" e="$SL_TMP/.run.err"
    SL_RC=0
    "$@" >"$o" 2>"$e" || SL_RC=$?
    SL_OUT="$(cat "$o")"
    SL_ERR="$(cat "$e")"
}

# wait_for [-t SECONDS] CMD...: runs CMD every 0.1 s until it succeeds; fails
# the test after SECONDS [SL_WAIT_TIMEOUT, 60] showing CMD's last output.
# CMD runs in this shell (a function may set globals for the caller).
wait_for() {
    local t="$SL_WAIT_TIMEOUT" deadline o="$SL_TMP/.wait_for.out"
    if [ "${1:-}" = -t ]; then
        t="$2"
        shift 2
    fi
    deadline=$(($(sl__now_ms) + t * 1000))
    while :; do
        if "$@" >"$o" 2>&1; then return 0; fi
        if [ "$(sl__now_ms)" -ge "$deadline" ]; then
            fail "timed out after $t s waiting for: $*"$'\n'"its last output: $(cat "$o")"
        fi
        sleep 0.1
    done
}

# --------------------------------------------------------------- clusters

# 0 if some TCP socket (listening or not) uses the local port.
sl_port_in_use() {
    local p="$1"
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

# sl_pick_port: sets SL_PORT to a free TCP port on 127.0.0.1, random in
# 20000-60999, outside the kernel's ephemeral range when that leaves room (so
# the ports the OS hands out meanwhile cannot take it), never one picked
# before in this test.
sl_pick_port() {
    local lo=32768 hi=60999 p tries avoid=1
    if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
        read -r lo hi </proc/sys/net/ipv4/ip_local_port_range || true
    fi
    if [ "$lo" -le 21000 ] && [ "$hi" -ge 60000 ]; then avoid=0; fi
    for tries in $(seq 1 2000); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 41000))
        if [ "$avoid" = 1 ] && [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ]; then continue; fi
        [ -z "${SL_USED_PORTS[$p]:-}" ] || continue
        sl_port_in_use "$p" && continue
        SL_USED_PORTS[$p]=1
        SL_PORT="$p"
        return 0
    done
    fail "no free TCP port found after $tries tries"
}

# sl_use ROOT: makes the cluster in ROOT the current one.
sl_use() {
    SL_ROOT="$1"
    SL_CONF="$1/conf"
    SL_LOG="$1/log"
    SL_PIDDIR="$1/pid"
    SL_DATA="$1/data"
    SL_JM_PORT="$(cat "$1/jm.port")"
}

# sl_new_cluster: a new temp root (conf/ log/ pid/ data/) with a free
# jobmanager port and a sluice.yaml; becomes the current cluster.
sl_new_cluster() {
    local root
    local b
    for b in sluice-jobmanager sluice-taskmanager sluice; do
        [ -x "$SL_BIN/$b" ] || fail "$SL_BIN/$b not found (build with 'make', or set SLUICE_BUILD)"
    done
    root="$(mktemp -d "$SL_TMP/cluster.XXXXXX")"
    mkdir -p "$root/conf" "$root/log" "$root/pid" "$root/data" "$root/checkpoints" "$root/tm-state"
    SL_ROOTS+=("$root")
    sl_pick_port
    echo "$SL_PORT" >"$root/jm.port"
    cat >"$root/conf/sluice.yaml" <<EOF
# written by tests/integration/lib.sh for $SL_TEST
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $SL_PORT
taskmanager.host: 127.0.0.1
taskmanager.numberOfTaskSlots: 2
taskmanager.state.local.root-dirs: $root/tm-state
state.checkpoints.dir: file://$root/checkpoints
EOF
    sl_use "$root"
}

# sl_conf_set KEY VALUE: sets a flat key in the current cluster's sluice.yaml.
sl_conf_set() {
    local f="$SL_CONF/sluice.yaml"
    awk -v k="$1:" '$1 != k' "$f" >"$f.new"
    echo "$1: $2" >>"$f.new"
    mv -f "$f.new" "$f"
}

# sl_env CMD...: runs CMD with the current cluster's folders in the environment.
sl_env() {
    SLUICE_CONF_DIR="$SL_CONF" SLUICE_LOG_DIR="$SL_LOG" SLUICE_PID_DIR="$SL_PIDDIR" "$@" {SL_FD_OUT}>&- {SL_FD_ERR}>&-
}

# sl_script NAME ARGS...: runs scripts/NAME for the current cluster.
sl_script() {
    local name="$1"
    shift
    sl_env "$SL_SCRIPTS/$name" "$@"
}

# sl_start_cluster N: conf/masters = localhost, conf/workers = N x localhost,
# then scripts/start-cluster.sh (which waits until N taskmanagers are RUNNING).
sl_start_cluster() {
    local n="$1" i
    echo localhost >"$SL_CONF/masters"
    : >"$SL_CONF/workers"
    for ((i = 0; i < n; i++)); do echo localhost >>"$SL_CONF/workers"; done
    sl_run sl_script start-cluster.sh
    [ "$SL_RC" -eq 0 ] || fail "start-cluster.sh exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
}

# sl_cli ARGS...: the CLI with the current cluster's configuration (-c).
sl_cli() {
    timeout --foreground -k 5 "$SL_CLI_TIMEOUT" "$SL_BIN/sluice" -c "$SL_CONF" "$@"
}

# sl_pidfile_pids ROLE: pids listed in the current cluster's pid file of ROLE.
sl_pidfile_pids() {
    local f="$SL_PIDDIR/sluice-$SL_USER-$1.pid"
    [ -f "$f" ] || return 0
    grep -E '^[0-9]+$' "$f" || true
}

# ------------------------------------------------------------------- jobs

# sl_submit_detached JOBFILE [RUN-OPTIONS...]: `sluice run -d`; sets SL_JOBID.
sl_submit_detached() {
    local file="$1"
    shift
    sl_run sl_cli run -d "$@" "$file"
    [ "$SL_RC" -eq 0 ] || fail "sluice run -d $* $file exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    SL_JOBID="$(sl_jobid_of "$SL_OUT")"
    [ -n "$SL_JOBID" ] || fail "sluice run -d printed no 'Job has been submitted with JobID <32 hex>':"$'\n'"$SL_OUT"
}

# sl_jobid_of TEXT: the JobID of a "Job has been submitted with JobID" line.
sl_jobid_of() {
    sed -n -E 's/^Job has been submitted with JobID ([0-9a-f]{32})$/\1/p' <<<"$1" | head -n 1
}

# sl_info JOBID: `sluice info` into SL_RC/SL_OUT/SL_ERR; prints nothing.
sl_info() {
    sl_run sl_cli info "$1"
}

# sl_field TEXT NAME: value of the "NAME: value" line of TEXT.
sl_field() {
    awk -v k="$2:" '$1 == k { sub(/^[ \t]*[^ \t]+[ \t]+/, ""); print; exit }' <<<"$1"
}

# sl_job_state JOBID: prints the job's state (empty when info fails).
sl_job_state() {
    sl_info "$1"
    [ "$SL_RC" -eq 0 ] || return 0
    sl_field "$SL_OUT" state
}

# sl_job_state_is JOBID STATE: for wait_for; leaves the info output in SL_OUT.
sl_job_state_is() {
    local s
    sl_info "$1"
    s="$(sl_field "$SL_OUT" state)"
    echo "info exit $SL_RC, state ${s:-?} (want $2): $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] && [ "$s" = "$2" ]
}

# sl_tasks TEXT: the "task ..." lines of an info output, leading blanks removed.
sl_tasks() {
    awk '$1 == "task" { sub(/^[ \t]+/, ""); print }' <<<"$1"
}

# sl_job_deployed JOBID: the job is RUNNING and every task line is RUNNING
# or FINISHED (a source subtask with nothing to read may end early), so the
# placement is final; for wait_for, leaves the info output in SL_OUT.
sl_job_deployed() {
    local tasks
    sl_info "$1"
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] || return 1
    [ "$(sl_field "$SL_OUT" state)" = RUNNING ] || return 1
    tasks="$(sl_tasks "$SL_OUT")"
    [ -n "$tasks" ] || return 1
    awk '$4 == "RUNNING" { running = 1 } $4 != "RUNNING" && $4 != "FINISHED" { bad = 1 }
         END { exit bad || !running }' <<<"$tasks"
}

# sl_write_file_job FILE NAME INPUT OUTDIR PARALLELISM [SOURCE-EXTRA-YAML] [CONFIG-YAML]
# Writes the wordcount-shaped job used by the tests: file source -> tokenize
# -> count key-by word -> file sink (csv). SOURCE-EXTRA-YAML are lines added to
# the source stage (e.g. "    rate: 1000"); CONFIG-YAML lines go under config:.
sl_write_file_job() {
    local file="$1" name="$2" input="$3" out="$4" p="$5" extra="${6:-}" config="${7:-}"
    {
        echo "name: $name"
        echo "parallelism: $p"
        if [ -n "$config" ]; then
            echo "config:"
            echo "$config"
        fi
        echo "pipeline:"
        echo "  - name: lines"
        echo "    source: file"
        echo "    path: $input"
        [ -z "$extra" ] || echo "$extra"
        echo "  - name: words"
        echo "    operator: tokenize"
        echo "  - name: counts"
        echo "    operator: count"
        echo "    key-by: word"
        echo "  - name: out"
        echo "    sink: file"
        echo "    path: $out"
        echo "    format: csv"
    } >"$file"
}
