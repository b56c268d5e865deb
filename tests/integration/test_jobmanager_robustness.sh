#!/usr/bin/env bash
# The jobmanager survives hostile or broken input: garbage bytes, fake
# oversize frame headers and stalled connections on its port leave it
# serving; a bad job file is rejected with exit 2 and file:line:column; an
# unreachable jobmanager gives exit 3 naming the address; an unknown JobID
# gives exit 1.
. "$(dirname "$0")/lib.sh"

sl_new_cluster
sl_start_cluster 1
port="$SL_JM_PORT"
jm_pid="$(sl_pidfile_pids jobmanager | head -n 1)"
sl_pid_is_sluice "$jm_pid" jobmanager || fail "no live jobmanager in the pid file"

# send_bytes FILE: opens a connection to the jobmanager, writes FILE, closes.
# The jobmanager may drop the connection at any point: that is fine.
# shellcheck disable=SC2016  # $1/$2 expand in the inner bash
send_bytes() {
    timeout 20 bash -c '
        trap "" PIPE
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
        cat "$2" >&3 2>/dev/null
        exec 3>&-
    ' send_bytes "$port" "$1" || true
}

g="$SL_DATA/garbage"
# 64 KiB of random bytes.
head -c 65536 /dev/urandom >"$g.random"
# nng SP handshake of a req0 peer (0x00 'S' 'P' 0x00, protocol 0x0030,
# reserved), then a frame header announcing 2^63-1 bytes, then a few.
{ printf '\0SP\0\0\x30\0\0'; printf '\x7f\xff\xff\xff\xff\xff\xff\xff'; head -c 4096 /dev/urandom; } >"$g.oversize"
# Handshake, then a 16-byte frame: request id with the high bit, garbage body
# (not a valid protobuf), then another frame of 4 GiB.
{
    printf '\0SP\0\0\x30\0\0'
    printf '\0\0\0\0\0\0\0\x10\x80\0\0\x01'
    printf '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff'
    printf '\0\0\0\x01\0\0\0\0'
} >"$g.badproto"
# Handshakes of other protocols, and plain HTTP.
{ printf '\0SP\0\0\x10\0\0'; head -c 100 /dev/urandom; } >"$g.pair"
printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >"$g.http"
: >"$g.empty"

for f in random oversize badproto pair http empty; do
    send_bytes "$g.$f"
done
for _ in $(seq 1 20); do
    head -c 4096 /dev/urandom >"$g.small"
    send_bytes "$g.small"
done

# Stalled connections held open during the checks below: a handshake and
# half a frame header, and a connection that never sends anything.
exec 7<>"/dev/tcp/127.0.0.1/$port"
exec 8<>"/dev/tcp/127.0.0.1/$port"
(
    trap '' PIPE
    printf '\0SP\0\0\x30\0\0\0\0\0' >&7
) 2>/dev/null || true

sl_pid_is_sluice "$jm_pid" jobmanager || fail "the jobmanager (pid $jm_pid) died from garbage input"

sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers' after garbage input (stderr: $SL_ERR)"
running="$(awk '$6 == "RUNNING"' <<<"$SL_OUT" | wc -l)"
assert_eq 1 "$running" "RUNNING taskmanagers after garbage input:"$'\n'"$SL_OUT"$'\n'

# A bad job file: exit 2, file:line:column: message.
bad="$SL_DATA/bad-job.yaml"
cat >"$bad" <<YAML
name: broken
parallelism: 1
pipeline:
  - name: lines
    source: file
    path: $SL_DATA/none.txt
  - name: words
    operator: no-such-operator
  - name: out
    sink: print
YAML
sl_run sl_cli run "$bad"
assert_eq 2 "$SL_RC" "exit code of 'sluice run' with a bad job file (stdout: $SL_OUT; stderr: $SL_ERR)"
loc="$(head -n 1 <<<"$SL_ERR")"
[[ "$loc" =~ ^(file://)?$bad:([0-9]+):([0-9]+):\ .+ ]] ||
    fail "stderr of 'sluice run' with a bad job file does not start with '$bad:<line>:<column>: <message>':"$'\n'"$SL_ERR"
line="${BASH_REMATCH[2]}" col="${BASH_REMATCH[3]}"
if [ "$line" -lt 1 ] || [ "$line" -gt 10 ] || [ "$col" -lt 1 ]; then
    fail "bad job file error points at $line:$col, outside the file (10 lines)"
fi
assert_not_contains "$SL_OUT" "Job has been submitted" "stdout of 'sluice run' with a bad job file"

sl_pid_is_sluice "$jm_pid" jobmanager || fail "the jobmanager (pid $jm_pid) is gone"

# Unreachable jobmanager: exit 3, the message names the address.
sl_pick_port
closed="$SL_PORT"
sl_run sl_cli -m "127.0.0.1:$closed" list
assert_eq 3 "$SL_RC" "exit code of 'sluice -m 127.0.0.1:$closed list' (nothing listens there)"
assert_contains "$SL_OUT$SL_ERR" "127.0.0.1:$closed" "message of the unreachable-jobmanager error"

# Unknown JobID: exit 1.
sl_run sl_cli info 0123456789abcdef0123456789abcdef
assert_eq 1 "$SL_RC" "exit code of 'sluice info' of an unknown JobID (stdout: $SL_OUT; stderr: $SL_ERR)"

# Still serving, still the same process.
sl_run sl_cli taskmanagers
assert_eq 0 "$SL_RC" "exit code of 'sluice taskmanagers' at the end"
sl_pid_is_sluice "$jm_pid" jobmanager || fail "the jobmanager (pid $jm_pid) is gone"
exec 7>&- 8>&-
echo "ok"
