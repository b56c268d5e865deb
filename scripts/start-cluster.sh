#!/usr/bin/env bash
# Starts a Sluice cluster: a jobmanager on the host of conf/masters and a
# taskmanager per line of conf/workers (local hosts as local processes, other
# hosts over ssh at the same path). Returns 0 once the jobmanager answers and
# at least as many taskmanagers are RUNNING as conf/workers has lines; fails
# with a message naming what did not come up after SLUICE_START_TIMEOUT
# seconds [60], or as soon as a local daemon it started exits.
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

[ "$#" -eq 0 ] || { echo "usage: $(basename "$0")" >&2; exit 2; }

timeout_s="${SLUICE_START_TIMEOUT:-60}"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || sl_die "SLUICE_START_TIMEOUT must be a whole number of seconds, not '$timeout_s'"
cli="$(sl_bin cli)"
[ -x "$cli" ] || sl_die "$cli not found or not executable (build with 'make', or set SLUICE_BIN_DIR)"
[ -f "$SLUICE_CONF_DIR/sluice.yaml" ] || echo "note: $SLUICE_CONF_DIR/sluice.yaml not found; the daemons use their defaults." >&2

master="$(sl_read_hosts "$SLUICE_CONF_DIR/masters" | head -n 1)"
master="$(sl_strip_port "${master:-localhost}")"
mapfile -t workers < <(sl_read_hosts "$SLUICE_CONF_DIR/workers")
if [ "${#workers[@]}" -eq 0 ]; then
    sl_die "no taskmanager hosts: $SLUICE_CONF_DIR/workers is missing or lists no host"
fi

SLUICE_STARTED_FILE="$(mktemp "${TMPDIR:-/tmp}/sluice-start.XXXXXX")" || sl_die "mktemp failed"
export SLUICE_STARTED_FILE
trap 'rm -f "$SLUICE_STARTED_FILE"' EXIT

echo "Starting cluster."
if sl_is_local_host "$master"; then
    "$SLUICE_HOME/scripts/jobmanager.sh" start || sl_die "could not start the jobmanager"
else
    sl_ssh_script "$master" jobmanager.sh start || sl_die "could not start the jobmanager on $master over ssh"
fi
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

jm_log="$SLUICE_LOG_DIR/sluice-jobmanager.log"
sl_is_local_host "$master" || jm_log="$jm_log on $master"
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
            echo "Cluster is up: jobmanager on $master, $running taskmanager(s) running."
            exit 0
        fi
    fi
    if [ "$(sl_now_ms)" -ge "$deadline" ]; then
        if [ "$rc" -ne 0 ]; then
            why="$(tail -n 1 "$errf")"
            sl_die "the jobmanager did not answer within $timeout_s s (sluice taskmanagers exited $rc${why:+: $why}); read $jm_log. Stop what did start with scripts/stop-cluster.sh."
        fi
        sl_die "only $running of $want taskmanagers registered as RUNNING within $timeout_s s; read $(tm_logs) (and $jm_log). Stop what did start with scripts/stop-cluster.sh."
    fi
    sleep 0.2
done
