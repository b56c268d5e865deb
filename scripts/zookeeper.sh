#!/usr/bin/env bash
# Starts or stops one local ZooKeeper server (like Flink's
# start-zookeeper-quorum.sh, for one host), for high availability
# (high-availability.type: zookeeper) and its tests.
#
#   zookeeper.sh start    in the background; returns once the server answers
#   zookeeper.sh stop     SIGTERM by pid, SIGKILL after SLUICE_STOP_GRACE s
#
# Configuration: $SLUICE_CONF_DIR/zoo.cfg, ZooKeeper's own format (dataDir,
# clientPort, tickTime, ...; conf/zoo.cfg is an example). Pid file
# $SLUICE_PID_DIR/sluice-$USER-zookeeper.pid, log
# $SLUICE_LOG_DIR/sluice-zookeeper.log (see sluice-config.sh).
#
# The server is Debian's `zookeeper` package (make deps), run without
# systemd: java -cp $SLUICE_ZOOKEEPER_CLASSPATH
# org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg, logging through
# slf4j-simple to stderr, which goes to the log. Environment:
#   JAVA_HOME / java on PATH         the JRE
#   SLUICE_ZOOKEEPER_CLASSPATH       [/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar]
#   SLUICE_ZOOKEEPER_JVM_OPTS        extra JVM options (word-split)
#   SLUICE_START_CHECK [30]          seconds start waits for the server to answer
#
# "Answers" means the four-letter command srvr (enabled by default in 3.8)
# on the client port reports a Mode. Start refuses while the pid file names
# a live server, when the client port is already in use, on a zoo.cfg
# without dataDir or clientPort; a server that exits or does not answer in
# time is reported with the end of its log.
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZK_CLASSPATH="${SLUICE_ZOOKEEPER_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar}"
ZK_CFG="$SLUICE_CONF_DIR/zoo.cfg"
ZK_LOG="$SLUICE_LOG_DIR/sluice-zookeeper.log"
ZK_PID_FILE="$(sl_pid_file zookeeper)"
ZK_PROBE_TIMEOUT=2 # seconds one srvr probe may take (a server still starting may never answer it)

usage() {
    echo "usage: $(basename "$0") start|stop" >&2
    exit 2
}

# 0 if pid is a live (non-zombie) ZooKeeper server: its command line names
# the server's main class (guard against pid reuse).
zk_pid_is_server() {
    local pid="$1" arg
    local -a args=()
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
    ! sl_pid_ended "$pid" || return 1
    mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do
        [ "$arg" = "$ZK_MAIN" ] && return 0
    done
    return 1
}

# The live server pids of the pid file.
zk_live_pids() {
    local pid
    [ -f "$ZK_PID_FILE" ] || return 0
    while IFS= read -r pid || [ -n "$pid" ]; do
        pid="${pid//[[:space:]]/}"
        if zk_pid_is_server "$pid"; then echo "$pid"; fi
    done <"$ZK_PID_FILE"
}

# zk_cfg_get KEY: the value of KEY in zoo.cfg (last one wins, like Java's
# Properties), spaces around it trimmed; empty if unset.
zk_cfg_get() {
    KEY="$1" awk -F= '
        /^[[:space:]]*[#!]/ { next }
        { k = $1; gsub(/^[[:space:]]+|[[:space:]]+$/, "", k) }
        k == ENVIRON["KEY"] { v = substr($0, index($0, "=") + 1); gsub(/^[[:space:]]+|[[:space:]]+$/, "", v) }
        END { print v }' "$ZK_CFG"
}

# Sets ZK_HOST and ZK_PORT (where to probe) from zoo.cfg, or dies saying
# what is wrong with it.
zk_read_cfg() {
    local dir addr
    [ -f "$ZK_CFG" ] || sl_die "bad zoo.cfg: $ZK_CFG not found (copy conf/zoo.cfg there, or set SLUICE_CONF_DIR)"
    [ -r "$ZK_CFG" ] || sl_die "bad zoo.cfg: $ZK_CFG is not readable"
    dir="$(zk_cfg_get dataDir)"
    [ -n "$dir" ] || sl_die "bad zoo.cfg: $ZK_CFG sets no dataDir"
    ZK_PORT="$(zk_cfg_get clientPort)"
    addr="$(zk_cfg_get clientPortAddress)"
    ZK_HOST=127.0.0.1
    if [[ "$addr" =~ ^(.*):([0-9]+)$ ]]; then
        ZK_HOST="${BASH_REMATCH[1]}" ZK_PORT="${BASH_REMATCH[2]}"
    elif [ -n "$addr" ]; then
        ZK_HOST="$addr"
    fi
    case "$ZK_HOST" in 0.0.0.0 | "") ZK_HOST=127.0.0.1 ;; "::" | "[::]") ZK_HOST=::1 ;; esac
    ZK_HOST="${ZK_HOST#[}" ZK_HOST="${ZK_HOST%]}"
    [ -n "$ZK_PORT" ] || sl_die "bad zoo.cfg: $ZK_CFG sets no clientPort"
    [[ "$ZK_PORT" =~ ^[0-9]+$ ]] && [ "$ZK_PORT" -ge 1 ] && [ "$ZK_PORT" -le 65535 ] ||
        sl_die "bad zoo.cfg: clientPort '$ZK_PORT' in $ZK_CFG is not a port (1-65535)"
}

# 0 if something accepts TCP connections on ZK_HOST:ZK_PORT.
zk_port_open() {
    timeout "$ZK_PROBE_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$ZK_HOST" "$ZK_PORT" 2>/dev/null
}

# 0 if the server on ZK_HOST:ZK_PORT serves requests (srvr reports a Mode).
zk_answers() {
    local out
    out="$(timeout "$ZK_PROBE_TIMEOUT" bash -c \
        'exec 3<>"/dev/tcp/$0/$1" && printf srvr >&3 && cat <&3' "$ZK_HOST" "$ZK_PORT" 2>/dev/null)"
    [[ "$out" == *"Mode: "* ]]
}

zk_java() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}

# Reports a failed start with the end of the log and exits 1.
zk_start_failed() {
    {
        echo "$(basename "$0"): $1; $ZK_LOG ends with:"
        awk '/^=== / { n = 0; delete l } { l[n++] = $0 } END { for (i = (n > 15 ? n - 15 : 0); i < n; i++) print "    " l[i] }' "$ZK_LOG" 2>/dev/null
    } >&2
    exit 1
}

zk_start() {
    local java jar lockfd live pid deadline why rc=0
    local -a opts=()
    zk_read_cfg
    java="$(zk_java)"
    [ -n "$java" ] || sl_die "cannot start ZooKeeper: java not found (install a JRE, e.g. make deps, or set JAVA_HOME)"
    jar="${ZK_CLASSPATH%%:*}"
    [ -f "$jar" ] || sl_die "cannot start ZooKeeper: $jar not found (install Debian's zookeeper package: make deps; or set SLUICE_ZOOKEEPER_CLASSPATH)"
    mkdir -p "$SLUICE_LOG_DIR" "$SLUICE_PID_DIR" || sl_die "cannot create $SLUICE_LOG_DIR or $SLUICE_PID_DIR"
    # Serialise starts that share the pid file (the lock is the file itself).
    exec {lockfd}>>"$ZK_PID_FILE" || sl_die "cannot write pid file $ZK_PID_FILE"
    if command -v flock >/dev/null 2>&1; then flock "$lockfd"; fi
    live="$(zk_live_pids | tr '\n' ' ')"
    if [ -n "$live" ]; then
        sl_die "a ZooKeeper server is already running (pid ${live% }, pid file $ZK_PID_FILE); stop it first"
    fi
    if zk_port_open; then
        sl_die "cannot start ZooKeeper: port $ZK_PORT on $ZK_HOST is in use (clientPort in $ZK_CFG)"
    fi
    read -r -a opts <<<"${SLUICE_ZOOKEEPER_JVM_OPTS:-}"
    # No admin server (Jetty on 8080) unless zoo.cfg asks for it: zoo.cfg
    # keys become system properties and override this one.
    opts+=(-Dzookeeper.admin.enableServer=false
        -Dorg.slf4j.simpleLogger.showDateTime=true
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS")
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') starting $java -cp $ZK_CLASSPATH $ZK_MAIN $ZK_CFG" >>"$ZK_LOG" ||
        sl_die "cannot write log file $ZK_LOG"
    nohup "$java" "${opts[@]}" -cp "$ZK_CLASSPATH" "$ZK_MAIN" "$ZK_CFG" \
        >>"$ZK_LOG" 2>&1 </dev/null {lockfd}>&- &
    pid=$!
    echo "$pid" >"$ZK_PID_FILE"
    exec {lockfd}>&-
    echo "Starting ZooKeeper on host $(hostname) (pid $pid, client port $ZK_PORT), logging to $ZK_LOG."
    deadline=$(($(sl_now_ms) + ${SLUICE_START_CHECK:-30} * 1000))
    while :; do
        if sl_pid_ended "$pid"; then
            wait "$pid" 2>/dev/null || rc=$?
            rm -f "$ZK_PID_FILE"
            case "$rc" in # ZooKeeper's ExitCode
                2) why=": a bad zoo.cfg ($ZK_CFG)" ;;
                3) why=": cannot use its dataDir" ;;
                *) why="" ;;
            esac
            zk_start_failed "ZooKeeper (pid $pid) exited at start (exit code $rc$why)"
        fi
        if zk_answers; then return 0; fi
        if [ "$(sl_now_ms)" -ge "$deadline" ]; then
            zk_stop_pids "$pid" >/dev/null
            rm -f "$ZK_PID_FILE"
            zk_start_failed "ZooKeeper (pid $pid) did not answer on $ZK_HOST:$ZK_PORT within ${SLUICE_START_CHECK:-30} s; stopped it"
        fi
        sleep 0.1
    done
}

# Stops the given server pids: SIGTERM, wait up to SLUICE_STOP_GRACE s,
# then SIGKILL and wait (bounded) until each is gone.
zk_stop_pids() {
    local pid deadline left
    for pid in "$@"; do
        echo "Stopping ZooKeeper (pid $pid) on host $(hostname)."
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$(($(sl_now_ms) + SLUICE_STOP_GRACE * 1000))
    while :; do
        left=()
        for pid in "$@"; do if zk_pid_is_server "$pid"; then left+=("$pid"); fi; done
        [ "${#left[@]}" -gt 0 ] && [ "$(sl_now_ms)" -lt "$deadline" ] || break
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        echo "ZooKeeper (pid $pid) did not stop within ${SLUICE_STOP_GRACE} s; killing it (SIGKILL)."
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$(($(sl_now_ms) + 10000))
        while zk_pid_is_server "$pid" && [ "$(sl_now_ms)" -lt "$deadline" ]; do sleep 0.1; done
    done
}

zk_stop() {
    local -a pids=()
    mapfile -t pids < <(zk_live_pids)
    if [ "${#pids[@]}" -eq 0 ]; then
        echo "No ZooKeeper server to stop on host $(hostname)."
    else
        zk_stop_pids "${pids[@]}"
    fi
    rm -f "$ZK_PID_FILE"
}

[ "$#" -eq 1 ] || usage
case "$1" in
    start) zk_start ;;
    stop) zk_stop ;;
    *) usage ;;
esac
