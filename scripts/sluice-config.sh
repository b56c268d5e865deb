#!/usr/bin/env bash
# Shared settings and helpers for the Sluice scripts. Sourced, never run.
#
# Resolves (each may be set in the environment beforehand):
#   SLUICE_HOME      the checkout or install: the parent of this scripts/ folder
#   SLUICE_CONF_DIR  [$SLUICE_HOME/conf]   sluice.yaml, workers, masters
#   SLUICE_LOG_DIR   [$SLUICE_HOME/log]    sluice-jobmanager.log, sluice-taskmanager-N.log
#   SLUICE_PID_DIR   [/tmp]                sluice-$USER-jobmanager.pid, sluice-$USER-taskmanager.pid
#   SLUICE_BIN_DIR   [$SLUICE_HOME/build/bin]  sluice-jobmanager, sluice-taskmanager, sluice
#   SLUICE_STOP_GRACE [10]  seconds between SIGTERM and SIGKILL when stopping
#   SLUICE_SSH_OPTS  extra options for ssh to remote hosts (word-split)
#
# Pid files hold one pid per line (like Flink's). A pid is only ever signalled
# when it is alive, not a zombie, and its /proc/<pid>/cmdline names the sluice
# binary of that role (guard against pid reuse).

# shellcheck disable=SC2034  # variables are used by the scripts sourcing this file

SLUICE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SLUICE_CONF_DIR="${SLUICE_CONF_DIR:-$SLUICE_HOME/conf}"
SLUICE_LOG_DIR="${SLUICE_LOG_DIR:-$SLUICE_HOME/log}"
SLUICE_PID_DIR="${SLUICE_PID_DIR:-/tmp}"
SLUICE_BIN_DIR="${SLUICE_BIN_DIR:-$SLUICE_HOME/build/bin}"
SLUICE_STOP_GRACE="${SLUICE_STOP_GRACE:-10}"
export SLUICE_HOME SLUICE_CONF_DIR SLUICE_LOG_DIR SLUICE_PID_DIR SLUICE_BIN_DIR

SLUICE_USER="${USER:-$(id -un 2>/dev/null || echo unknown)}"

sl_die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# Milliseconds since the epoch.
sl_now_ms() {
    local t="${EPOCHREALTIME:-}"
    if [ -n "$t" ]; then
        t="${t/[.,]/}"
        echo $((10#$t / 1000))
    else
        echo $(($(date +%s) * 1000))
    fi
}

# Binary of a role: jobmanager | taskmanager | cli.
sl_bin() {
    case "$1" in
        jobmanager) echo "$SLUICE_BIN_DIR/sluice-jobmanager" ;;
        taskmanager) echo "$SLUICE_BIN_DIR/sluice-taskmanager" ;;
        cli) echo "$SLUICE_BIN_DIR/sluice" ;;
        *) sl_die "internal error: unknown role '$1'" ;;
    esac
}

sl_pid_file() {
    echo "$SLUICE_PID_DIR/sluice-$SLUICE_USER-$1.pid"
}

# 0 if pid is a live (non-zombie) process whose command line names the
# sluice binary of the role (jobmanager | taskmanager).
sl_pid_is_role() {
    local pid="$1" role="$2" state arg
    local -a args=()
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Field 3 of /proc/<pid>/stat is the state; the comm field before it may
    # hold spaces, so cut after the last ')'.
    state="$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    case "$state" in Z | X | x | "") return 1 ;; esac
    mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do
        [ "${arg##*/}" = "sluice-$role" ] && return 0
    done
    return 1
}

# Prints the live pids of a role listed in its pid file, in file order.
sl_live_pids() {
    local role="$1" file pid
    file="$(sl_pid_file "$role")"
    [ -f "$file" ] || return 0
    while IFS= read -r pid || [ -n "$pid" ]; do
        pid="${pid//[[:space:]]/}"
        [ -n "$pid" ] || continue
        if sl_pid_is_role "$pid" "$role"; then echo "$pid"; fi
    done <"$file"
}

# Rewrites the pid file in place (same inode: it is also the start lock)
# with only its live pids.
sl_prune_pid_file() {
    local role="$1" file live
    file="$(sl_pid_file "$role")"
    [ -f "$file" ] || return 0
    live="$(sl_live_pids "$role")"
    if [ -n "$live" ]; then printf '%s\n' "$live" >"$file"; else : >"$file"; fi
}

# Removes the given pids from a role's pid file (removes the file when empty).
sl_pid_file_remove() {
    local role="$1" file pid p keep
    shift
    file="$(sl_pid_file "$role")"
    [ -f "$file" ] || return 0
    : >"$file.tmp.$$"
    while IFS= read -r pid || [ -n "$pid" ]; do
        pid="${pid//[[:space:]]/}"
        [ -n "$pid" ] || continue
        keep=1
        for p in "$@"; do [ "$p" = "$pid" ] && keep=0; done
        [ "$keep" = 1 ] && echo "$pid" >>"$file.tmp.$$"
    done <"$file"
    if [ -s "$file.tmp.$$" ]; then mv -f "$file.tmp.$$" "$file"; else rm -f "$file.tmp.$$" "$file"; fi
}

# Log file a new daemon of the role writes to: the first index N whose log
# no live daemon of this pid file is writing to (checked via
# /proc/<pid>/fd/1). Taskmanagers: sluice-taskmanager-N.log. Jobmanagers:
# sluice-jobmanager.log, then (a standby on the same host, with high
# availability) sluice-jobmanager-1.log, -2, ...
sl_new_log_file() {
    local role="$1" n pid target
    local -A used=()
    while IFS= read -r pid; do
        [ -n "$pid" ] || continue
        target="$(readlink "/proc/$pid/fd/1" 2>/dev/null)" || target=""
        if [[ "$target" =~ /sluice-taskmanager-([0-9]+)\.log$ ]] && [ "$role" = taskmanager ]; then
            used[${BASH_REMATCH[1]}]=1
        elif [[ "$target" =~ /sluice-jobmanager(-([0-9]+))?\.log$ ]] && [ "$role" = jobmanager ]; then
            used[${BASH_REMATCH[2]:-0}]=1
        fi
    done < <(sl_live_pids "$role")
    n=0
    while [ -n "${used[$n]:-}" ]; do n=$((n + 1)); done
    if [ "$role" = taskmanager ]; then
        echo "$SLUICE_LOG_DIR/sluice-taskmanager-$n.log"
    elif [ "$n" = 0 ]; then
        echo "$SLUICE_LOG_DIR/sluice-jobmanager.log"
    else
        echo "$SLUICE_LOG_DIR/sluice-jobmanager-$n.log"
    fi
}

# sl_conf_get KEY [DAEMON-ARGS...]: the value of KEY in
# $SLUICE_CONF_DIR/sluice.yaml, flat ("a.b: v") or in nested block mappings
# ("a:" then "  b: v"), the last one winning; a "-D KEY=value" among the
# arguments overrides it. Quotes around the value and comments after it are
# dropped; empty if unset. A reading for the scripts' own decisions (flow
# mappings "{...}" are not read): the daemons parse the file for real.
sl_conf_get() {
    local key="$1" v="" a k
    shift
    if [ -f "$SLUICE_CONF_DIR/sluice.yaml" ]; then
        v="$(KEY="$key" awk '
            function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
            /^[ \t]*(#|$)/ || /^(---|\.\.\.)/ { next }
            {
                match($0, /^[ \t-]*/); ind = RLENGTH; rest = substr($0, ind + 1)
                if (!match(rest, /^[A-Za-z0-9_.-]+[ \t]*:([ \t]|$)/)) next
                k = rest; sub(/[ \t]*:.*$/, "", k)
                val = trim(substr(rest, RLENGTH + 1)); quoted = 0
                q = substr(val, 1, 1)
                if (q == "\"" || q == "'"'"'") {
                    e = index(substr(val, 2), q)
                    if (e > 0) { val = substr(val, 2, e - 1); quoted = 1 }
                } else {
                    sub(/[ \t]+#.*$/, "", val); sub(/^#.*$/, "", val)
                }
                while (n > 0 && ind_[n] >= ind) n--
                full = k
                for (i = n; i >= 1; i--) full = key_[i] "." full
                if (val == "" && !quoted) { n++; ind_[n] = ind; key_[n] = k }
                else if (full == ENVIRON["KEY"]) out = val
            }
            END { print out }' "$SLUICE_CONF_DIR/sluice.yaml" 2>/dev/null)" || v=""
    fi
    while [ "$#" -gt 0 ]; do
        case "$1" in
            -D) a="${2:-}"; shift $(($# >= 2 ? 2 : 1)) ;;
            -D?*) a="${1#-D}"; shift ;;
            *) shift; continue ;;
        esac
        k="${a%%=*}"
        k="${k//[[:space:]]/}"
        if [ "$k" = "$key" ]; then
            v="${a#*=}"
            v="${v#"${v%%[![:space:]]*}"}"
            v="${v%"${v##*[![:space:]]}"}"
        fi
    done
    echo "$v"
}

# 0 if high-availability.type is zookeeper (sl_conf_get; DAEMON-ARGS may
# override it).
sl_ha_enabled() {
    [ "$(sl_conf_get high-availability.type "$@")" = zookeeper ]
}

# Starts a daemon of the role in the background (it runs in the foreground
# itself: nng forbids forking after start, so this script backgrounds it),
# appends its pid to the pid file and reports it. Extra arguments go to the
# daemon (e.g. -D key=value). If SLUICE_STARTED_FILE is set, appends
# "<role> <pid> <log>" to it (used by start-cluster.sh).
sl_start_daemon() {
    local role="$1" bin file log pid lockfd live
    shift
    bin="$(sl_bin "$role")"
    [ -x "$bin" ] || sl_die "cannot start the $role: $bin not found or not executable (build with 'make', or set SLUICE_BIN_DIR)"
    mkdir -p "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR" || sl_die "cannot create $SLUICE_LOG_DIR or $SLUICE_PID_DIR"
    file="$(sl_pid_file "$role")"
    # Serialise starts that share a pid file. The lock fd is closed for the
    # daemon so it does not hold the lock for its whole life.
    exec {lockfd}>>"$file" || sl_die "cannot write pid file $file"
    if command -v flock >/dev/null 2>&1; then flock "$lockfd"; fi
    sl_prune_pid_file "$role"
    if [ "$role" = jobmanager ] && ! sl_ha_enabled "$@"; then
        live="$(sl_live_pids jobmanager | tr '\n' ' ')"
        if [ -n "$live" ]; then
            exec {lockfd}>&-
            sl_die "a jobmanager is already running (pid ${live% }, pid file $file); stop it first (several jobmanagers need high-availability.type: zookeeper)"
        fi
    fi
    log="$(sl_new_log_file "$role")"
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') starting $bin -c $SLUICE_CONF_DIR $*" >>"$log" ||
        sl_die "cannot write log file $log"
    nohup "$bin" -c "$SLUICE_CONF_DIR" "$@" >>"$log" 2>&1 </dev/null {lockfd}>&- &
    pid=$!
    echo "$pid" >>"$file"
    exec {lockfd}>&-
    if [ -n "${SLUICE_STARTED_FILE:-}" ]; then echo "$role $pid $log" >>"$SLUICE_STARTED_FILE"; fi
    echo "Starting $role daemon on host $(hostname) (pid $pid), logging to $log."
    sl_check_started "$role" "$pid" "$log"
}

# 0 if PID is gone or a zombie (it exited; not yet reaped). A child that
# has not exec'd the daemon yet counts as alive.
sl_pid_ended() {
    local state
    kill -0 "$1" 2>/dev/null || return 0
    state="$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    case "$state" in Z | X | x | "") return 0 ;; esac
    return 1
}

# What a daemon logs once its configuration and addresses are good and it
# listens (jobmanager/jm_loop.c, taskmanager/task_manager.c): fixed text.
sl_ready_text() {
    case "$1" in
        jobmanager) echo ': jobmanager listening on ' ;;
        *) echo ': advertised ' ;;
    esac
}

# sl_check_started ROLE PID LOG: waits (up to SLUICE_START_CHECK [10]
# seconds) until the daemon logged that it listens, or exited; an exit (a
# bad key, an address it cannot use: exit 2) is reported at once with the
# last lines of its log, and the script exits with the daemon's code, also
# when it runs on another host over ssh. Still starting after the bound is
# left to the caller (start-cluster.sh waits for registration).
sl_check_started() {
    local role="$1" pid="$2" log="$3" text bound rc=0
    text="$(sl_ready_text "$role")"
    bound=$(($(sl_now_ms) + ${SLUICE_START_CHECK:-10} * 1000))
    while [ "$(sl_now_ms)" -lt "$bound" ]; do
        # only lines after this start's marker count
        if TEXT="$text" awk '/^=== / { ok = 0 } index($0, ENVIRON["TEXT"]) { ok = 1 } END { exit !ok }' "$log" 2>/dev/null; then
            return 0
        fi
        if sl_pid_ended "$pid"; then
            wait "$pid" 2>/dev/null || rc=$?
            [ "$rc" -ne 0 ] || rc=1
            {
                echo "the $role (pid $pid) on host $(hostname) exited at start (exit code $rc); $log ends with:"
                tail -n 10 "$log" 2>/dev/null | sed 's/^/    /'
            } >&2
            exit "$rc"
        fi
        sleep 0.05
    done
    return 0
}

# Runs a daemon of the role in the foreground (replaces this shell), after
# recording its pid like Flink's start-foreground.
sl_start_foreground() {
    local role="$1" bin file live
    shift
    bin="$(sl_bin "$role")"
    [ -x "$bin" ] || sl_die "cannot start the $role: $bin not found or not executable (build with 'make', or set SLUICE_BIN_DIR)"
    mkdir -p "$SLUICE_PID_DIR" || sl_die "cannot create $SLUICE_PID_DIR"
    file="$(sl_pid_file "$role")"
    sl_prune_pid_file "$role"
    if [ "$role" = jobmanager ] && ! sl_ha_enabled "$@"; then
        live="$(sl_live_pids jobmanager | tr '\n' ' ')"
        [ -z "$live" ] || sl_die "a jobmanager is already running (pid ${live% }, pid file $file); stop it first (several jobmanagers need high-availability.type: zookeeper)"
    fi
    echo "$$" >>"$file"
    exec "$bin" -c "$SLUICE_CONF_DIR" "$@"
}

# Every pid listed in a role's pid file (live or not), in file order.
sl_file_pids() {
    local file pid
    file="$(sl_pid_file "$1")"
    [ -f "$file" ] || return 0
    while IFS= read -r pid || [ -n "$pid" ]; do
        pid="${pid//[[:space:]]/}"
        [ -n "$pid" ] && echo "$pid"
    done <"$file"
}

# Stops daemons given as "role:pid" entries: SIGTERM to each live one, one
# shared wait of up to SLUICE_STOP_GRACE seconds, then SIGKILL the survivors.
# Entries that are not live sluice processes of that role (stale pid, pid
# reused by another program) are never signalled. Prints what it did; sets
# SL_STOPPED to the entries it stopped.
sl_stop_entries() {
    local e role pid deadline left
    local -a sent=()
    SL_STOPPED=()
    for e in "$@"; do
        role="${e%%:*}" pid="${e#*:}"
        if sl_pid_is_role "$pid" "$role"; then
            echo "Stopping $role daemon (pid $pid) on host $(hostname)."
            if kill -TERM "$pid" 2>/dev/null; then sent+=("$e"); fi
        fi
    done
    deadline=$(($(sl_now_ms) + SLUICE_STOP_GRACE * 1000))
    while [ "${#sent[@]}" -gt 0 ]; do
        left=0
        for e in "${sent[@]}"; do
            if sl_pid_is_role "${e#*:}" "${e%%:*}"; then left=1; fi
        done
        if [ "$left" = 0 ] || [ "$(sl_now_ms)" -ge "$deadline" ]; then break; fi
        sleep 0.1
    done
    for e in "${sent[@]}"; do
        role="${e%%:*}" pid="${e#*:}"
        if sl_pid_is_role "$pid" "$role"; then
            echo "The $role daemon (pid $pid) did not stop within ${SLUICE_STOP_GRACE} s; killing it (SIGKILL)."
            kill -KILL "$pid" 2>/dev/null || true
            # SIGKILL cannot be caught; wait (bounded) until the process is gone.
            for _ in $(seq 1 100); do
                sl_pid_is_role "$pid" "$role" || break
                sleep 0.1
            done
        fi
    done
    SL_STOPPED=("${sent[@]}")
    return 0
}

# Hosts from a workers/masters file: comments (#...) and blank lines dropped,
# surrounding spaces trimmed. One host per output line.
sl_read_hosts() {
    local file="$1" line
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line%%#*}"
        line="${line//[[:space:]]/}"
        [ -n "$line" ] && echo "$line"
    done <"$file"
}

# Host part of a masters entry (host[:rpc-port]): drops an optional :port
# ("host:6123", "[::1]:6123"); a bare IPv6 address is kept as is.
sl_strip_port() {
    local h="$1"
    if [[ "$h" =~ ^\[(.*)\](:[0-9]+)?$ ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ "$h" == *:*:* ]]; then
        echo "$h"
    else
        echo "${h%%:*}"
    fi
}

# Port part of a masters entry ("host:6123", "[::1]:6123" -> 6123); empty
# when the entry has none (a bare IPv6 address has none).
sl_entry_port() {
    local h="$1"
    if [[ "$h" =~ ^\[.*\]:([0-9]+)$ ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ "$h" != *:*:* ]] && [[ "$h" =~ :([0-9]+)$ ]]; then
        echo "${BASH_REMATCH[1]}"
    fi
}

# sl_check_masters: 0 if every line of conf/masters is host[:port] with a
# port 1-65535; else prints what is wrong.
sl_check_masters() {
    local e host port bad=0
    while read -r e; do
        host="$(sl_strip_port "$e")" port="$(sl_entry_port "$e")"
        if [ -z "$host" ] || { [ "$host" != "$e" ] && [ "[$host]" != "$e" ] &&
            { [ -z "$port" ] || [ "$((10#$port))" -lt 1 ] || [ "$((10#$port))" -gt 65535 ]; }; }; then
            echo "$SLUICE_CONF_DIR/masters: bad line '$e' (expected host[:rpc-port], [ipv6]:port)" >&2
            bad=1
        fi
    done < <(sl_read_hosts "$SLUICE_CONF_DIR/masters")
    return "$bad"
}

# 0 if the host means this machine (start a local process, no ssh).
sl_is_local_host() {
    local name
    case "$1" in
        localhost | localhost.localdomain | 127.0.0.1 | ::1) return 0 ;;
    esac
    name="$(hostname 2>/dev/null)" || name=""
    [ -n "$name" ] && { [ "$1" = "$name" ] || [ "$1" = "${name%%.*}" ]; }
}

# Runs "scripts/<script> <args>" on a remote host over ssh, at the same path,
# with the same conf/log/pid/bin folders.
sl_ssh_script() {
    local host="$1" script="$2" cmd
    local -a opts=()
    shift 2
    read -r -a opts <<<"${SLUICE_SSH_OPTS:-}"
    cmd="cd $(printf '%q' "$SLUICE_HOME") &&"
    cmd+=" SLUICE_CONF_DIR=$(printf '%q' "$SLUICE_CONF_DIR")"
    cmd+=" SLUICE_LOG_DIR=$(printf '%q' "$SLUICE_LOG_DIR")"
    cmd+=" SLUICE_PID_DIR=$(printf '%q' "$SLUICE_PID_DIR")"
    cmd+=" SLUICE_BIN_DIR=$(printf '%q' "$SLUICE_BIN_DIR")"
    cmd+=" SLUICE_STOP_GRACE=$(printf '%q' "$SLUICE_STOP_GRACE")"
    cmd+=" scripts/$script"
    local a
    for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
    ssh -n "${opts[@]}" "$host" "$cmd"
}

# 0 if the arguments are all "-D key=value" (or "-Dkey=value").
sl_check_daemon_args() {
    while [ "$#" -gt 0 ]; do
        case "$1" in
            -D)
                [ "$#" -ge 2 ] && [[ "$2" == ?*=* ]] || return 1
                shift 2
                ;;
            -D?*=*) shift ;;
            *) return 1 ;;
        esac
    done
    return 0
}
