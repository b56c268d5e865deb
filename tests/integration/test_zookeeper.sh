#!/usr/bin/env bash
# scripts/zookeeper.sh: start returns once the server answers (srvr), a
# second start refuses while it runs, a second server on a port in use is
# refused, stop ends it by pid and waits, and bad zoo.cfg files fail with a
# clear message (ours, or ZooKeeper's own with the end of its log).
. "$(dirname "$0")/lib.sh"
# a ZooKeeper of a failed run dies with the test too (ha_lib.sh's exit trap)
. "$(dirname "$0")/ha_lib.sh"

ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain

# 0 if pid is a live ZooKeeper server.
zk_pid_alive() {
    sl_pid_alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$ZK_MAIN"
}


# zk_srvr PORT: the server's answer to srvr (empty if none within 2 s).
zk_srvr() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf srvr >&3 && cat <&3' "$1" 2>/dev/null || true
}

# write_zoo_cfg PORT [EXTRA LINE...]: the current cluster's zoo.cfg.
write_zoo_cfg() {
    local port="$1"
    shift
    { printf 'tickTime=2000\ndataDir=%s/zkdata\nclientPort=%s\nadmin.enableServer=false\n' "$SL_ROOT" "$port"
      printf '%s\n' "$@"; } >"$SL_CONF/zoo.cfg"
}

[ -f /usr/share/java/zookeeper.jar ] || fail "Debian's zookeeper package is not installed (make deps)"

sl_new_cluster
a_root="$SL_ROOT"
sl_pick_port
zk_port="$SL_PORT"
write_zoo_cfg "$zk_port"

# start: returns once the server answers.
t0="$(sl__now_ms)"
sl_run sl_script zookeeper.sh start
assert_eq 0 "$SL_RC" "zookeeper.sh start exit code (stderr: $SL_ERR)"
echo "start took $(($(sl__now_ms) - t0)) ms"
assert_contains "$SL_OUT" "Starting ZooKeeper" "start output"
assert_contains "$(zk_srvr "$zk_port")" "Mode: standalone" "srvr answer right after start"
pidfile="$SL_PIDDIR/sluice-$SL_USER-zookeeper.pid"
mapfile -t pids <"$pidfile"
assert_eq 1 "${#pids[@]}" "pids in $pidfile"
zk_pid="${pids[0]}"
zk_pid_alive "$zk_pid" || fail "pid $zk_pid of $pidfile is not a live ZooKeeper server"
assert_contains "$(cat "$SL_LOG/sluice-zookeeper.log")" "binding to port" "sluice-zookeeper.log"

# A second start refuses and leaves the running server alone.
sl_run sl_script zookeeper.sh start
[ "$SL_RC" -ne 0 ] || fail "a second start succeeded:"$'\n'"$SL_OUT"
assert_contains "$SL_ERR" "already running (pid $zk_pid" "second start's message"
assert_eq "$zk_pid" "$(cat "$pidfile")" "pid file after the refused start"
zk_pid_alive "$zk_pid" || fail "the refused start hurt the running server"

# Another cluster's server on the same port is refused before java starts.
sl_new_cluster
write_zoo_cfg "$zk_port"
sl_run sl_script zookeeper.sh start
[ "$SL_RC" -ne 0 ] || fail "a server on a port in use started:"$'\n'"$SL_OUT"
assert_contains "$SL_ERR" "port $zk_port on 127.0.0.1 is in use" "port-in-use message"
[ ! -s "$SL_PIDDIR/sluice-$SL_USER-zookeeper.pid" ] || fail "the refused server left a pid file"

# Bad zoo.cfg files: ours to catch, then one ZooKeeper itself refuses.
rm -f "$SL_CONF/zoo.cfg"
sl_run sl_script zookeeper.sh start
[ "$SL_RC" -ne 0 ] || fail "start without zoo.cfg succeeded"
assert_contains "$SL_ERR" "bad zoo.cfg: $SL_CONF/zoo.cfg not found" "missing zoo.cfg message"
printf 'tickTime=2000\ndataDir=%s/zkdata\n' "$SL_ROOT" >"$SL_CONF/zoo.cfg"
sl_run sl_script zookeeper.sh start
[ "$SL_RC" -ne 0 ] || fail "start without clientPort succeeded"
assert_contains "$SL_ERR" "sets no clientPort" "no clientPort message"
sl_pick_port
write_zoo_cfg "$SL_PORT" "clientPort=port"
sl_run sl_script zookeeper.sh start
assert_contains "$SL_ERR" "clientPort 'port'" "bad clientPort message"
write_zoo_cfg "$SL_PORT" "tickTime=often"
sl_run sl_script zookeeper.sh start
[ "$SL_RC" -ne 0 ] || fail "start with tickTime=often succeeded"
assert_contains "$SL_ERR" "exited at start (exit code 2: a bad zoo.cfg" "bad zoo.cfg message"
assert_contains "$SL_ERR" 'For input string: "often"' "ZooKeeper's reason in the log tail"
[ ! -e "$SL_PIDDIR/sluice-$SL_USER-zookeeper.pid" ] || fail "the failed start left a pid file"

# stop: by pid, returns once the server is gone.
sl_use "$a_root"
sl_run sl_script zookeeper.sh stop
assert_eq 0 "$SL_RC" "stop exit code (stderr: $SL_ERR)"
assert_contains "$SL_OUT" "Stopping ZooKeeper (pid $zk_pid)" "stop output"
! zk_pid_alive "$zk_pid" || fail "ZooKeeper (pid $zk_pid) still runs after stop returned"
[ ! -e "$pidfile" ] || fail "stop left $pidfile"
assert_eq "" "$(zk_srvr "$zk_port")" "srvr answer after stop"
sl_run sl_script zookeeper.sh stop
assert_eq 0 "$SL_RC" "second stop exit code"
assert_contains "$SL_OUT" "No ZooKeeper server to stop" "second stop output"

# It starts again on the same dataDir.
sl_run sl_script zookeeper.sh start
assert_eq 0 "$SL_RC" "restart exit code (stderr: $SL_ERR)"
sl_run sl_script zookeeper.sh stop
assert_eq 0 "$SL_RC" "final stop exit code"
echo "PASS"
