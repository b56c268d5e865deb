#!/usr/bin/env bash
# The cluster scripts: start-cluster.sh brings up 1 jobmanager + 2
# taskmanagers that the jobmanager lists as RUNNING with their real pids; a
# second cluster (other folders, other ports) runs side by side without
# either seeing the other's taskmanagers; stop-cluster.sh stops every daemon
# it started and only those; conf/masters that need high availability are
# refused without it.
. "$(dirname "$0")/lib.sh"

# check_own_taskmanagers WHAT: `sluice taskmanagers` of the current cluster
# lists exactly its 2 taskmanagers, RUNNING, 2 slots each all free, with the
# pids of its pid file, on distinct addresses.
check_own_taskmanagers() {
    local what="$1" lines listed expected
    sl_run sl_cli taskmanagers
    assert_eq 0 "$SL_RC" "$what: 'sluice taskmanagers' exit code (stderr: $SL_ERR)"
    lines="$(grep -c . <<<"$SL_OUT" || true)"
    assert_eq 2 "$lines" "$what: number of taskmanager lines in:"$'\n'"$SL_OUT"$'\n'
    awk 'NF != 6 || $6 != "RUNNING" || $4 != 2 || $5 != 2 { bad = 1 } END { exit bad }' <<<"$SL_OUT" ||
        fail "$what: expected 2 lines '<tm-id> <host:port> <pid> 2 2 RUNNING', got:"$'\n'"$SL_OUT"
    assert_eq 2 "$(awk '{ print $1 }' <<<"$SL_OUT" | sort -u | wc -l)" "$what: distinct tm-ids"
    assert_eq 2 "$(awk '{ print $2 }' <<<"$SL_OUT" | sort -u | wc -l)" "$what: distinct host:port"
    assert_match "$SL_OUT" '^[^ ]+ [^ ]+:[0-9]+ [0-9]+ ' "$what: taskmanagers"
    listed="$(awk '{ print $3 }' <<<"$SL_OUT" | sort -n | tr '\n' ' ')"
    expected="$(sl_pidfile_pids taskmanager | sort -n | tr '\n' ' ')"
    assert_eq "$expected" "$listed" "$what: pids listed by 'sluice taskmanagers' vs the taskmanager pid file"
}

# Cluster A.
sl_new_cluster
a_root="$SL_ROOT"
a_port="$SL_JM_PORT"
sl_start_cluster 2
check_own_taskmanagers "cluster A"

mapfile -t a_jm < <(sl_pidfile_pids jobmanager)
mapfile -t a_tm < <(sl_pidfile_pids taskmanager)
assert_eq 1 "${#a_jm[@]}" "cluster A: jobmanager pids in its pid file"
assert_eq 2 "${#a_tm[@]}" "cluster A: taskmanager pids in its pid file"
sl_pid_is_sluice "${a_jm[0]}" jobmanager || fail "cluster A: pid ${a_jm[0]} of the jobmanager pid file is not a live sluice-jobmanager"
for pid in "${a_tm[@]}"; do
    sl_pid_is_sluice "$pid" taskmanager || fail "cluster A: pid $pid of the taskmanager pid file is not a live sluice-taskmanager"
done
for f in sluice-jobmanager.log sluice-taskmanager-0.log sluice-taskmanager-1.log; do
    [ -f "$SL_LOG/$f" ] || fail "cluster A: log $SL_LOG/$f missing; logs: $(ls "$SL_LOG")"
done

# A second jobmanager for the same pid file is refused.
sl_run sl_script jobmanager.sh start
[ "$SL_RC" -ne 0 ] || fail "jobmanager.sh start succeeded while a jobmanager runs:"$'\n'"$SL_OUT"
assert_eq "${a_jm[*]}" "$(sl_pidfile_pids jobmanager | tr '\n' ' ' | sed 's/ $//')" "jobmanager pid file after the refused start"

# Cluster B beside it.
sl_new_cluster
b_root="$SL_ROOT"
[ "$SL_JM_PORT" != "$a_port" ] || fail "both clusters got port $a_port"
sl_start_cluster 2
check_own_taskmanagers "cluster B"
mapfile -t b_jm < <(sl_pidfile_pids jobmanager)
mapfile -t b_tm < <(sl_pidfile_pids taskmanager)
for pid in "${b_jm[@]}" "${b_tm[@]}"; do
    for other in "${a_jm[@]}" "${a_tm[@]}"; do
        [ "$pid" != "$other" ] || fail "pid $pid is in the pid files of both clusters"
    done
done

sl_use "$a_root"
check_own_taskmanagers "cluster A (beside B)"

# Stopping A leaves none of its daemons and all of B's.
sl_run sl_script stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh (A) exit code; stderr: $SL_ERR"
for pid in "${a_jm[@]}" "${a_tm[@]}"; do
    if sl_pid_alive "$pid"; then fail "pid $pid of cluster A still alive after stop-cluster.sh:"$'\n'"$SL_OUT"; fi
done
for pid in "${a_jm[@]}" "${a_tm[@]}"; do
    assert_contains "$SL_OUT" "$pid" "stop-cluster.sh output (names what it stopped)"
done
[ -z "$(ls -A "$SL_PIDDIR")" ] || fail "stop-cluster.sh left pid files: $(ls -A "$SL_PIDDIR")"

sl_use "$b_root"
for pid in "${b_jm[@]}" "${b_tm[@]}"; do
    sl_pid_is_sluice "$pid" || fail "pid $pid of cluster B died when cluster A was stopped"
done
check_own_taskmanagers "cluster B (after A stopped)"

sl_run sl_script stop-cluster.sh
assert_eq 0 "$SL_RC" "stop-cluster.sh (B) exit code; stderr: $SL_ERR"
for pid in "${b_jm[@]}" "${b_tm[@]}"; do
    if sl_pid_alive "$pid"; then fail "pid $pid of cluster B still alive after stop-cluster.sh"; fi
done
[ -z "$(ls -A "$SL_PIDDIR")" ] || fail "stop-cluster.sh left pid files: $(ls -A "$SL_PIDDIR")"

# conf/masters that cannot work without high availability are refused
# before anything starts: two jobmanagers, a port other than jobmanager.rpc.port.
sl_new_cluster
echo localhost >"$SL_CONF/workers"
printf 'localhost:%s
localhost:%s
' "$SL_JM_PORT" "$((SL_JM_PORT + 1))" >"$SL_CONF/masters"
sl_run sl_script start-cluster.sh
assert_eq 1 "$SL_RC" "start-cluster.sh with two masters lines and no HA: exit code"
assert_contains "$SL_ERR" "lists 2 jobmanagers, but several jobmanagers need high-availability.type: zookeeper" \
    "start-cluster.sh with two masters lines and no HA: stderr"
printf '# the jobmanager\n127.0.0.1:%s\n' "$((SL_JM_PORT + 1))" >"$SL_CONF/masters"
sl_run sl_script start-cluster.sh
assert_eq 1 "$SL_RC" "start-cluster.sh with a masters port other than jobmanager.rpc.port: exit code"
assert_contains "$SL_ERR" "names port $((SL_JM_PORT + 1)), but without high availability" \
    "start-cluster.sh with a masters port other than jobmanager.rpc.port: stderr"
[ -z "$(ls -A "$SL_PIDDIR")" ] || fail "a refused start-cluster.sh left pid files: $(ls -A "$SL_PIDDIR")"
echo "ok"
