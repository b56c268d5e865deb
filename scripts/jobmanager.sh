#!/usr/bin/env bash
# Starts or stops the Sluice jobmanager on this host.
#
#   jobmanager.sh start [-D key=value ...]             in the background (log, pid file)
#   jobmanager.sh start-foreground [-D key=value ...]  in the foreground (replaces this shell)
#   jobmanager.sh stop                                 SIGTERM, SIGKILL after SLUICE_STOP_GRACE s
#
# Folders: SLUICE_CONF_DIR, SLUICE_LOG_DIR, SLUICE_PID_DIR, SLUICE_BIN_DIR
# (see sluice-config.sh). Without high availability, refuses to start while
# the pid file names a live jobmanager. With high-availability.type
# zookeeper (in sluice.yaml or a -D), several may run on one host (a leader
# and standbys; each needs its own -D jobmanager.rpc.port=PORT): the pid file
# lists them all, the first logs to sluice-jobmanager.log, the next ones to
# sluice-jobmanager-N.log, and stop stops them all.
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

usage() {
    echo "usage: $(basename "$0") start|stop|start-foreground [-D key=value ...]" >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
    start | start-foreground)
        sl_check_daemon_args "$@" || usage
        if [ "$cmd" = start ]; then
            sl_start_daemon jobmanager "$@"
        else
            sl_start_foreground jobmanager "$@"
        fi
        ;;
    stop)
        [ "$#" -eq 0 ] || usage
        mapfile -t pids < <(sl_file_pids jobmanager)
        entries=()
        for p in "${pids[@]}"; do entries+=("jobmanager:$p"); done
        sl_stop_entries "${entries[@]}"
        rm -f "$(sl_pid_file jobmanager)"
        if [ "${#SL_STOPPED[@]}" -eq 0 ]; then
            echo "No jobmanager daemon to stop on host $(hostname)."
        fi
        ;;
    *) usage ;;
esac
