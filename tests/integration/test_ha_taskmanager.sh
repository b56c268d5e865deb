#!/usr/bin/env bash
# High availability on the taskmanager (issue 13, HA_DESIGN.md), against a
# local ZooKeeper (scripts/zookeeper.sh, tickTime=500 so 3 s sessions are
# allowed):
#  1. fencing, with a leader latch made by hand (zkCli) that names a
#     jobmanager started without HA: the taskmanager finds it in ZooKeeper
#     and registers there, but that jobmanager sends leader id 0, below the
#     latch's id, so its deploy is refused ("stale leader id 0; the highest
#     seen is N") and nothing runs; when the latch goes, the taskmanager
#     forgets it and does not register anywhere.
#  2. failover: two jobmanagers with the same HA config (cluster-id) on
#     different ports, one taskmanager: it registers with the leader found in
#     ZooKeeper and runs a checkpointing word count of it; kill -9 of the
#     leader: it cancels that run, registers with the other one, as its next
#     incarnation, within the session timeout + a few seconds, and runs the
#     job again for the new leader (its leader id is higher: not fenced),
#     which ends FINISHED with exactly-once output.
. "$(dirname "$0")/lib.sh"
# a ZooKeeper of a failed run dies with the test too (ha_lib.sh's exit trap)
. "$(dirname "$0")/ha_lib.sh"

ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZKCLI=/usr/share/zookeeper/bin/zkCli.sh
SESSION_S=3
FAILOVER_BOUND_S=$((SESSION_S + 12)) # session timeout + election + a heartbeat round

[ -f /usr/share/java/zookeeper.jar ] || fail "Debian's zookeeper package is not installed (make deps)"
[ -x "$ZKCLI" ] || fail "$ZKCLI not found (Debian's zookeeper package)"

zk_pid_alive() {
    sl_pid_alive "$1" && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$ZK_MAIN"
}


# zk_cli CMD ARGS...: one zkCli command against the test's server; its
# output without the client's log lines.
zk_cli() {
    "$ZKCLI" -server "127.0.0.1:$zk_port" "$@" 2>&1 | grep -vE '^(Connecting to|WATCHER::|WatchedEvent|$)|log4j|SLF4J' || true
}

# ha_conf CID: the HA keys into the current cluster's sluice.yaml; the
# storage folders are shared by every cluster of the test.
ha_conf() {
    sl_conf_set high-availability.type zookeeper
    sl_conf_set high-availability.zookeeper.quorum "127.0.0.1:$zk_port"
    sl_conf_set high-availability.storageDir "file://$zk_root/ha"
    sl_conf_set state.checkpoints.dir "file://$zk_root/checkpoints"
    sl_conf_set high-availability.cluster-id "$1"
    sl_conf_set high-availability.zookeeper.client.session-timeout "$SESSION_S s"
    sl_conf_set heartbeat.interval "500 ms"
    sl_conf_set heartbeat.timeout "4 s"
}

# logs_of ROOT [ROLE]: the logs of ROLE [taskmanager] of cluster ROOT.
logs_of() {
    cat "$1/log"/sluice-"${2:-taskmanager}"*.log 2>/dev/null || true
}

# log_has ROOT TEXT [ROLE]: for wait_for; ROLE's logs of cluster ROOT hold TEXT.
log_has() {
    logs_of "$1" "${3:-}" | grep -qF -- "$2"
}

# jm_answers PORT: for wait_for; something listens on PORT.
jm_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_jm: the current cluster's jobmanager, once it listens.
start_jm() {
    sl_run sl_script jobmanager.sh start
    [ "$SL_RC" -eq 0 ] || fail "jobmanager.sh start exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
    wait_for jm_answers "$SL_JM_PORT"
}

start_tm() {
    sl_run sl_script taskmanager.sh start
    [ "$SL_RC" -eq 0 ] || fail "taskmanager.sh start exited $SL_RC:"$'\n'"$SL_OUT"$'\n'"$SL_ERR"
}

# ------------------------------------------------------------ ZooKeeper
sl_new_cluster
zk_root="$SL_ROOT"
sl_pick_port
zk_port="$SL_PORT"
printf 'tickTime=500\ndataDir=%s/zkdata\nclientPort=%s\nadmin.enableServer=false\n' \
    "$SL_ROOT" "$zk_port" >"$SL_CONF/zoo.cfg"
sl_run sl_script zookeeper.sh start
assert_eq 0 "$SL_RC" "zookeeper.sh start exit code (stderr: $SL_ERR)"

# ------------------------------------------------- 1. fencing by leader id
cid1="tm-fence-$$"
sl_new_cluster # a jobmanager without HA: sends leader id 0
plain="$SL_ROOT"
plain_port="$SL_JM_PORT"
start_jm

sl_new_cluster # the taskmanager, with HA
tm1="$SL_ROOT"
ha_conf "$cid1"
start_tm
wait_for log_has "$tm1" "connected to ZooKeeper"
wait_for log_has "$tm1" "no jobmanager leader is known (ZooKeeper): not registering yet"

# a latch by hand (persistent: zkCli's session ends with the command)
for p in /sluice "/sluice/$cid1" "/sluice/$cid1/leader"; do zk_cli create "$p" >/dev/null; done
out="$(zk_cli create -s "/sluice/$cid1/leader/latch-" "127.0.0.1:$plain_port")"
latch="$(grep -oE "latch-[0-9]{10}" <<<"$out" | head -n 1)"
[ -n "$latch" ] || fail "zkCli made no latch: $out"
latch_id=$((10#${latch#latch-} + 1))
echo "latch $latch: leader id $latch_id, jobmanager port $plain_port"
wait_for log_has "$tm1" "the jobmanager leader is tcp://127.0.0.1:$plain_port (leader id $latch_id)"
wait_for log_has "$tm1" "registered at the jobmanager tcp://127.0.0.1:$plain_port as"
wait_for log_has "$plain" "registered:" jobmanager

# its deploy carries leader id 0: refused, nothing runs
sl_use "$plain"
mkdir -p "$SL_DATA/out"
printf 'a b\nb c\n' >"$SL_DATA/in.txt"
sl_write_file_job "$SL_DATA/job.yaml" fenced "$SL_DATA/in.txt" "$SL_DATA/out" 1 "" \
    "  restart-strategy.type: none"
sl_submit_detached "$SL_DATA/job.yaml"
refusal="stale leader id 0; the highest seen is $latch_id"
wait_for log_has "$tm1" "refusing a deploy with $refusal"
wait_for log_has "$plain" "$refusal" jobmanager
assert_not_contains "$(logs_of "$tm1")" "deployed " "taskmanager log"
wait_for sl_job_state_is "$SL_JOBID" FAILED

# the latch goes: the jobmanager is forgotten, nobody is registered with
zk_cli delete "/sluice/$cid1/leader/$latch" >/dev/null
wait_for log_has "$tm1" "no jobmanager is the leader (none runs for leader in ZooKeeper)"
wait_for log_has "$tm1" "forgetting the jobmanager tcp://127.0.0.1:$plain_port: no jobmanager is the leader any more"
sl_use "$tm1"
sl_run sl_script taskmanager.sh stop
assert_eq 0 "$SL_RC" "taskmanager.sh stop (stderr: $SL_ERR)"
sl_use "$plain"
sl_run sl_script jobmanager.sh stop
echo "fencing: OK"

# ---------------------------------------------------------- 2. failover
cid2="tm-failover-$$"
sl_new_cluster
a="$SL_ROOT"
a_port="$SL_JM_PORT"
ha_conf "$cid2"
sl_new_cluster
b="$SL_ROOT"
b_port="$SL_JM_PORT"
ha_conf "$cid2"
sl_use "$a"
start_jm
sl_use "$b"
start_jm
sl_new_cluster # the taskmanager's
tm2="$SL_ROOT"
ha_conf "$cid2"
start_tm

# the leader in ZooKeeper: the lowest latch
leader_port() {
    local names lowest
    names="$(zk_cli ls "/sluice/$cid2/leader" | grep -oE 'latch-[0-9]{10}' | sort)"
    lowest="$(head -n 1 <<<"$names")"
    [ -n "$lowest" ] || return 1
    zk_cli get "/sluice/$cid2/leader/$lowest" | grep -oE '^127\.0\.0\.1:[0-9]+$' | cut -d: -f2
}
wait_for -t 30 leader_port
first="$(leader_port)"
case "$first" in
    "$a_port") first_root="$a" other_port="$b_port" other_root="$b" ;;
    "$b_port") first_root="$b" other_port="$a_port" other_root="$a" ;;
    *) fail "the leader latch names port '$first', neither $a_port nor $b_port" ;;
esac
echo "leader: port $first; standby: port $other_port"
wait_for log_has "$tm2" "registered at the jobmanager tcp://127.0.0.1:$first as"
registered="$(logs_of "$tm2" | grep -F "registered at the jobmanager" | tail -n 1)"
echo "$registered"
assert_contains "$registered" "(incarnation 0," "first registration"

# a checkpointing word count of ~20 s on the leader, running on the taskmanager
sl_use "$first_root"
sl_wordcount_setup 1500000 20
sl_write_file_job "$SL_DATA/job.yaml" ha-failover "$SL_TEXT" "$SL_OUTDIR" 1 "    rate: $SL_RATE" \
    "  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
wait_for log_has "$tm2" "of job $jobid attempt"
wait_for sl_ckpt_completed_at_least "$jobid" 2

mapfile -t jm_pids < <(sl_pidfile_pids jobmanager)
[ "${#jm_pids[@]}" -ge 1 ] || fail "no jobmanager pid in $first_root"
t0="$(sl__now_ms)"
kill -KILL "${jm_pids[@]}"
wait_for -t "$FAILOVER_BOUND_S" log_has "$tm2" "registered at the jobmanager tcp://127.0.0.1:$other_port as"
took=$(($(sl__now_ms) - t0))
echo "registered with the other jobmanager $took ms after kill -9 of the leader"
again="$(logs_of "$tm2" | grep -F "registered at the jobmanager tcp://127.0.0.1:$other_port" | tail -n 1)"
inc="$(sed -n -E 's/.*\(incarnation ([0-9]+),.*/\1/p' <<<"$again")"
[ -n "$inc" ] && [ "$inc" -ge 1 ] || fail "not a later incarnation: $again"
assert_contains "$(logs_of "$tm2")" "the jobmanager leader is tcp://127.0.0.1:$other_port" "taskmanager log"
wait_for log_has "$other_root" "registered:" jobmanager
[ "$took" -le $((FAILOVER_BOUND_S * 1000)) ] || fail "failover took $took ms"
# the old leader's run was cancelled before the new registration
tmlog="$(logs_of "$tm2")"
cancel_at="$(grep -n "cancelling job $jobid attempt" <<<"$tmlog" | head -n 1 | cut -d: -f1)"
again_at="$(grep -n "registered at the jobmanager tcp://127.0.0.1:$other_port" <<<"$tmlog" | head -n 1 | cut -d: -f1)"
[ -n "$cancel_at" ] && [ "$cancel_at" -lt "$again_at" ] ||
    fail "the run of job $jobid was not cancelled before the registration with the new leader:"$'\n'"$tmlog"
assert_not_contains "$tmlog" "refusing a" "taskmanager log (nothing of the new leader is fenced)"

# the new leader recovers the job and runs it here again, to the end
sl_use "$other_root"
wait_for -t 60 bash -c "[ \"\$(cat '$tm2'/log/sluice-taskmanager-*.log | grep -c 'deployed .* of job $jobid attempt')\" -ge 2 ]"
sl_wait_job_end "$jobid" FINISHED 180
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
assert_not_contains "$(logs_of "$tm2")" "refusing a" "taskmanager log"
echo "PASS"
