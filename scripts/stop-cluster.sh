#!/usr/bin/env bash
# Stops the Sluice cluster started by start-cluster.sh: SIGTERM to every
# jobmanager (one or several, with high availability) and taskmanager listed
# in the pid files of SLUICE_PID_DIR, up to
# SLUICE_STOP_GRACE seconds [10] to exit, then SIGKILL for the survivors;
# removes the pid files. Remote hosts of conf/workers and conf/masters are
# stopped over ssh. Only live processes whose command line names the sluice
# binary are signalled (a stale pid may belong to another program by now).
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

[ "$#" -eq 0 ] || { echo "usage: $(basename "$0")" >&2; exit 2; }

# Remote hosts first (each once); local processes are found in the pid files.
declare -A seen=()
while read -r host; do
    [ -n "$host" ] || continue
    if ! sl_is_local_host "$host" && [ -z "${seen[$host]:-}" ]; then
        seen[$host]=1
        sl_ssh_script "$host" taskmanager.sh stop-all || echo "warning: could not stop the taskmanagers on $host over ssh" >&2
    fi
done < <(sl_read_hosts "$SLUICE_CONF_DIR/workers")
# Every masters line (host[:rpc-port]); jobmanager.sh stop ends all the
# jobmanagers of a host's pid file, so each remote host once.
seen=()
while read -r entry; do
    host="$(sl_strip_port "$entry")"
    if [ -n "$host" ] && ! sl_is_local_host "$host" && [ -z "${seen[$host]:-}" ]; then
        seen[$host]=1
        sl_ssh_script "$host" jobmanager.sh stop || echo "warning: could not stop the jobmanager(s) on $host over ssh" >&2
    fi
done < <(sl_read_hosts "$SLUICE_CONF_DIR/masters")

entries=()
for role in taskmanager jobmanager; do
    while read -r pid; do entries+=("$role:$pid"); done < <(sl_file_pids "$role")
done
sl_stop_entries "${entries[@]}"
rm -f "$(sl_pid_file taskmanager)" "$(sl_pid_file jobmanager)"

jm=0 tm=0
for e in "${SL_STOPPED[@]}"; do
    case "$e" in jobmanager:*) jm=$((jm + 1)) ;; taskmanager:*) tm=$((tm + 1)) ;; esac
done
if [ $((jm + tm)) -eq 0 ]; then
    echo "No sluice daemons to stop on host $(hostname) (pid files in $SLUICE_PID_DIR)."
else
    echo "Stopped $jm jobmanager(s) and $tm taskmanager(s) on host $(hostname)."
fi
