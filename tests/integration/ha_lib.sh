#!/usr/bin/env bash
# shellcheck disable=SC2034  # globals (HA_LEADER_PORT, ...) are for the tests
# Helpers of the jobmanager high-availability tests (issue 13, interface.md
# section 8), sourced after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/ha_lib.sh"
#   ha_cluster 2 3                 # a local ZooKeeper, the HA keys in sluice.yaml,
#                                  # 2 jobmanagers, 3 taskmanagers (1 slot each)
#   ha_wordcount_job NAME BYTES SECS   # submit a paced, checkpointing word count
#   ha_leader                      # who leads, from ZooKeeper: HA_LEADER_PORT/PID/ID
#   ha_signal_leader KILL          # SIGKILL (or STOP, ...) the leader
#   ha_takeover "$jobid" "$HA_VICTIM_PORT"   # a new leader runs the job again
#
# ZooKeeper: scripts/zookeeper.sh with a zoo.cfg of tickTime 500 ms (the
# server allows sessions of 2-20 ticks: 1-10 s), dataDir under the cluster
# root, a free client port. It is killed by pid when the test exits (pass,
# fail or signal), before lib.sh's cleanup.
#
# Jobmanagers: each started with `scripts/jobmanager.sh start -D
# jobmanager.rpc.port=PORT` with pid and log folders of its own
# (ROOT/jm-PORT/pid, ROOT/jm-PORT/log; its log is linked as
# ROOT/log/sluice-jobmanager-PORT.log, so failure dumps and the sanitizer
# check see it), its pid recorded for the cleanup (sl_record_pid). The
# sluice.yaml's jobmanager.rpc.port is a port no jobmanager listens on: the
# taskmanagers and the CLI must find the leader through ZooKeeper.
#
# Environment: SL_HA_SESSION_TIMEOUT [3 s] (the jobmanagers', taskmanagers'
# and CLI's ZooKeeper session timeout), SL_HA_TAKEOVER_MARGIN_MS [6000]
# (how long after the session timeout a takeover may take), SL_HA_CLI_TIMEOUT
# [20] (seconds one CLI call may take: a SIGSTOPped leader never answers).

HA_ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
HA_ZKCLI="${SL_HA_ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
HA_SESSION_TIMEOUT="${SL_HA_SESSION_TIMEOUT:-3 s}"
HA_TAKEOVER_MARGIN_MS="${SL_HA_TAKEOVER_MARGIN_MS:-6000}"
SL_CLI_TIMEOUT="${SL_HA_CLI_TIMEOUT:-20}"
HA_ZK_PORT="" HA_ZK_PID="" HA_CID="" HA_ZK_ROOT=/sluice HA_STORAGE=""
HA_JM_PORTS=()
declare -A HA_JM_PID=() HA_JM_DIR=() HA_JM_LOG=()
HA_LEADER_LATCH="" HA_LEADER_ADDR="" HA_LEADER_PORT="" HA_LEADER_PID="" HA_LEADER_ID=""

# What a jobmanager logs (jobmanager/*.c) when it acts as leader: deploys
# ("tasks go to taskmanager", "deploying"), triggers and completes
# checkpoints, restarts a job, removes or deletes checkpoints, savepoints or
# HA data. A deposed leader must log none of these.
HA_ACTION_RE='tasks go to taskmanager|[Dd]eploying |triggering |completed (checkpoint|savepoint|final)|removing |removed |restarting job|disposed of|[Dd]elet(e|es|ing|ed) |cannot remove '
# What it logs when it stops being the leader (loose: the wording is the
# jobmanager's).
HA_LOST_RE='[Ll]ost (its |the )?leadership|[Ll]eadership (is |was |has been )?(lost|revoked)|[Rr]evoked leadership|[Nn]o longer (the )?leader|[Nn]ot the leader any ?more|[Dd]eposed'

[ -f /usr/share/java/zookeeper.jar ] || fail "Debian's zookeeper package is not installed (make deps)"
[ -x "$HA_ZKCLI" ] || fail "$HA_ZKCLI not found (Debian's zookeeper package: make deps)"

# ------------------------------------------------------------- cleanup

# 0 if pid is a live ZooKeeper server.
ha_zk_pid_alive() {
    sl_pid_alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$HA_ZK_MAIN"
}

# The ZooKeeper servers of this test die with it (lib.sh's cleanup only
# knows sluice processes); then lib.sh's sl__on_exit runs with the test's
# exit status as $?. ha__cleanup itself returns 0: under set -e a trap
# command that fails ends the trap, so sl__on_exit would never run and
# every daemon of a failed test would be left running.
ha__cleanup() {
    local f pid
    for f in "$SL_TMP"/*/pid/sluice-*-zookeeper.pid; do
        [ -f "$f" ] || continue
        while IFS= read -r pid || [ -n "$pid" ]; do
            pid="${pid//[[:space:]]/}"
            if ha_zk_pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        done <"$f"
    done
    return 0
}
# ha__status RC: returns RC (so that sl__on_exit, called after it in a ||
# list that set -e ignores, finds RC in $?).
ha__status() {
    return "$1"
}
ha__rc=0
trap 'ha__rc=$?; ha__cleanup; ha__status "$ha__rc" || sl__on_exit; sl__on_exit' EXIT

# ------------------------------------------------------------- ZooKeeper

# ha_start_zookeeper: zoo.cfg (tickTime 500 ms, dataDir ROOT/zkdata, a free
# client port) and scripts/zookeeper.sh start. Sets HA_ZK_PORT, HA_ZK_PID.
ha_start_zookeeper() {
    sl_pick_port
    HA_ZK_PORT="$SL_PORT"
    printf 'tickTime=500\ndataDir=%s/zkdata\nclientPort=%s\nadmin.enableServer=false\n' \
        "$SL_ROOT" "$HA_ZK_PORT" >"$SL_CONF/zoo.cfg"
    sl_run sl_script zookeeper.sh start
    [ "$SL_RC" -eq 0 ] || fail "zookeeper.sh start exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    HA_ZK_PID="$(head -n 1 "$SL_PIDDIR/sluice-$SL_USER-zookeeper.pid")"
    ha_zk_pid_alive "$HA_ZK_PID" || fail "ZooKeeper (pid $HA_ZK_PID) is not running after zookeeper.sh start"
    echo "ZooKeeper on 127.0.0.1:$HA_ZK_PORT (pid $HA_ZK_PID)"
}

# ha_zk COMMAND: one zkCli.sh command ("ls /path", "get /path") against the
# test's ZooKeeper, fed on stdin and followed by quit (so the session is
# closed, not left to expire); prints what the command printed (stdout and
# stderr, without the connection chatter). 1 if it never connected.
ha_zk() {
    local out
    out="$(printf '%s\nquit\n' "$1" |
        timeout -k 5 20 "$HA_ZKCLI" -server "127.0.0.1:$HA_ZK_PORT" 2>&1)" || true
    grep -q '^WatchedEvent state:SyncConnected' <<<"$out" || return 1
    awk '/^WatchedEvent state:SyncConnected/ { on = 1; next }
         on && /^WATCHER::$/ { exit }
         on && NF && !/^SLF4J/' <<<"$out"
}

# ha_zk_children PATH: the child names of PATH, one a line (nothing if
# PATH does not exist or has none); 1 if ZooKeeper did not answer.
ha_zk_children() {
    local out
    out="$(ha_zk "ls $1")" || return 1
    if grep -q 'Node does not exist' <<<"$out"; then return 0; fi
    grep -E '^\[.*\]$' <<<"$out" | tail -n 1 | tr -d '[] ' | tr ',' '\n' | grep -v '^$' || true
}

# ha_zk_data PATH: the data of PATH (the last line zkCli printed).
ha_zk_data() {
    local out
    out="$(ha_zk "get $1")" || return 1
    if grep -q 'Node does not exist' <<<"$out"; then return 1; fi
    tail -n 1 <<<"$out"
}

# ------------------------------------------------------------- config

# ha_conf: the HA keys in the current cluster's sluice.yaml (a unique
# cluster-id per test run; storageDir ROOT/ha).
ha_conf() {
    HA_CID="$SL_TEST-$$-$RANDOM"
    HA_STORAGE="$SL_ROOT/ha"
    mkdir -p "$HA_STORAGE"
    sl_conf_set high-availability.type zookeeper
    sl_conf_set high-availability.zookeeper.quorum "127.0.0.1:$HA_ZK_PORT"
    sl_conf_set high-availability.storageDir "file://$HA_STORAGE"
    sl_conf_set high-availability.cluster-id "$HA_CID"
    sl_conf_set high-availability.zookeeper.client.session-timeout "$HA_SESSION_TIMEOUT"
}

# ha_ms DURATION: "3 s" / "500 ms" / "3s" in ms.
ha_ms() {
    local d="${1// /}"
    case "$d" in
        *ms) echo "${d%ms}" ;;
        *s) echo $((${d%s} * 1000)) ;;
        *) echo "$d" ;;
    esac
}

# ------------------------------------------------------------- daemons

# ha__jm_env PORT CMD...: CMD with the folders of the jobmanager on PORT.
ha__jm_env() {
    local port="$1"
    shift
    SLUICE_CONF_DIR="$SL_CONF" SLUICE_LOG_DIR="${HA_JM_DIR[$port]}/log" \
        SLUICE_PID_DIR="${HA_JM_DIR[$port]}/pid" "$@" {SL_FD_OUT}>&- {SL_FD_ERR}>&-
}

# ha_start_jm [PORT]: `scripts/jobmanager.sh start -D jobmanager.rpc.port=PORT`
# (a free port if none given; the same folders when PORT was used before).
# Sets HA_JM_PID[PORT]; the port in HA_PORT.
ha_start_jm() {
    local port="${1:-}" dir pid
    if [ -z "$port" ]; then
        sl_pick_port
        port="$SL_PORT"
    fi
    dir="$SL_ROOT/jm-$port"
    if [ -z "${HA_JM_DIR[$port]:-}" ]; then
        mkdir -p "$dir/pid" "$dir/log"
        HA_JM_DIR[$port]="$dir"
        HA_JM_LOG[$port]="$dir/log/sluice-jobmanager.log"
        HA_JM_PORTS+=("$port")
        : >>"${HA_JM_LOG[$port]}"
        ln -sfn "${HA_JM_LOG[$port]}" "$SL_LOG/sluice-jobmanager-$port.log"
    fi
    sl_run ha__jm_env "$port" "$SL_SCRIPTS/jobmanager.sh" start -D "jobmanager.rpc.port=$port"
    [ "$SL_RC" -eq 0 ] || fail "jobmanager.sh start -D jobmanager.rpc.port=$port exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    pid="$(sed -n -E 's/.*\(pid ([0-9]+)\).*/\1/p' <<<"$SL_OUT" | head -n 1)"
    [ -n "$pid" ] || fail "jobmanager.sh start printed no '(pid N)':"$'\n'"$SL_OUT"
    sl_record_pid "$pid"
    HA_JM_PID[$port]="$pid"
    HA_PORT="$port"
    sl_pid_is_sluice "$pid" jobmanager || fail "the jobmanager on port $port (pid $pid) is not running:"$'\n'"$(tail -n 20 "${HA_JM_LOG[$port]}")"
    echo "jobmanager on port $port: pid $pid"
}

# ha_start_tms N: N x `scripts/taskmanager.sh start`.
ha_start_tms() {
    local i
    for ((i = 0; i < $1; i++)); do
        sl_run sl_script taskmanager.sh start
        [ "$SL_RC" -eq 0 ] || fail "taskmanager.sh start exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    done
}

# ------------------------------------------------------------- the leader

# ha_leader: the current leader from ZooKeeper (the lowest latch under
# <root>/<cid>/leader): sets HA_LEADER_LATCH, HA_LEADER_ADDR (host:port),
# HA_LEADER_PORT, HA_LEADER_ID (latch counter + 1) and HA_LEADER_PID (the
# pid of our jobmanager on that port; empty if none). 1 if no latch.
ha_leader() {
    local latch addr
    HA_LEADER_LATCH="" HA_LEADER_ADDR="" HA_LEADER_PORT="" HA_LEADER_PID="" HA_LEADER_ID=""
    latch="$(ha_zk_children "$HA_ZK_ROOT/$HA_CID/leader" | grep -E '^latch-[0-9]+$' | LC_ALL=C sort | head -n 1)" || true
    if [ -z "$latch" ]; then
        echo "no latch under $HA_ZK_ROOT/$HA_CID/leader"
        return 1
    fi
    addr="$(ha_zk_data "$HA_ZK_ROOT/$HA_CID/leader/$latch")" || true
    [[ "$addr" =~ ^(.+):([0-9]+)$ ]] || {
        echo "latch $latch holds '$addr', not host:port"
        return 1
    }
    HA_LEADER_LATCH="$latch" HA_LEADER_ADDR="$addr" HA_LEADER_PORT="${BASH_REMATCH[2]}"
    HA_LEADER_ID=$((10#${latch#latch-} + 1))
    HA_LEADER_PID="${HA_JM_PID[$HA_LEADER_PORT]:-}"
    echo "leader: $latch = $addr (leader id $HA_LEADER_ID, pid ${HA_LEADER_PID:-?})"
}

# ha_leader_known: for wait_for: a latch names one of our jobmanagers.
ha_leader_known() {
    ha_leader && [ -n "$HA_LEADER_PID" ]
}

# ha_new_leader OLD_ID [SKIP_PORT]: for wait_for: one of our live
# jobmanagers (not the one on SKIP_PORT: a stopped one never answers)
# answers `sluice -m` as the leader (exit 0), and ZooKeeper agrees: the
# lowest latch is its port with a leader id above OLD_ID (so not the latch
# of a dead jobmanager's session that has not expired yet). Sets HA_LEADER_*.
ha_new_leader() {
    local old="$1" skip="${2:-}" p found=""
    for p in "${HA_JM_PORTS[@]}"; do
        [ "$p" != "$skip" ] || continue
        sl_pid_alive "${HA_JM_PID[$p]}" || continue
        ha_at "$p" list
        echo "sluice -m 127.0.0.1:$p list: exit $SL_RC: $SL_ERR"
        if [ "$SL_RC" -eq 0 ]; then
            found="$p"
            break
        fi
    done
    [ -n "$found" ] || return 1
    ha_leader || return 1
    [ "$HA_LEADER_PORT" = "$found" ] && [ "$HA_LEADER_ID" -gt "$old" ]
}

# ha_signal_leader SIGNAL: SIGNAL to the current leader; sets
# HA_VICTIM_PORT, HA_VICTIM_PID, HA_VICTIM_ID and SL_KILL_MS (just before).
ha_signal_leader() {
    ha_leader >/dev/null || fail "no leader in ZooKeeper to send SIG$1 to"
    [ -n "$HA_LEADER_PID" ] || fail "the leader $HA_LEADER_ADDR is none of our jobmanagers (${HA_JM_PORTS[*]})"
    sl_pid_is_sluice "$HA_LEADER_PID" jobmanager || fail "the leader's pid $HA_LEADER_PID is no live sluice-jobmanager"
    HA_VICTIM_PORT="$HA_LEADER_PORT" HA_VICTIM_PID="$HA_LEADER_PID" HA_VICTIM_ID="$HA_LEADER_ID"
    echo "sending SIG$1 to the leader on port $HA_VICTIM_PORT (pid $HA_VICTIM_PID, leader id $HA_VICTIM_ID) at $(date +%T.%N | cut -c1-12)"
    SL_KILL_MS="$(sl__now_ms)"
    kill -s "$1" "$HA_VICTIM_PID"
}

# ha_pid_stopped PID: for wait_for: PID is stopped (state T).
ha_pid_stopped() {
    [ "$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = T ]
}

# ha_at PORT CMD ARGS...: the CLI to the jobmanager on PORT (-m), into
# SL_RC/SL_OUT/SL_ERR.
ha_at() {
    local port="$1"
    shift
    sl_run sl_cli -m "127.0.0.1:$port" "$@"
}

# ha_tms_running_at PORT N: for wait_for: the jobmanager on PORT lists N
# RUNNING taskmanagers.
ha_tms_running_at() {
    local n
    ha_at "$1" taskmanagers
    echo "taskmanagers at port $1: exit $SL_RC: $SL_OUT $SL_ERR"
    echo "(want $2 RUNNING; taskmanagers find the leader through ZooKeeper: sluice.yaml's jobmanager.rpc.port $SL_JM_PORT is no jobmanager's)"
    [ "$SL_RC" -eq 0 ] || return 1
    n="$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)"
    [ "$n" -eq "$2" ]
}

# ha_job_running_at PORT JOBID: for wait_for: the jobmanager on PORT says
# the job is RUNNING with every task RUNNING or FINISHED (leaves SL_OUT).
ha_job_running_at() {
    local tasks
    ha_at "$1" info "$2"
    echo "info at port $1: exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    [ "$(sl_field "$SL_OUT" state)" = RUNNING ] || return 1
    tasks="$(sl_tasks "$SL_OUT")"
    [ -n "$tasks" ] || return 1
    awk '$4 == "RUNNING" { r = 1 } $4 != "RUNNING" && $4 != "FINISHED" { bad = 1 } END { exit bad || !r }' <<<"$tasks"
}

# ha_ckpt_above_at PORT JOBID ID: for wait_for: the latest completed
# checkpoint the jobmanager on PORT reports is above ID; sets HA_CKPT_ID,
# HA_CKPT_URI.
ha_ckpt_above_at() {
    local l
    ha_at "$1" checkpoints "$2"
    echo "checkpoints at port $1: exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] || return 1
    l="$(sl_ckpt_latest "$SL_OUT")"
    HA_CKPT_ID="${l%% *}" HA_CKPT_URI="${l#* }"
    [[ "$HA_CKPT_ID" =~ ^[0-9]+$ ]] && [ "$HA_CKPT_ID" -gt "$3" ]
}

# ha_list_state JOBID: sets HA_LIST_STATE to the job's state in `sluice
# list -a` (through ZooKeeper; empty if not listed or the call failed);
# leaves the output in SL_OUT.
ha_list_state() {
    HA_LIST_STATE=""
    sl_run sl_cli list -a
    [ "$SL_RC" -eq 0 ] || return 0
    HA_LIST_STATE="$(awk -v j="$1" '$1 == j { print $2; exit }' <<<"$SL_OUT")"
}

# ha_list_state_is JOBID STATE: for wait_for.
ha_list_state_is() {
    ha_list_state "$1"
    echo "list -a: exit $SL_RC, $1 is ${HA_LIST_STATE:-not listed} (want $2): $SL_OUT $SL_ERR"
    [ "$HA_LIST_STATE" = "$2" ]
}

# ha_cli_finds_leader: for wait_for: `sluice taskmanagers` without -m
# reaches a jobmanager (through ZooKeeper).
ha_cli_finds_leader() {
    sl_run sl_cli taskmanagers
    echo "sluice taskmanagers (no -m): exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ]
}

# ------------------------------------------------------------- logs

# ha_log_size PORT: bytes in the log of the jobmanager on PORT.
ha_log_size() {
    stat -c %s "${HA_JM_LOG[$1]}"
}

# ha_log_since PORT OFFSET: its log from byte OFFSET on.
ha_log_since() {
    tail -c +"$(($2 + 1))" "${HA_JM_LOG[$1]}"
}

# ha_log_since_matches PORT OFFSET ERE: for wait_for.
ha_log_since_matches() {
    ha_log_since "$1" "$2" | grep -E -- "$3"
}

# ha_max_triggered PORT JOBID: the highest checkpoint id the jobmanager on
# PORT logged triggering for the job (0 if none).
ha_max_triggered() {
    { grep -oE "triggering [a-z ]*[0-9]+ for job $2" "${HA_JM_LOG[$1]}" || true; } |
        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) id = $i; if (id > m) m = id } END { print m + 0 }'
}

# ------------------------------------------------------------- clusters

# ha_cluster NJM NTM [KEY VALUE]...: a new cluster (taskmanagers of 1 slot,
# further sluice.yaml keys as pairs), a local ZooKeeper, the HA keys, NJM
# jobmanagers and NTM taskmanagers; returns once a leader is elected (in
# ZooKeeper), it lists NTM RUNNING taskmanagers, and the CLI without -m
# reaches it. HA_LEADER_* describe the leader.
ha_cluster() {
    local njm="$1" ntm="$2" i
    shift 2
    sl_new_cluster
    sl_conf_set taskmanager.numberOfTaskSlots 1
    while [ "$#" -ge 2 ]; do
        sl_conf_set "$1" "$2"
        shift 2
    done
    ha_start_zookeeper
    ha_conf
    for ((i = 0; i < njm; i++)); do ha_start_jm ""; done
    wait_for -t 30 ha_leader_known
    echo "leader elected: $HA_LEADER_ADDR (pid $HA_LEADER_PID, leader id $HA_LEADER_ID)"
    ha_start_tms "$ntm"
    wait_for -t 30 ha_tms_running_at "$HA_LEADER_PORT" "$ntm"
    wait_for -t 30 ha_cli_finds_leader
    echo "cluster: ${#HA_JM_PORTS[@]} jobmanager(s) on ports ${HA_JM_PORTS[*]}, $ntm taskmanagers, ZooKeeper 127.0.0.1:$HA_ZK_PORT, cluster-id $HA_CID"
}

# ha_wordcount_job NAME BYTES SECONDS [INTERVAL]: the word count of
# sl_wordcount_setup (BYTES of input read in about SECONDS) at parallelism
# 2, exactly-once, a checkpoint every INTERVAL [300 ms], submitted
# detached; sets SL_JOBID.
ha_wordcount_job() {
    sl_wordcount_setup "$2" "$3"
    sl_write_file_job "$SL_DATA/job.yaml" "$1" "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
        "  execution.checkpointing.interval: ${4:-300 ms}
  execution.checkpointing.mode: EXACTLY_ONCE"
    sl_submit_detached "$SL_DATA/job.yaml"
    echo "job $SL_JOBID submitted"
}

# ha_takeover JOBID [SKIP_PORT]: after the leader HA_VICTIM_ID was killed
# or stopped (SL_KILL_MS): waits until a jobmanager (not the one on
# SKIP_PORT) leads with a higher leader id
# (within the session timeout + SL_HA_TAKEOVER_MARGIN_MS) and runs the job
# again (every task deployed). Sets HA_T_LEADER_MS and HA_T_RUNNING_MS
# (times from SL_KILL_MS), HA_NEW_PORT and HA_INFO (that info output).
ha_takeover() {
    local jobid="$1" bound
    bound=$(($(ha_ms "$HA_SESSION_TIMEOUT") + HA_TAKEOVER_MARGIN_MS))
    wait_for -t $((bound / 1000 + 30)) ha_new_leader "$HA_VICTIM_ID" "${2:-}"
    HA_T_LEADER_MS=$(($(sl__now_ms) - SL_KILL_MS))
    HA_NEW_PORT="$HA_LEADER_PORT"
    echo "new leader on port $HA_NEW_PORT (pid $HA_LEADER_PID, leader id $HA_LEADER_ID) $HA_T_LEADER_MS ms after the signal"
    [ "$HA_T_LEADER_MS" -le "$bound" ] ||
        fail "the standby took over $HA_T_LEADER_MS ms after the signal; session timeout $HA_SESSION_TIMEOUT + margin = $bound ms"
    wait_for -t 60 ha_job_running_at "$HA_NEW_PORT" "$jobid"
    HA_T_RUNNING_MS=$(($(sl__now_ms) - SL_KILL_MS))
    HA_INFO="$SL_OUT"
    echo "job $jobid RUNNING under the new leader $HA_T_RUNNING_MS ms after the signal ($(grep -E '^restored from:' <<<"$HA_INFO" || echo 'no restored from line'))"
    assert_eq "$jobid" "$(sl_field "$HA_INFO" job)" "JobID in the new leader's info"
}

# ha_check_recovered_info INFO: the info says a new leader recovered the
# job: "recovered: by a new leader at <time> from checkpoint <id> <uri>".
ha_check_recovered_info() {
    grep -qE '^recovered: by a new leader ' <<<"$1" ||
        fail "'sluice info' does not say the job was recovered by a new leader (no 'recovered: by a new leader ...' line):"$'\n'"$1"
}

# ha_recovered_id INFO: the checkpoint id of its "recovered: by a new
# leader at <time> from checkpoint <id> <uri>" line (empty if none).
ha_recovered_id() {
    sed -n -E 's/^recovered: by a new leader .* from checkpoint ([0-9]+) .*/\1/p' <<<"$1" | head -n 1
}

# ha_restored_id INFO: the id of its "restored from: ID URI" line (empty if none).
ha_restored_id() {
    sed -n -E 's/^restored from: ([0-9]+) .*/\1/p' <<<"$1" | head -n 1
}

# ha_zk_job_gone JOBID: for wait_for: no ZooKeeper node and no file under
# storageDir names the job any more (a terminal job is cleaned up).
ha_zk_job_gone() {
    local left
    left="$(ha_zk_children "$HA_ZK_ROOT/$HA_CID/jobs")" || { echo "ZooKeeper did not answer"; return 1; }
    if grep -qx "$1" <<<"$left"; then
        echo "$HA_ZK_ROOT/$HA_CID/jobs still lists $1"
        return 1
    fi
    left="$(find "$HA_STORAGE" -name "*$1*" 2>/dev/null | head -n 5)"
    [ -z "$left" ] || { echo "storageDir still holds: $left"; return 1; }
}
