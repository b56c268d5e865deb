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
# Recovery tests (see the helpers after "input and output"):
#   sl_recovery_cluster 3          # 3 taskmanagers with 1 slot each, started
#   sl_wordcount_setup BYTES SECS  # input, reference count, sink folder, rate
#   sl_kill_counts_tm JOBID KILL   # signal the taskmanager of a counts subtask
#   sl_wait_restart JOBID ATTEMPT  # RUNNING again in a later attempt
#   sl_wait_job_end JOBID FINISHED
#   sl_check_exactly_once OUTDIR REFERENCE   # (or sl_check_at_least_once)
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

# assert_ge MIN ACTUAL [WHAT]  (ACTUAL is a whole number >= MIN)
assert_ge() {
    if [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "$1" ]; then return 0; fi
    fail "${3:-value}: expected a number >= $1, got '$2'"
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

# ------------------------------------------------------- input and output

# sl_gen_text FILE BYTES [SEED]: writes about BYTES of deterministic text:
# lines of 0-15 words drawn (Park-Miller, fixed seed) from a list of mixed
# case words with digits, punctuation and UTF-8, plus ~1500 generated words
# of skewed frequency, with assorted separators and a few CRLF line ends.
sl_gen_text() {
    local file="$1" bytes="$2" seed="${3:-4242}"
    LC_ALL=C awk -v seed="$seed" -v target="$bytes" '
    BEGIN {
        n = split("the quick brown fox jumps over a lazy dog The QUICK Brown FOX " \
            "stream Stream STREAM sluice Sluice flink Flink checkpoint barrier " \
            "watermark window key-by don'"'"'t it'"'"'s e-mail U.S.A. C3PO r2-d2 x86_64 " \
            "42 007 3.14159 1,000,000 v1.2.3 HTTP/1.1 user@example.com #tag 50% " \
            "\"quoted\" semi;colon a|b under_score MiXeD CamelCase café naïve Straße " \
            "zebra Zebra ZEBRA zzz9 9zzz end. end, end! end?", W, " ")
        x = seed
        written = 0
        while (written < target) {
            x = (x * 16807) % 2147483647; nw = x % 16
            line = ""
            for (i = 0; i < nw; i++) {
                x = (x * 16807) % 2147483647
                if (x % 3 == 0) {
                    x = (x * 16807) % 2147483647; w = W[1 + x % n]
                } else {
                    # skewed: small numbers far more often than large ones
                    x = (x * 16807) % 2147483647; r = x % 1500
                    x = (x * 16807) % 2147483647; r = r % (1 + x % 1500)
                    w = ((r % 2) ? "Word" : "w") r
                }
                x = (x * 16807) % 2147483647; s = x % 10
                sep = (s < 6) ? " " : (s == 6) ? "  " : (s == 7) ? "\t" : (s == 8) ? ", " : " - "
                line = line (i ? sep : "") w
            }
            x = (x * 16807) % 2147483647
            eol = (x % 50 == 0) ? "\r\n" : "\n"
            printf "%s%s", line, eol
            written += length(line) + length(eol)
        }
    }' >"$file"
}

# sl_reference TEXT OUT: the reference word count of TEXT as "word N" lines
# (C-sorted): ASCII letters lower-cased, every byte not a-z/0-9 separates.
sl_reference() {
    # shellcheck disable=SC2018,SC2019  # ASCII only, on purpose
    LC_ALL=C tr 'A-Z' 'a-z' <"$1" | LC_ALL=C tr -cs 'a-z0-9' '\n' | grep -v '^$' |
        LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' | LC_ALL=C sort >"$2"
}

# sl_rate_for TEXT SECONDS: a source `rate` (lines/s) that reads TEXT in
# about SECONDS seconds.
sl_rate_for() {
    local lines
    lines="$(wc -l <"$1")"
    echo $(((lines + $2 - 1) / $2))
}

# sl_check_output MODE OUTDIR REFERENCE: checks a word-count file sink's
# committed output against the reference (sl_reference). MODE exactly-once:
# for every word the emitted counts are exactly 1..N, each once, N its
# reference count. MODE at-least-once: every value 1..N appears at least once
# per word (duplicates and values above N allowed). Both: no hidden
# (in-progress) file left, at least one part-* file, every row `word,count`,
# no word the reference lacks. Fails the test with the first problems; prints
# a one-line summary on success.
sl_check_output() {
    local mode="$1" out="$2" ref="$3" work hidden bad summary
    local -a parts=()
    case "$mode" in exactly-once | at-least-once) ;; *) fail "sl_check_output: bad mode '$mode'" ;; esac
    work="$(mktemp -d "$SL_TMP/check.XXXXXX")"
    [ -d "$out" ] || fail "sink folder $out does not exist"
    hidden="$(find "$out" -mindepth 1 -name '.*' | head -n 10)"
    [ -z "$hidden" ] || fail "hidden (in-progress) files left in the sink folder:"$'\n'"$hidden"$'\n'"$(find "$out" -maxdepth 1 | head -n 30)"
    mapfile -t parts < <(find "$out" -type f -name 'part-*' | LC_ALL=C sort)
    [ "${#parts[@]}" -ge 1 ] || fail "no part-* files in $out: $(ls -la "$out")"
    cat "${parts[@]}" >"$work/emitted.csv"
    bad="$(LC_ALL=C grep -nEv '^[a-z0-9]+,[1-9][0-9]*$' "$work/emitted.csv" | head -n 5 || true)"
    [ -z "$bad" ] || fail "part files hold lines that are not 'word,count' (line:text of the concatenation):"$'\n'"$bad"
    LC_ALL=C sort -t, -k1,1 -k2,2n "$work/emitted.csv" >"$work/sorted.csv"
    if ! summary="$(LC_ALL=C awk -v mode="$mode" -v nparts="${#parts[@]}" '
        function err(msg) { if (nerr++ < 8) print msg > "/dev/stderr" }
        # end of the rows of word w: need-1 = highest value of the run 1, 2, ...
        function close_word() {
            if (!(w in ref)) { err(sprintf("word %s (emitted %d rows) is not in the input", w, rows)); return }
            seen[w] = 1; nseen++
            if (mode == "exactly-once") {
                if (need - 1 != ref[w])
                    err(sprintf("word %s: emitted counts end at %d (rows %d), the input holds it %d times", w, need - 1, rows, ref[w]))
            } else if (need - 1 < ref[w]) {
                err(sprintf("word %s: count %d never emitted (the input holds it %d times): a record was lost", w, need, ref[w]))
            }
        }
        FNR == NR { ref[$1 ""] = $2 + 0; nref++; next }
        {
            split($0, f, ","); k = f[1] ""; v = f[2] + 0; total++
            if (!started || k != w) { if (started) close_word(); w = k; need = 1; rows = 0; started = 1 }
            rows++
            if (v == need) need++
            else if (v < need) {
                dups++
                if (mode == "exactly-once") err(sprintf("word %s: count %d emitted more than once", w, v))
            } else if (mode == "exactly-once" || need - 1 < ref[w]) {
                err(sprintf("word %s: count %d emitted but count %d never was", w, v, need))
                need = v + 1
            }
        }
        END {
            if (started) close_word()
            for (r in ref) if (!(r in seen)) { missing++; err(sprintf("word %s (%d times in the input) never emitted", r, ref[r])) }
            printf "%d part files, %d rows, %d words (reference %d), %d duplicate rows, %d words missing", nparts, total, nseen, nref, dups, missing
            exit nerr > 0
        }' "$ref" "$work/sorted.csv" 2>"$work/errors")"; then
        fail "output is not $mode ($(wc -l <"$work/errors") problems; first ones):"$'\n'"$(cat "$work/errors")"$'\n'"$summary"
    fi
    echo "output is $mode: $summary"
}

# sl_check_exactly_once OUTDIR REFERENCE
sl_check_exactly_once() {
    sl_check_output exactly-once "$@"
}

# sl_check_at_least_once OUTDIR REFERENCE
sl_check_at_least_once() {
    sl_check_output at-least-once "$@"
}

# sl_corrupt_file FILE: flips (inverts) up to 8 bytes in the middle of FILE.
sl_corrupt_file() {
    local file="$1" size off len b bytes="" esc=""
    size="$(stat -c %s "$file")"
    [ "$size" -gt 0 ] || fail "cannot corrupt the empty file $file"
    off=$((size / 2))
    len=$((size - off < 8 ? size - off : 8))
    cp -p "$file" "$SL_TMP/.corrupt.orig"
    bytes="$(od -An -tu1 -v -j "$off" -N "$len" "$file")"
    for b in $bytes; do esc+="$(printf '\\%03o' $((255 - b)))"; done
    # shellcheck disable=SC2059  # the format is the escaped bytes
    printf "$esc" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
    ! cmp -s "$file" "$SL_TMP/.corrupt.orig" || fail "sl_corrupt_file: $file unchanged"
    [ "$(stat -c %s "$file")" = "$size" ] || fail "sl_corrupt_file: size of $file changed"
    rm -f "$SL_TMP/.corrupt.orig"
    echo "corrupted $len bytes at offset $off of $file ($size bytes)"
}

# ------------------------------------------------------------ job states

# sl_line_value TEXT PREFIX: the rest of the first line "PREFIX: rest".
sl_line_value() {
    awk -v p="$2: " 'index($0, p) == 1 { print substr($0, length(p) + 1); exit }' <<<"$1"
}

# sl_wait_job_end JOBID EXPECTED [SECONDS]: waits (bound SECONDS [180]) until
# the job is in a terminal state (FINISHED, FAILED, CANCELED); fails unless it
# is EXPECTED. Leaves the final info output in SL_INFO.
sl_wait_job_end() {
    local jobid="$1" want="$2" t="${3:-180}" s
    wait_for -t "$t" sl__job_ended "$jobid"
    SL_INFO="$SL_OUT"
    s="$(sl_field "$SL_INFO" state)"
    [ "$s" = "$want" ] || fail "job $jobid ended $s, expected $want; info:"$'\n'"$SL_INFO"
    echo "job $jobid is $s"
}

# sl__job_ended JOBID: for wait_for: the job is FINISHED, FAILED or CANCELED.
sl__job_ended() {
    local s
    sl_info "$1"
    s="$(sl_field "$SL_OUT" state)"
    echo "info exit $SL_RC, state ${s:-?}: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    case "$s" in FINISHED | FAILED | CANCELED) return 0 ;; *) return 1 ;; esac
}

# sl_job_running_now JOBID: fails the test unless the job is RUNNING (so a
# kill hits a running job, not one that already finished). Leaves info in SL_OUT.
sl_job_running_now() {
    sl_info "$1"
    assert_eq 0 "$SL_RC" "exit code of 'sluice info $1' (stderr: $SL_ERR)"
    [ "$(sl_field "$SL_OUT" state)" = RUNNING ] ||
        fail "job $1 is not RUNNING any more (input too short for this test?):"$'\n'"$SL_OUT"
}

# sl_checkpoints JOBID: `sluice checkpoints` into SL_RC/SL_OUT/SL_ERR.
sl_checkpoints() {
    sl_run sl_cli checkpoints "$1"
}

# sl_ckpt_count TEXT NAME: a counter (triggered, in progress, completed,
# failed, restored) of a `sluice checkpoints` output; empty if absent.
sl_ckpt_count() {
    sl_line_value "$1" "$2"
}

# sl_ckpt_latest TEXT: "<id> <uri>" of the `latest completed:` line, or "none".
sl_ckpt_latest() {
    sl_line_value "$1" "latest completed"
}

# sl_ckpt_completed_at_least JOBID N: for wait_for; leaves the output in SL_OUT.
sl_ckpt_completed_at_least() {
    local c
    sl_checkpoints "$1"
    echo "checkpoints exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    c="$(sl_ckpt_count "$SL_OUT" completed)"
    [[ "$c" =~ ^[0-9]+$ ]] && [ "$c" -ge "$2" ]
}

# sl_ckpt_latest_id_above JOBID ID: for wait_for: the latest completed
# checkpoint's id is above ID. Leaves the output in SL_OUT.
sl_ckpt_latest_id_above() {
    local l id
    sl_checkpoints "$1"
    echo "checkpoints exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    l="$(sl_ckpt_latest "$SL_OUT")"
    id="${l%% *}"
    [[ "$id" =~ ^[0-9]+$ ]] && [ "$id" -gt "$2" ]
}

# sl_latest_ckpt_id JOBID: prints the latest completed checkpoint id (0 if none).
sl_latest_ckpt_id() {
    local l
    sl_checkpoints "$1"
    [ "$SL_RC" -eq 0 ] || fail "'sluice checkpoints $1' exited $SL_RC: $SL_OUT $SL_ERR"
    l="$(sl_ckpt_latest "$SL_OUT")"
    [ -n "$l" ] || fail "'sluice checkpoints $1' has no 'latest completed:' line:"$'\n'"$SL_OUT"
    if [ "$l" = none ]; then echo 0; else echo "${l%% *}"; fi
}

# sl_trigger_checkpoint JOBID: `sluice checkpoint JOBID`; must succeed; sets
# SL_CKPT_ID and SL_CKPT_URI from "Checkpoint <id> for job <jobid> completed. Path: <uri>".
sl_trigger_checkpoint() {
    local line
    sl_run sl_cli checkpoint "$1"
    [ "$SL_RC" -eq 0 ] || fail "'sluice checkpoint $1' exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    line="$(grep -E "^Checkpoint [0-9]+ for job $1 completed\. Path: [^ ]+$" <<<"$SL_OUT" | head -n 1 || true)"
    [ -n "$line" ] || fail "'sluice checkpoint $1' printed no 'Checkpoint <id> for job $1 completed. Path: <uri>':"$'\n'"$SL_OUT"
    SL_CKPT_ID="$(awk '{ print $2 }' <<<"$line")"
    SL_CKPT_URI="${line##* }"
    echo "checkpoint $SL_CKPT_ID completed: $SL_CKPT_URI"
}

# sl_uri_path URI: the path of a file:// URI (or a plain path), no trailing /.
sl_uri_path() {
    local p="${1#file://}"
    while [ "${#p}" -gt 1 ] && [ "${p%/}" != "$p" ]; do p="${p%/}"; done
    echo "$p"
}

# ------------------------------------------------------ taskmanagers

# sl_task_tm INFO STAGE [SUBTASK]: tm-id of a RUNNING subtask of the chain
# holding STAGE (e.g. counts), the given subtask index or the first one.
sl_task_tm() {
    awk -v st="$2" -v sub_="${3:-}" '
        $1 == "task" && $4 == "RUNNING" {
            n = split($2, names, "+"); hit = 0
            for (i = 1; i <= n; i++) if (names[i] == st) hit = 1
            split($3, idx, "/")
            if (hit && (sub_ == "" || idx[1] == sub_)) { print $5; exit }
        }' <<<"$1"
}

# sl_task_of_tm INFO TM STAGE: "<chain> <i>/<P>" of the RUNNING subtask of
# STAGE's chain on taskmanager TM.
sl_task_of_tm() {
    awk -v tm="$2" -v st="$3" '
        $1 == "task" && $4 == "RUNNING" && $5 == tm {
            n = split($2, names, "+")
            for (i = 1; i <= n; i++) if (names[i] == st) { print $2, $3; exit }
        }' <<<"$1"
}

# sl_tm_pid TM: the pid `sluice taskmanagers` lists for TM, checked to be a
# live sluice-taskmanager of this cluster's pid file.
sl_tm_pid() {
    local tm="$1" pid
    sl_run sl_cli taskmanagers
    [ "$SL_RC" -eq 0 ] || fail "'sluice taskmanagers' exited $SL_RC: $SL_ERR"
    pid="$(awk -v tm="$tm" '$1 == tm { print $3; exit }' <<<"$SL_OUT")"
    [ -n "$pid" ] || fail "taskmanager $tm is not listed by 'sluice taskmanagers':"$'\n'"$SL_OUT"
    grep -qx "$pid" < <(sl_pidfile_pids taskmanager) || fail "pid $pid of $tm is not in this cluster's taskmanager pid file"
    sl_pid_is_sluice "$pid" taskmanager || fail "pid $pid of $tm is not a live sluice-taskmanager"
    echo "$pid"
}

# sl_signal_tm SIGNAL TM: sends SIGNAL (KILL, STOP, ...) to taskmanager TM;
# sets SL_SIGNALLED_PID and SL_KILL_MS (the time just before the signal).
sl_signal_tm() {
    local sig="$1" tm="$2"
    SL_SIGNALLED_PID="$(sl_tm_pid "$tm")" || exit 1
    echo "sending SIG$sig to taskmanager $tm (pid $SL_SIGNALLED_PID) at $(date +%T.%N | cut -c1-12)"
    SL_KILL_MS="$(sl__now_ms)"
    kill -s "$sig" "$SL_SIGNALLED_PID"
}

# sl_kill_counts_tm JOBID [SIGNAL] [STAGE]: SIGNAL [KILL] to the taskmanager
# of a RUNNING subtask of STAGE [counts] of the RUNNING job. Sets SL_VICTIM_TM,
# SL_SIGNALLED_PID, SL_PREV_ATTEMPT (the job's attempt before the signal) and
# SL_VICTIM_TASK ("<chain> <i>/<P>").
sl_kill_counts_tm() {
    local jobid="$1" sig="${2:-KILL}" stage="${3:-counts}"
    wait_for sl_job_deployed "$jobid"
    sl_job_running_now "$jobid"
    SL_PREV_ATTEMPT="$(sl_field "$SL_OUT" attempt)"
    [[ "$SL_PREV_ATTEMPT" =~ ^[0-9]+$ ]] || fail "info has no 'attempt: N' line:"$'\n'"$SL_OUT"
    SL_VICTIM_TM="$(sl_task_tm "$SL_OUT" "$stage")"
    [ -n "$SL_VICTIM_TM" ] || fail "no RUNNING '$stage' subtask in the task lines of info:"$'\n'"$SL_OUT"
    SL_VICTIM_TASK="$(sl_task_of_tm "$SL_OUT" "$SL_VICTIM_TM" "$stage")"
    echo "taskmanager $SL_VICTIM_TM runs $SL_VICTIM_TASK (attempt $SL_PREV_ATTEMPT)"
    sl_signal_tm "$sig" "$SL_VICTIM_TM"
}

# sl_pid_gone PID: for wait_for: PID is no live process (zombies count as gone).
sl_pid_gone() {
    ! sl_pid_alive "$1"
}

# sl_running_tms: number of RUNNING taskmanagers.
sl_running_tms() {
    sl_run sl_cli taskmanagers
    [ "$SL_RC" -eq 0 ] || return 1
    awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l
}

# sl_tm_pid_running PID: for wait_for: a RUNNING taskmanager has this pid.
sl_tm_pid_running() {
    sl_run sl_cli taskmanagers
    echo "$SL_OUT"
    [ "$SL_RC" -eq 0 ] && awk -v p="$1" '$3 == p && $6 == "RUNNING" { ok = 1 } END { exit !ok }' <<<"$SL_OUT"
}

# sl_add_taskmanager: `scripts/taskmanager.sh start` for the current cluster,
# then waits until the new one is registered RUNNING. Sets SL_NEW_TM_PID.
sl_add_taskmanager() {
    sl_run sl_script taskmanager.sh start
    [ "$SL_RC" -eq 0 ] || fail "taskmanager.sh start exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    SL_NEW_TM_PID="$(sed -n -E 's/.*\(pid ([0-9]+)\).*/\1/p' <<<"$SL_OUT" | head -n 1)"
    [ -n "$SL_NEW_TM_PID" ] || fail "taskmanager.sh start printed no '(pid N)':"$'\n'"$SL_OUT"
    wait_for sl_tm_pid_running "$SL_NEW_TM_PID"
    echo "started a replacement taskmanager (pid $SL_NEW_TM_PID)"
}

# sl_wait_restart JOBID PREV_ATTEMPT [SECONDS]: after a failure, waits (bound
# SECONDS [120]) until the job is RUNNING again in an attempt above
# PREV_ATTEMPT with every task deployed; fails at once if the job ends. Logs
# the states it sees. Sets SL_INFO (the last info), SL_SAW_RESTARTING (1 if
# RESTARTING was seen) and SL_RESTART_WINDOW_MS: from the later of SL_KILL_MS
# (if set) and the start of the last poll that showed the old attempt in a
# state other than RESTARTING, to the end of the first poll that showed
# RUNNING again: a window that contains the whole RESTARTING period.
# SL_FAILURE_SEEN_MS: end of the first poll that showed the job out of
# RUNNING in attempt PREV_ATTEMPT (the failure was noticed by then).
sl_wait_restart() {
    local jobid="$1" prev="$2" t="${3:-120}" deadline t0 t1 s a last="" tasks
    local before_ms="${SL_KILL_MS:-}" first_restarting=""
    SL_SAW_RESTARTING=0
    SL_RESTART_WINDOW_MS=""
    SL_FAILURE_SEEN_MS=""
    deadline=$(($(sl__now_ms) + t * 1000))
    while :; do
        t0="$(sl__now_ms)"
        sl_info "$jobid"
        t1="$(sl__now_ms)"
        s="" a=""
        if [ "$SL_RC" -eq 0 ]; then
            s="$(sl_field "$SL_OUT" state)"
            a="$(sl_field "$SL_OUT" attempt)"
        fi
        if [ $((t1 - t0)) -gt 1000 ]; then echo "  (sluice info took $((t1 - t0)) ms)"; fi
        if [ -z "$SL_FAILURE_SEEN_MS" ] && [ -n "$s" ] && { [ "$s" != RUNNING ] || [ "$a" != "$prev" ]; }; then
            SL_FAILURE_SEEN_MS="$t1"
        fi
        if [ "$s/$a" != "$last" ]; then
            echo "  $(date +%T.%N | cut -c1-12) state ${s:-?} attempt ${a:-?}"
            last="$s/$a"
        fi
        case "$s" in
            FINISHED | FAILED | CANCELED)
                fail "job $jobid ended $s while waiting for it to restart after attempt $prev; info:"$'\n'"$SL_OUT"
                ;;
            RESTARTING)
                SL_SAW_RESTARTING=1
                [ -n "$first_restarting" ] || first_restarting="$t0"
                ;;
            "") ;;
            *)
                # A state other than RESTARTING before the restart was seen.
                if [ -z "$first_restarting" ] && [ "$a" = "$prev" ]; then before_ms="$t0"; fi
                ;;
        esac
        if [ "$s" = RUNNING ] && [[ "$a" =~ ^[0-9]+$ ]] && [ "$a" -gt "$prev" ]; then
            tasks="$(sl_tasks "$SL_OUT")"
            if [ -n "$tasks" ] && awk '$4 == "RUNNING" { r = 1 } $4 != "RUNNING" && $4 != "FINISHED" { bad = 1 } END { exit bad || !r }' <<<"$tasks"; then
                SL_INFO="$SL_OUT"
                if [ -n "$before_ms" ]; then SL_RESTART_WINDOW_MS=$((t1 - before_ms)); fi
                echo "  job is RUNNING again in attempt $a (restarts: $(sl_field "$SL_OUT" restarts); $(grep -E '^restored from:' <<<"$SL_OUT" || echo 'no restored from line'))"
                return 0
            fi
        fi
        if [ "$(sl__now_ms)" -ge "$deadline" ]; then
            fail "timed out after $t s waiting for job $jobid to run again after attempt $prev; last info:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
        fi
        sleep 0.1
    done
}

# sl_recovery_cluster N [KEY VALUE]...: a new cluster of N taskmanagers with 1
# slot each (further sluice.yaml keys as pairs), started.
sl_recovery_cluster() {
    local n="$1"
    shift
    sl_new_cluster
    sl_conf_set taskmanager.numberOfTaskSlots 1
    while [ "$#" -ge 2 ]; do
        sl_conf_set "$1" "$2"
        shift 2
    done
    sl_start_cluster "$n"
}

# sl_wordcount_setup BYTES SECONDS [SEED]: generates the input
# ($SL_DATA/words.txt, about BYTES), its reference ($SL_DATA/reference.txt)
# and the sink folder ($SL_DATA/out); sets SL_TEXT, SL_REF, SL_OUTDIR and
# SL_RATE (lines/s for a run of about SECONDS s).
sl_wordcount_setup() {
    SL_TEXT="$SL_DATA/words.txt"
    SL_REF="$SL_DATA/reference.txt"
    SL_OUTDIR="$SL_DATA/out"
    sl_gen_text "$SL_TEXT" "$1" "${3:-4242}"
    sl_reference "$SL_TEXT" "$SL_REF"
    mkdir -p "$SL_OUTDIR"
    SL_RATE="$(sl_rate_for "$SL_TEXT" "$2")"
    echo "input: $(stat -c %s "$SL_TEXT") bytes, $(wc -l <"$SL_TEXT") lines, $(awk '{ t += $2 } END { print t }' "$SL_REF") words, $(wc -l <"$SL_REF") distinct; rate $SL_RATE lines/s"
}

# sl_ckpt_job_dir JOBID: the job's checkpoint folder under the cluster's
# state.checkpoints.dir.
sl_ckpt_job_dir() {
    echo "$SL_ROOT/checkpoints/$1"
}

# sl_chk_folders DIR: the chk-<n> folder names in DIR, by number.
sl_chk_folders() {
    find "$1" -mindepth 1 -maxdepth 1 -type d -name 'chk-*' -printf '%f\n' 2>/dev/null | sort -t- -k2,2n
}

# ------------------------------------------------------ savepoints

# sl_savepoint_line TEXT: the URI of the "Savepoint completed. Path: <uri>"
# line of TEXT (empty if none).
sl_savepoint_line() {
    sed -n -E 's/^Savepoint completed\. Path: (file:\/\/[^ ]+)$/\1/p' <<<"$1" | head -n 1
}

# sl_check_savepoint_folder PATH: PATH is a self-contained savepoint folder:
# a _metadata file and state files (*.state) only, no link, no subfolder.
sl_check_savepoint_folder() {
    local dir="$1" odd
    [ -f "$dir/_metadata" ] || fail "savepoint folder $dir has no _metadata: $(ls -la "$dir" 2>&1)"
    odd="$(find "$dir" -mindepth 1 \( ! -type f -o ! \( -name _metadata -o -name '*.state' \) \) | head -n 5)"
    [ -z "$odd" ] || fail "savepoint folder $dir holds more than _metadata and state files:"$'\n'"$odd"
}

# sl_stop_job JOBID [DIR]: `sluice stop [-p DIR] JOBID` must succeed, print
# the savepoint's path and leave the job FINISHED. Sets SL_SP (plain path of
# the savepoint folder, checked to be self-contained).
sl_stop_job() {
    local uri
    if [ -n "${2:-}" ]; then sl_run sl_cli stop -p "$2" "$1"; else sl_run sl_cli stop "$1"; fi
    [ "$SL_RC" -eq 0 ] || fail "'sluice stop $1' exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    uri="$(sl_savepoint_line "$SL_OUT")"
    [ -n "$uri" ] || fail "'sluice stop $1' printed no 'Savepoint completed. Path: file://...':"$'\n'"$SL_OUT"
    SL_SP="$(sl_uri_path "$uri")"
    sl_check_savepoint_folder "$SL_SP"
    sl_wait_job_end "$1" FINISHED 60
    echo "job $1 stopped with savepoint $SL_SP"
}

# sl_savepoint JOBID [DIR]: `sluice savepoint JOBID [DIR]` must succeed; sets
# SL_SP like sl_stop_job (the job keeps running).
sl_savepoint() {
    local uri
    sl_run sl_cli savepoint "$@"
    [ "$SL_RC" -eq 0 ] || fail "'sluice savepoint $*' exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    uri="$(sl_savepoint_line "$SL_OUT")"
    [ -n "$uri" ] || fail "'sluice savepoint $*' printed no 'Savepoint completed. Path: file://...':"$'\n'"$SL_OUT"
    SL_SP="$(sl_uri_path "$uri")"
    sl_check_savepoint_folder "$SL_SP"
    echo "savepoint of job $1: $SL_SP"
}

# sl_restored_from_is JOBID PATH: `sluice info` names PATH as the restore point.
sl_restored_from_is() {
    local r
    sl_info "$1"
    r="$(sl_line_value "$SL_OUT" "restored from")"
    [[ "$r" =~ ^[0-9]+\ file://(.*)$ ]] || fail "info of job $1 has no 'restored from: <id> file://...' line:"$'\n'"$SL_OUT"
    assert_eq "$2" "$(sl_uri_path "${BASH_REMATCH[1]}")" "restored-from folder of job $1"
}
