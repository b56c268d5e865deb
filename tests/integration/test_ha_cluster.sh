#!/usr/bin/env bash
# High availability on one host (interface.md section 8): a local ZooKeeper,
# conf/masters with two `localhost:PORT` lines, two taskmanagers.
# start-cluster.sh starts both jobmanagers (one leader, one standby) and
# waits for the taskmanagers through the leader; the CLI without -m finds the
# leader through ZooKeeper; `sluice -m <standby>` exits 3 with "not the
# leader; the leader is <leader>"; a word count submitted without -m
# finishes with the exact output; after kill -9 of the leader the CLI
# without -m (also an attached run waiting for a job) rides the failover to
# the former standby, which shows the job as recovered ("recovered: by a new
# leader at <time> from checkpoint <id> <uri>"); stop-cluster.sh stops every
# daemon; without a leader, and without ZooKeeper, the CLI says so in one
# line naming the quorum and the leader path (exit 3).
. "$(dirname "$0")/lib.sh"
# a ZooKeeper of a failed run dies with the test too (ha_lib.sh's exit trap)
. "$(dirname "$0")/ha_lib.sh"

ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZK_CLI=/usr/share/zookeeper/bin/zkCli.sh

# 0 if pid is a live ZooKeeper server.
zk_pid_alive() {
    sl_pid_alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$ZK_MAIN"
}


[ -f /usr/share/java/zookeeper.jar ] || fail "Debian's zookeeper package is not installed (make deps)"
[ -x "$ZK_CLI" ] || fail "$ZK_CLI not found (Debian's zookeeper package, make deps)"

# zk_leader: the address in the lowest latch under the cluster's leader
# folder, read with ZooKeeper's own CLI (empty if none).
zk_leader() {
    local latches first
    latches="$("$ZK_CLI" -server "127.0.0.1:$zk_port" ls "$leader_dir" 2>/dev/null | grep '^\[' | tail -n 1)" || true
    first="$(tr -d '[] ' <<<"$latches" | tr ',' '\n' | grep '^latch-' | LC_ALL=C sort | head -n 1)" || true
    [ -n "$first" ] || return 0
    "$ZK_CLI" -server "127.0.0.1:$zk_port" get "$leader_dir/$first" 2>/dev/null | tail -n 1
}

# jm_answers ADDR: `sluice -m ADDR list` exits 0 (ADDR is the leader).
jm_answers() {
    sl_run sl_cli -m "$1" list
    echo "sluice -m $1 list: exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ]
}

# cli_no_leader: `sluice list` (no -m) exits 3 saying no leader is elected.
cli_no_leader() {
    sl_run sl_cli list
    echo "exit $SL_RC: $SL_ERR"
    [ "$SL_RC" -eq 3 ] && [[ "$SL_ERR" == *"no leader is elected"* ]]
}

# two_tms_running: `sluice taskmanagers` (no -m) lists 2 RUNNING.
two_tms_running() {
    sl_run sl_cli taskmanagers
    echo "exit $SL_RC: $SL_OUT $SL_ERR"
    [ "$SL_RC" -eq 0 ] && [ "$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)" -eq 2 ]
}

sl_new_cluster
sl_pick_port
zk_port="$SL_PORT"
printf 'tickTime=500\ndataDir=%s/zkdata\nclientPort=%s\nadmin.enableServer=false\n' \
    "$SL_ROOT" "$zk_port" >"$SL_CONF/zoo.cfg"
sl_run sl_script zookeeper.sh start
assert_eq 0 "$SL_RC" "zookeeper.sh start exit code (stderr: $SL_ERR)"

cid="$SL_TEST-$$-$RANDOM"
leader_dir="/sluice/$cid/leader"
sl_conf_set high-availability.type zookeeper
sl_conf_set high-availability.zookeeper.quorum "127.0.0.1:$zk_port"
sl_conf_set high-availability.storageDir "file://$SL_ROOT/ha"
sl_conf_set high-availability.cluster-id "$cid"
sl_conf_set high-availability.zookeeper.client.session-timeout "3 s"
sl_conf_set heartbeat.timeout "3 s"

# The first jobmanager on the configured port, the second on another one.
jm_a="127.0.0.1:$SL_JM_PORT"
sl_pick_port
jm_b="127.0.0.1:$SL_PORT"
printf '# two jobmanagers\nlocalhost:%s\n\nlocalhost:%s  # standby\n' "$SL_JM_PORT" "$SL_PORT" >"$SL_CONF/masters"
printf 'localhost\nlocalhost\n' >"$SL_CONF/workers"

sl_run sl_script start-cluster.sh
assert_eq 0 "$SL_RC" "start-cluster.sh exit code; stdout: $SL_OUT; stderr: $SL_ERR"
assert_contains "$SL_OUT" "2 jobmanager(s)" "start-cluster.sh output"
mapfile -t jm_pids < <(sl_pidfile_pids jobmanager)
mapfile -t tm_pids < <(sl_pidfile_pids taskmanager)
assert_eq 2 "${#jm_pids[@]}" "jobmanager pids in the pid file"
assert_eq 2 "${#tm_pids[@]}" "taskmanager pids in the pid file"
for pid in "${jm_pids[@]}"; do
    sl_pid_is_sluice "$pid" jobmanager || fail "pid $pid of the jobmanager pid file is not a live sluice-jobmanager"
done
for f in sluice-jobmanager.log sluice-jobmanager-1.log; do
    [ -f "$SL_LOG/$f" ] || fail "log $SL_LOG/$f missing; logs: $(ls "$SL_LOG")"
done
assert_contains "$(cat "$SL_LOG/sluice-jobmanager.log" "$SL_LOG/sluice-jobmanager-1.log")" \
    "jobmanager.rpc.port=${jm_b##*:}" "the jobmanager logs (the start line of the second one)"

# Who leads: ZooKeeper's lowest latch; that one answers, the other refers to it.
leader="$(zk_leader)"
case "$leader" in
    "$jm_a") standby="$jm_b" ;;
    "$jm_b") standby="$jm_a" ;;
    *) fail "the lowest latch under $leader_dir holds '$leader', expected $jm_a or $jm_b" ;;
esac
echo "leader $leader, standby $standby"
wait_for two_tms_running
sl_run sl_cli list -a
assert_eq 0 "$SL_RC" "sluice list -a (no -m) exit code; stderr: $SL_ERR"
assert_eq "" "$SL_OUT" "sluice list -a before any job"
sl_run sl_cli -m "$leader" taskmanagers
assert_eq 0 "$SL_RC" "sluice -m <leader> taskmanagers exit code; stderr: $SL_ERR"
sl_run sl_cli -m "$standby" list
assert_eq 3 "$SL_RC" "sluice -m <standby> list exit code; stdout: $SL_OUT; stderr: $SL_ERR"
assert_eq "sluice: not the leader; the leader is $leader" "$SL_ERR" "sluice -m <standby> list stderr"
assert_eq "" "$SL_OUT" "sluice -m <standby> list stdout"

# A word count submitted without -m, attached: it ends FINISHED, exactly once.
sl_gen_text "$SL_DATA/input.txt" 300000
sl_reference "$SL_DATA/input.txt" "$SL_DATA/reference.txt"
sl_write_file_job "$SL_DATA/job.yaml" ha-wordcount "$SL_DATA/input.txt" "$SL_DATA/out" 2 \
    "    rate: $(sl_rate_for "$SL_DATA/input.txt" 3)" "  execution.checkpointing.interval: 300 ms"
sl_run sl_cli run "$SL_DATA/job.yaml"
assert_eq 0 "$SL_RC" "sluice run (no -m) exit code; stdout: $SL_OUT; stderr: $SL_ERR"
jobid="$(sl_jobid_of "$SL_OUT")"
[ -n "$jobid" ] || fail "sluice run printed no JobID:"$'\n'"$SL_OUT"
assert_contains "$SL_OUT" "Job $jobid finished with state FINISHED" "sluice run output"
sl_check_exactly_once "$SL_DATA/out" "$SL_DATA/reference.txt"
sl_run sl_cli list -a
assert_eq "$jobid FINISHED ha-wordcount" "$SL_OUT" "sluice list -a (no -m) after the job"

# An attached run of a slow job (about 120 s of input) while the leader is
# killed with -9: the CLI without -m waits out the failover by itself (the
# dead leader's latch lives until its session times out, 3 s) and follows
# the former standby, which ZooKeeper names now and which recovers the job
# from its latest checkpoint; cancelled there, the attached run reports it.
sl_write_file_job "$SL_DATA/slow.yaml" ha-slow "$SL_DATA/input.txt" "$SL_DATA/slow-out" 2 \
    "    rate: $(sl_rate_for "$SL_DATA/input.txt" 120)" "  execution.checkpointing.interval: 300 ms"
sl_cli run "$SL_DATA/slow.yaml" >"$SL_DATA/slow-run.out" 2>&1 &
run_pid=$!
sl_record_pid "$run_pid"
wait_for grep -q "^Job has been submitted with JobID" "$SL_DATA/slow-run.out"
slow_id="$(sl_jobid_of "$(cat "$SL_DATA/slow-run.out")")"
wait_for sl_ckpt_completed_at_least "$slow_id" 2
before_kill="$(sl_latest_ckpt_id "$slow_id")"

leader_pid="" # start-cluster.sh started each with -D jobmanager.rpc.port=PORT
for pid in "${jm_pids[@]}"; do
    if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "jobmanager.rpc.port=${leader##*:}"; then leader_pid="$pid"; fi
done
[ -n "$leader_pid" ] || fail "no jobmanager pid of the leader $leader among ${jm_pids[*]}"
kill -KILL "$leader_pid"
wait_for sl_pid_gone "$leader_pid"
t0="$(sl__now_ms)"
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "sluice taskmanagers (no -m) right after the leader was killed; stderr: $SL_ERR"
echo "the CLI reached the new leader $(($(sl__now_ms) - t0)) ms after the leader was killed"
assert_eq "$standby" "$(zk_leader)" "the leader in ZooKeeper after the failover"
jm_answers "$standby" || fail "the former standby $standby does not answer as the leader: $SL_ERR"
sl_run sl_cli -m "$leader" list
assert_eq 3 "$SL_RC" "sluice -m <killed leader> list exit code"
assert_contains "$SL_ERR" "cannot reach the jobmanager at $leader" "sluice -m <killed leader> list stderr"

sl_run sl_cli list -a
assert_match "$SL_OUT" "^$slow_id [A-Z]+ ha-slow\$" "sluice list -a (no -m) after the failover"
sl_info "$slow_id"
assert_eq 0 "$SL_RC" "sluice info of the recovered job; stderr: $SL_ERR"
recovered="$(grep '^recovered:' <<<"$SL_OUT" || true)"
[[ "$recovered" =~ ^recovered:\ by\ a\ new\ leader\ at\ [0-9-]+T[0-9:.]+\ from\ checkpoint\ ([0-9]+)\ (.*)$ ]] ||
    fail "sluice info of the recovered job has no 'recovered: by a new leader at <time> from checkpoint <id> <uri>' line:"$'\n'"$SL_OUT"
from_id="${BASH_REMATCH[1]}" from_uri="${BASH_REMATCH[2]}"
assert_ge "$before_kill" "$from_id" "the checkpoint the job was recovered from (latest before the kill: $before_kill)"
assert_eq "$SL_ROOT/checkpoints/$slow_id/chk-$from_id" "$(sl_uri_path "$from_uri")" \
    "the folder of the checkpoint the job was recovered from"
sl_pid_alive "$run_pid" || fail "the attached run ended with the leader:"$'\n'"$(cat "$SL_DATA/slow-run.out")"
sl_run sl_cli cancel "$slow_id"
assert_eq 0 "$SL_RC" "sluice cancel (no -m) of the recovered job; stderr: $SL_ERR"
wait_for sl_pid_gone "$run_pid"
run_rc=0
wait "$run_pid" || run_rc=$?
assert_eq 1 "$run_rc" "exit code of the attached run of the cancelled job; its output: $(cat "$SL_DATA/slow-run.out")"
assert_eq "Job has been submitted with JobID $slow_id"$'\n'"Job $slow_id finished with state CANCELED" \
    "$(cat "$SL_DATA/slow-run.out")" "the attached run's output"

# stop-cluster.sh stops every daemon.
sl_run sl_script stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh exit code; stderr: $SL_ERR"
for pid in "${jm_pids[@]}" "${tm_pids[@]}"; do
    if sl_pid_alive "$pid"; then fail "pid $pid still alive after stop-cluster.sh:"$'\n'"$SL_OUT"; fi
done
[ -z "$(ls -A "$SL_PIDDIR" | grep -v zookeeper)" ] || fail "stop-cluster.sh left pid files: $(ls -A "$SL_PIDDIR")"

# No jobmanager: one line naming the quorum and the path, exit 3.
wait_for cli_no_leader
assert_eq "sluice: no leader is elected: ZooKeeper at 127.0.0.1:$zk_port lists no jobmanager under $leader_dir" \
    "$SL_ERR" "sluice list without a jobmanager"

sl_run sl_script zookeeper.sh stop
assert_eq 0 "$SL_RC" "zookeeper.sh stop exit code; stderr: $SL_ERR"
sl_run sl_cli -D high-availability.zookeeper.client.connection-timeout=2s list
assert_eq 3 "$SL_RC" "sluice list without ZooKeeper exit code"
assert_eq "sluice: cannot reach ZooKeeper at 127.0.0.1:$zk_port to find the leader under $leader_dir: no session within 2000 ms" \
    "$SL_ERR" "sluice list without ZooKeeper"
echo "PASS"
