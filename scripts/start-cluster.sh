#!/usr/bin/env bash
# Starts a Sluice cluster: a jobmanager per line of conf/masters
# (host[:rpc-port]; none: one on localhost) and a taskmanager per line of
# conf/workers, local hosts as local processes, other hosts over ssh at the
# same path. A masters line with a port starts its jobmanager with
# -D jobmanager.rpc.port=PORT; with high availability a remote one also gets
# -D jobmanager.rpc.address=HOST (what it advertises in ZooKeeper). Several
# masters lines need high-availability.type: zookeeper. Returns 0 once the
# jobmanager (with high availability: the leader, found through ZooKeeper)
# answers and at least as many taskmanagers are RUNNING as conf/workers has
# lines; fails with a message naming what did not come up after
# SLUICE_START_TIMEOUT seconds [60], or as soon as a local daemon it started
# exits.
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

[ "$#" -eq 0 ] || { echo "usage: $(basename "$0")" >&2; exit 2; }

timeout_s="${SLUICE_START_TIMEOUT:-60}"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || sl_die "SLUICE_START_TIMEOUT must be a whole number of seconds, not '$timeout_s'"
cli="$(sl_bin cli)"
[ -x "$cli" ] || sl_die "$cli not found or not executable (build with 'make', or set SLUICE_BIN_DIR)"
[ -f "$SLUICE_CONF_DIR/sluice.yaml" ] || echo "note: $SLUICE_CONF_DIR/sluice.yaml not found; the daemons use their defaults." >&2

sl_check_masters || sl_die "fix $SLUICE_CONF_DIR/masters"
mapfile -t masters < <(sl_read_hosts "$SLUICE_CONF_DIR/masters")
[ "${#masters[@]}" -gt 0 ] || masters=(localhost)
ha=0
if sl_ha_enabled; then ha=1; fi
if [ "${#masters[@]}" -gt 1 ] && [ "$ha" = 0 ]; then
    sl_die "$SLUICE_CONF_DIR/masters lists ${#masters[@]} jobmanagers, but several jobmanagers need high-availability.type: zookeeper (in $SLUICE_CONF_DIR/sluice.yaml)"
fi
# Each jobmanager needs a port of its own on its host; without high
# availability the taskmanagers and the CLI dial jobmanager.rpc.port.
conf_port="$(sl_conf_get jobmanager.rpc.port)"
conf_port="${conf_port:-6123}"
declare -A jm_at=()
for m in "${masters[@]}"; do
    port="$(sl_entry_port "$m")"
    [ -z "$port" ] || port="$((10#$port))"
    if [ "$ha" = 0 ] && [ -n "$port" ] && [ "$port" != "$conf_port" ]; then
        sl_die "$SLUICE_CONF_DIR/masters names port $port, but without high availability the taskmanagers and the CLI dial jobmanager.rpc.port ($conf_port): drop the port or set jobmanager.rpc.port: $port"
    fi
    host="$(sl_strip_port "$m")"
    sl_is_local_host "$host" && host=localhost
    key="$host:${port:-$conf_port}"
    [ -z "${jm_at[$key]:-}" ] || sl_die "$SLUICE_CONF_DIR/masters has two jobmanagers on $host with RPC port ${port:-$conf_port}: give each line its own port (host:port)"
    jm_at[$key]=1
done
mapfile -t workers < <(sl_read_hosts "$SLUICE_CONF_DIR/workers")
if [ "${#workers[@]}" -eq 0 ]; then
    sl_die "no taskmanager hosts: $SLUICE_CONF_DIR/workers is missing or lists no host"
fi

SLUICE_STARTED_FILE="$(mktemp "${TMPDIR:-/tmp}/sluice-start.XXXXXX")" || sl_die "mktemp failed"
export SLUICE_STARTED_FILE
trap 'rm -f "$SLUICE_STARTED_FILE"' EXIT

# start_jobmanager ENTRY: one masters line.
start_jobmanager() {
    local host port
    local -a args=()
    host="$(sl_strip_port "$1")" port="$(sl_entry_port "$1")"
    [ -z "$port" ] || args+=(-D "jobmanager.rpc.port=$port")
    if sl_is_local_host "$host"; then
        "$SLUICE_HOME/scripts/jobmanager.sh" start "${args[@]}" || sl_die "could not start the jobmanager of masters line '$1'"
    else
        [ "$ha" = 0 ] || args+=(-D "jobmanager.rpc.address=$host")
        sl_ssh_script "$host" jobmanager.sh start "${args[@]}" || sl_die "could not start the jobmanager on $host over ssh"
    fi
}

echo "Starting cluster."
for m in "${masters[@]}"; do start_jobmanager "$m"; done
for host in "${workers[@]}"; do
    if sl_is_local_host "$host"; then
        "$SLUICE_HOME/scripts/taskmanager.sh" start || sl_die "could not start a taskmanager"
    else
        sl_ssh_script "$host" taskmanager.sh start || sl_die "could not start a taskmanager on $host over ssh"
    fi
done

tm_logs() {
    local role pid log out=""
    while read -r role pid log; do
        [ "$role" = taskmanager ] && out+="${out:+, }$log"
    done <"$SLUICE_STARTED_FILE"
    for host in "${workers[@]}"; do
        sl_is_local_host "$host" || { out+="${out:+, }sluice-taskmanager-*.log in $SLUICE_LOG_DIR on $host"; break; }
    done
    echo "$out"
}

jm_logs() {
    local role pid log out="" m host
    while read -r role pid log; do
        [ "$role" = jobmanager ] && out+="${out:+, }$log"
    done <"$SLUICE_STARTED_FILE"
    for m in "${masters[@]}"; do
        host="$(sl_strip_port "$m")"
        sl_is_local_host "$host" || out+="${out:+, }sluice-jobmanager*.log in $SLUICE_LOG_DIR on $host"
    done
    echo "$out"
}

master_hosts=""
for m in "${masters[@]}"; do master_hosts+="${master_hosts:+, }$m"; done
if [ "$ha" = 1 ]; then what="the leader among the jobmanagers ($master_hosts), found through ZooKeeper,"; else what="the jobmanager"; fi
want="${#workers[@]}"
errf="$(mktemp "${TMPDIR:-/tmp}/sluice-start-err.XXXXXX")" || sl_die "mktemp failed"
trap 'rm -f "$SLUICE_STARTED_FILE" "$errf"' EXIT
tmo=()
if command -v timeout >/dev/null 2>&1; then tmo=(timeout --foreground -k 5 15); fi
deadline=$(($(sl_now_ms) + timeout_s * 1000))
running=0
rc=1
while :; do
    # A local daemon that exited will never come up: fail at once.
    while read -r role pid log; do
        if ! sl_pid_is_role "$pid" "$role"; then
            {
                echo "$(basename "$0"): the $role (pid $pid) exited during startup; read $log. Its last lines:"
                tail -n 20 "$log" 2>/dev/null | sed 's/^/    /'
                echo "Stop what did start with scripts/stop-cluster.sh."
            } >&2
            exit 1
        fi
    done <"$SLUICE_STARTED_FILE"
    out="$("${tmo[@]}" "$cli" -c "$SLUICE_CONF_DIR" taskmanagers 2>"$errf")"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        running="$(awk '$6 == "RUNNING"' <<<"$out" | wc -l)"
        if [ "$running" -ge "$want" ]; then
            if [ "$ha" = 1 ]; then
                echo "Cluster is up: ${#masters[@]} jobmanager(s) ($master_hosts) with high availability, $running taskmanager(s) running."
            else
                echo "Cluster is up: jobmanager on $(sl_strip_port "${masters[0]}"), $running taskmanager(s) running."
            fi
            exit 0
        fi
    fi
    if [ "$(sl_now_ms)" -ge "$deadline" ]; then
        if [ "$rc" -ne 0 ]; then
            why="$(tail -n 1 "$errf")"
            sl_die "$what did not answer within $timeout_s s (sluice taskmanagers exited $rc${why:+: $why}); read $(jm_logs). Stop what did start with scripts/stop-cluster.sh."
        fi
        sl_die "only $running of $want taskmanagers registered as RUNNING within $timeout_s s; read $(tm_logs) (and $(jm_logs)). Stop what did start with scripts/stop-cluster.sh."
    fi
    sleep 0.2
done
