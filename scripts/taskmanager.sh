#!/usr/bin/env bash
# Starts or stops Sluice taskmanagers on this host.
#
#   taskmanager.sh start [-D key=value ...]             one more in the background
#   taskmanager.sh start-foreground [-D key=value ...]  in the foreground (replaces this shell)
#   taskmanager.sh stop                                 the last one started
#   taskmanager.sh stop-all                             all of this pid file
#
# Each background taskmanager logs to $SLUICE_LOG_DIR/sluice-taskmanager-N.log,
# N the first index no running taskmanager of this pid file uses.
set -u -o pipefail
# shellcheck source=sluice-config.sh
. "$(dirname "${BASH_SOURCE[0]}")/sluice-config.sh"

usage() {
    echo "usage: $(basename "$0") start|stop|stop-all|start-foreground [-D key=value ...]" >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
    start | start-foreground)
        sl_check_daemon_args "$@" || usage
        if [ "$cmd" = start ]; then
            sl_start_daemon taskmanager "$@"
        else
            sl_start_foreground taskmanager "$@"
        fi
        ;;
    stop | stop-all)
        [ "$#" -eq 0 ] || usage
        mapfile -t live < <(sl_live_pids taskmanager)
        entries=()
        if [ "$cmd" = stop ]; then
            [ "${#live[@]}" -eq 0 ] || entries=("taskmanager:${live[${#live[@]} - 1]}")
        else
            for p in "${live[@]}"; do entries+=("taskmanager:$p"); done
        fi
        sl_stop_entries "${entries[@]}"
        if [ "$cmd" = stop-all ]; then
            rm -f "$(sl_pid_file taskmanager)"
        else
            # Drop the stopped pid and any stale entries.
            stopped=()
            for e in "${SL_STOPPED[@]}"; do stopped+=("${e#*:}"); done
            mapfile -t listed < <(sl_file_pids taskmanager)
            drop=("${stopped[@]}")
            for p in "${listed[@]}"; do
                sl_pid_is_role "$p" taskmanager || drop+=("$p")
            done
            [ "${#drop[@]}" -eq 0 ] || sl_pid_file_remove taskmanager "${drop[@]}"
        fi
        if [ "${#SL_STOPPED[@]}" -eq 0 ]; then
            echo "No taskmanager daemon to stop on host $(hostname)."
        fi
        ;;
    *) usage ;;
esac
