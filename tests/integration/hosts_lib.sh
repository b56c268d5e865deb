#!/usr/bin/env bash
# shellcheck disable=SC2034  # globals (HL_ADDR, HL_CLIENT, ...) are for the tests
# Several hosts on one machine, for the integration tests (sources lib.sh):
#
#   . "$(dirname "$0")/hosts_lib.sh"
#   hl_new_cluster                 # sl_new_cluster, with a sluice.yaml for hosts
#   hl_start_hosts sl-jm sl-tm1 sl-tm2 sl-client
#   hl_conf_hosts sl-jm sl-tm1 sl-tm2   # conf/masters = first, conf/workers = the rest
#   hl_script sl-client start-cluster.sh   # SL_RC, SL_OUT, SL_ERR (like sl_run)
#   sl_submit_detached job.yaml    # every sl_cli now runs in the client host
#   hl_exec NAME CMD...            # a command in a host; hl_ssh NAME CMD: over ssh from the client
#   hl_remote_script NAME SCRIPT ARGS...  # scripts/SCRIPT on a host over ssh (SL_RC, SL_OUT, SL_ERR)
#   hl_host_file NAME PATH         # a file as the host sees it (its private log/pid folders)
#   hl_sluice_pids NAME            # live sluice processes in a host
#   hl_host_of_pid PID             # the host a process runs in
#   hl_link NAME up|down           # the host's link to the bridge
#   hl_cut NAME on|off             # partition: its port on the bridge down/up
#   hl_pick_victim JOBID [STAGE]   # SL_VICTIM_TM/_PID/_HOST of a subtask's taskmanager
#   hl_kill_host_silently NAME     # link down, then SIGKILL of its sluice processes
#   hl_impair NAME LOSS_PCT DELAY_MS|off  # loss and delay on it (netem, or link_emu.py)
#   HL_ADDR[NAME], HL_ADDR6[NAME]  # its IPv4 and IPv6 (ULA) address
#
# Each host is a network namespace with one address on a private bridge
# (HL_NET.0/24, HL_NET 10.213.7; the bridge lives in a namespace of its own,
# so nothing is routed to or from the machine's real networks), its own
# hostname (UTS namespace), a mount namespace with a tmpfs over the current
# cluster's log and pid folders (each host has its own, at the same path)
# and a generated /etc/hosts naming every host, and an sshd (Debian's
# openssh-server) listening only on the host's address, root login by key
# only. The host and client keys are generated per run in the test's temp
# folder. The checkout, conf/, the checkpoint and data folders are shared:
# it is one file system, as NFS would be. Commands run in a host with
# hl_exec; the first host named HL_CLIENT_NAME [sl-client] is the client:
# sl_cli runs there, and its SLUICE_SSH_OPTS reach every host by name or
# address, so scripts/start-cluster.sh starts every daemon over ssh.
#
# On exit (pass, fail or signal) every process in a namespace the harness
# made is killed (SIGKILL, found by namespace: `ip netns pids`, plus the
# sshd pids it recorded), then every namespace it made is deleted, which
# removes the bridge and the veth pairs with it; the hosts' logs are copied
# to $SL_TMP/hosts/logs/<host>/ first (kept with KEEP_TMP=1, shown when the
# test fails). Needs root (network, UTS and mount namespaces): where
# namespaces cannot be made, the test fails and says why.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HL_NET=10.213.7          # the private /24, used only inside this run's namespaces
HL_NET6=fd00:5a:7:       # and a private (ULA) /64 beside it
HL_FIRST_OCTET=10        # host i (from 0) gets $HL_NET.$((HL_FIRST_OCTET + i)) and $HL_NET6:<same>
HL_CLIENT_NAME="${HL_CLIENT_NAME:-sl-client}"
HL_SSHD=/usr/sbin/sshd
HL_TAG="sluice-$$-$RANDOM"   # prefix of every namespace name of this run
HL_SWITCH="$HL_TAG-switch"
HL_DIR="$SL_TMP/hosts"
HL_NETNS=()              # namespaces made, in order
HL_HOSTS=()              # host names, in order
HL_CLIENT=""
declare -A HL_ADDR=() HL_ADDR6=() HL_NS=() HL_PID=() HL_PORT=()

# ---------------------------------------------------------------- failing

# hl__fail_setup WHAT OUTPUT: the machine cannot make what the test needs.
hl__fail_setup() {
    fail "cannot set up the hosts: $1${2:+: $2} (the several-hosts tests run as root, with network, UTS and mount namespaces, ip (iproute2), unshare/nsenter (util-linux) and sshd (openssh-server: make deps))"
}

hl__require() {
    local c
    [ "$(id -u)" = 0 ] || hl__fail_setup "not root (uid $(id -u))"
    for c in ip unshare nsenter ssh ssh-keygen ss; do
        command -v "$c" >/dev/null 2>&1 || hl__fail_setup "$c not found"
    done
    [ -x "$HL_SSHD" ] || hl__fail_setup "$HL_SSHD not found"
}

# hl__run WHAT CMD...: runs a set-up command; fails the test with its output.
hl__run() {
    local what="$1" out
    shift
    out="$("$@" 2>&1)" || hl__fail_setup "$what ($*)" "$out"
}

# ------------------------------------------------------------- namespaces

hl__netns_add() {
    hl__run "ip netns add $1" ip netns add "$1"
    HL_NETNS+=("$1")
}

# hl__add_host NAME INDEX: namespace, veth to the switch, address, lo.
hl__add_host() {
    local name="$1" i="$2" ns="$HL_TAG-$1" addr="$HL_NET.$((HL_FIRST_OCTET + $2))"
    local addr6="$HL_NET6:$((HL_FIRST_OCTET + $2))"
    hl__netns_add "$ns"
    hl__run "veth for $name" ip -n "$HL_SWITCH" link add "p$i" type veth peer name eth0 netns "$ns"
    hl__run "switch port of $name" ip -n "$HL_SWITCH" link set "p$i" master br0 up
    hl__run "address of $name" ip -n "$ns" addr add "$addr/24" dev eth0
    hl__run "IPv6 address of $name" ip -n "$ns" addr add "$addr6/64" dev eth0 nodad
    hl__run "link of $name" ip -n "$ns" link set eth0 up
    hl__run "loopback of $name" ip -n "$ns" link set lo up
    HL_HOSTS+=("$name")
    HL_ADDR[$name]="$addr"
    HL_ADDR6[$name]="$addr6"
    HL_NS[$name]="$ns"
    HL_PORT[$name]="p$i"
}

# ---------------------------------------------------------------- sshd

hl__keys() {
    mkdir -p "$HL_DIR/ssh"
    hl__run "client key" ssh-keygen -q -t ed25519 -N "" -C "sluice-test-client" -f "$HL_DIR/ssh/client_key"
    cp "$HL_DIR/ssh/client_key.pub" "$HL_DIR/ssh/authorized_keys"
    : >"$HL_DIR/ssh/known_hosts"
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost ip6-loopback"
    } >"$HL_DIR/etc-hosts"
    SLUICE_SSH_OPTS="-F /dev/null -l root -i $HL_DIR/ssh/client_key -o IdentitiesOnly=yes"
    SLUICE_SSH_OPTS+=" -o BatchMode=yes -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
    SLUICE_SSH_OPTS+=" -o UserKnownHostsFile=$HL_DIR/ssh/known_hosts -o ConnectTimeout=10 -o LogLevel=ERROR"
    export SLUICE_SSH_OPTS
}

hl__sshd_config() {
    local name="$1" d="$HL_DIR/$1"
    mkdir -p "$d"
    hl__run "host key of $name" ssh-keygen -q -t ed25519 -N "" -C "$name" -f "$d/host_key"
    echo "$name,${HL_ADDR[$name]} $(cut -d' ' -f1,2 "$d/host_key.pub")" >>"$HL_DIR/ssh/known_hosts"
    echo "${HL_ADDR[$name]} $name" >>"$HL_DIR/etc-hosts"
    cat >"$d/sshd_config" <<EOF
# written by tests/integration/hosts_lib.sh for $SL_TEST, host $name
ListenAddress ${HL_ADDR[$name]}
Port 22
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $HL_DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
PermitUserEnvironment no
MaxStartups 64
LogLevel INFO
EOF
    hl__run "sshd -t for $name" "$HL_SSHD" -t -f "$d/sshd_config"
}

# hl__start_sshd NAME: the host's anchor process: in its network namespace,
# a new UTS and mount namespace (hostname, tmpfs over the log and pid
# folders, /etc/hosts), then exec sshd -D (same pid throughout).
hl__start_sshd() {
    local name="$1" d="$HL_DIR/$1"
    # shellcheck disable=SC2016  # expanded by the inner bash
    ip netns exec "${HL_NS[$name]}" unshare --uts --mount --propagation private -- bash -c '
        set -e
        hostname "$1"
        mount -t tmpfs -o mode=0755,size=256m sluice-log "$2"
        mount -t tmpfs -o mode=0755,size=8m sluice-pid "$3"
        mount --bind "$4" /etc/hosts
        exec "$5" -D -e -f "$6"' hl-anchor "$name" "$SL_LOG" "$SL_PIDDIR" "$HL_DIR/etc-hosts" \
        "$HL_SSHD" "$d/sshd_config" >"$d/sshd.log" 2>&1 </dev/null {SL_FD_OUT}>&- {SL_FD_ERR}>&- &
    HL_PID[$name]=$!
    sl_record_pid "$!"
    disown "$!" # killed at cleanup; no job notice
}

# hl__sshd_up NAME: for wait_for: the host's sshd listens on its address.
hl__sshd_up() {
    local name="$1" pid="${HL_PID[$1]}"
    if ! sl_pid_alive "$pid"; then
        hl__fail_setup "the sshd of $name (pid $pid) exited" "$(cat "$HL_DIR/$name/sshd.log")"
    fi
    [ -n "$(nsenter -t "$pid" -n ss -Htln "sport = :22" 2>/dev/null)" ]
}

# ---------------------------------------------------------------- public

# hl_new_cluster: sl_new_cluster, then a sluice.yaml for several hosts: the
# jobmanager at the first host named later (HL_JM_NAME [sl-jm]) by name,
# taskmanager.host unset (each works out its own address), 1 slot each.
hl_new_cluster() {
    sl_new_cluster
    cat >"$SL_CONF/sluice.yaml" <<EOF
# written by tests/integration/hosts_lib.sh for $SL_TEST
jobmanager.rpc.address: ${HL_JM_NAME:-sl-jm}
jobmanager.rpc.port: $SL_JM_PORT
taskmanager.numberOfTaskSlots: 1
taskmanager.state.local.root-dirs: $SL_ROOT/tm-state
state.checkpoints.dir: file://$SL_ROOT/checkpoints
EOF
}

# hl_start_hosts NAME...: makes the hosts (addresses in the order given) and
# starts their sshds; the current cluster's log and pid folders become
# private to each host. Waits until every sshd listens and the client can
# log in to every host over ssh.
hl_start_hosts() {
    local name i=0
    [ -n "$SL_ROOT" ] || fail "hl_start_hosts: make a cluster first (hl_new_cluster)"
    hl__require
    hl__reap_stale
    mkdir -p "$HL_DIR"
    hl__netns_add "$HL_SWITCH"
    hl__run "bridge" ip -n "$HL_SWITCH" link add br0 type bridge
    hl__run "bridge up" ip -n "$HL_SWITCH" link set br0 up
    for name in "$@"; do
        hl__add_host "$name" "$i"
        i=$((i + 1))
    done
    hl__keys
    # sshd's privilege separation folder (its Debian service makes it too).
    [ -d /run/sshd ] || install -d -m 0755 /run/sshd
    for name in "$@"; do hl__sshd_config "$name"; done
    for name in "$@"; do hl__start_sshd "$name"; done
    for name in "$@"; do wait_for -t 20 hl__sshd_up "$name"; done
    for name in "$@"; do
        if [ "$name" = "$HL_CLIENT_NAME" ]; then HL_CLIENT="$name"; fi
    done
    [ -n "$HL_CLIENT" ] || HL_CLIENT="${HL_HOSTS[${#HL_HOSTS[@]} - 1]}"
    for name in "$@"; do
        sl_run hl_ssh "$name" hostname
        if [ "$SL_RC" != 0 ] || [ "$SL_OUT" != "$name" ]; then
            hl__fail_setup "ssh from $HL_CLIENT to $name (exit $SL_RC, printed '$SL_OUT')" "$SL_ERR"$'\n'"$(tail -n 20 "$HL_DIR/$name/sshd.log")"
        fi
    done
    echo "hosts up: $(for name in "$@"; do printf '%s=%s ' "$name" "${HL_ADDR[$name]}"; done)(client $HL_CLIENT)"
}

# hl_link NAME up|down: the host's link to the bridge (down: it sends and
# receives nothing, and has no route to the others).
hl_link() {
    hl__run "link $2 of $1" ip -n "${HL_NS[$1]}" link set eth0 "$2"
}

# hl_cut NAME on|off: a partition at the switch: the host's port on the
# bridge goes down (on) or up (off). Unlike hl_link, the host's own link
# stays up and its routes stay: what it sends is lost without an error, as
# when a switch or a cable between machines fails.
hl_cut() {
    local state=down
    [ "$2" = on ] || state=up
    hl__run "switch port $state for $1" ip -n "$HL_SWITCH" link set "${HL_PORT[$1]}" "$state"
    echo "$(date +%T.%N | cut -c1-12) host $1 $([ "$2" = on ] && echo "cut off" || echo "reconnected")"
}

# hl_exec NAME CMD...: runs CMD in host NAME (its network, UTS and mount
# namespaces), with this shell's environment.
hl_exec() {
    local pid="${HL_PID[$1]:-}"
    [ -n "$pid" ] || fail "hl_exec: no host '$1'"
    shift
    nsenter -t "$pid" -n -u -m -- "$@" {SL_FD_OUT}>&- {SL_FD_ERR}>&-
}

# hl_ssh NAME CMD...: ssh from the client host to NAME, as root.
hl_ssh() {
    local name="$1"
    local -a opts=()
    shift
    read -r -a opts <<<"$SLUICE_SSH_OPTS"
    hl_exec "$HL_CLIENT" ssh -n "${opts[@]}" "$name" "$@"
}

# hl_remote_script NAME SCRIPT ARGS...: scripts/SCRIPT for the current
# cluster on host NAME, started over ssh from the client as
# start-cluster.sh does; sets SL_RC, SL_OUT, SL_ERR.
hl_remote_script() {
    local name="$1" script="$2" cmd a
    shift 2
    cmd="cd $(printf '%q' "$SL_REPO") && SLUICE_CONF_DIR=$(printf '%q' "$SL_CONF")"
    cmd+=" SLUICE_LOG_DIR=$(printf '%q' "$SL_LOG") SLUICE_PID_DIR=$(printf '%q' "$SL_PIDDIR")"
    cmd+=" SLUICE_BIN_DIR=$(printf '%q' "$SL_BIN") scripts/$script"
    for a in "$@"; do cmd+=" $(printf '%q' "$a")"; done
    sl_run hl_ssh "$name" "$cmd"
}

# hl_conf_hosts MASTER WORKER...: conf/masters and conf/workers of the
# current cluster (names as given).
hl_conf_hosts() {
    echo "$1" >"$SL_CONF/masters"
    shift
    printf '%s\n' "$@" >"$SL_CONF/workers"
}

# hl_script NAME SCRIPT ARGS...: scripts/SCRIPT for the current cluster in
# host NAME (with SLUICE_SSH_OPTS); sets SL_RC, SL_OUT, SL_ERR.
hl_script() {
    local name="$1" script="$2"
    shift 2
    sl_run hl_exec "$name" env SLUICE_CONF_DIR="$SL_CONF" SLUICE_LOG_DIR="$SL_LOG" \
        SLUICE_PID_DIR="$SL_PIDDIR" SLUICE_BIN_DIR="$SL_BIN" SLUICE_SSH_OPTS="$SLUICE_SSH_OPTS" \
        "$SL_SCRIPTS/$script" "$@"
}

# sl_cli ARGS...: (replaces lib.sh's) the CLI in the client host once the
# hosts are up.
sl_cli() {
    if [ -n "$HL_CLIENT" ]; then
        timeout --foreground -k 5 "$SL_CLI_TIMEOUT" nsenter -t "${HL_PID[$HL_CLIENT]}" -n -u -m -- \
            "$SL_BIN/sluice" -c "$SL_CONF" "$@" {SL_FD_OUT}>&- {SL_FD_ERR}>&-
    else
        timeout --foreground -k 5 "$SL_CLI_TIMEOUT" "$SL_BIN/sluice" -c "$SL_CONF" "$@"
    fi
}

# hl_host_file NAME PATH: prints a file as host NAME sees it (its private
# log and pid folders).
hl_host_file() {
    cat "/proc/${HL_PID[$1]}/root$2"
}

# hl_host_of_pid PID: the host whose network namespace PID is in (empty if none).
hl_host_of_pid() {
    local ns name
    ns="$(readlink "/proc/$1/ns/net" 2>/dev/null)" || return 0
    for name in "${HL_HOSTS[@]}"; do
        if [ "$(readlink "/proc/${HL_PID[$name]}/ns/net" 2>/dev/null)" = "$ns" ]; then
            echo "$name"
            return 0
        fi
    done
}

# hl_sluice_pids NAME: the live sluice daemons (and CLIs) in host NAME.
hl_sluice_pids() {
    local pid
    for pid in $(ip netns pids "${HL_NS[$1]}" 2>/dev/null); do
        if sl_pid_is_sluice "$pid"; then echo "$pid"; fi
    done
}

# hl_running_tms_are N: for wait_for: exactly N taskmanagers are RUNNING.
hl_running_tms_are() {
    local n
    n="$(sl_running_tms)" || return 1
    echo "$n taskmanagers RUNNING"
    [ "$n" = "$1" ]
}

# hl_ms_of DURATION: "3 s", "500 ms", "2 min" in milliseconds.
hl_ms_of() {
    local v="${1%% *}" u="${1#* }"
    [ "$u" != "$1" ] || u=ms
    case "$u" in
        ms) echo "$v" ;;
        s) echo $((v * 1000)) ;;
        min) echo $((v * 60000)) ;;
        *) fail "hl_ms_of: unknown unit in '$1'" ;;
    esac
}

# hl_pick_victim JOBID [STAGE]: the taskmanager of a RUNNING subtask of
# STAGE [counts] of the RUNNING job, and its host. Sets SL_VICTIM_TM,
# SL_VICTIM_PID, SL_VICTIM_HOST, SL_VICTIM_TASK and SL_PREV_ATTEMPT.
hl_pick_victim() {
    local jobid="$1" stage="${2:-counts}"
    wait_for sl_job_deployed "$jobid"
    sl_job_running_now "$jobid"
    SL_PREV_ATTEMPT="$(sl_field "$SL_OUT" attempt)"
    SL_VICTIM_TM="$(sl_task_tm "$SL_OUT" "$stage")"
    [ -n "$SL_VICTIM_TM" ] || fail "no RUNNING '$stage' subtask in the task lines of info:"$'\n'"$SL_OUT"
    SL_VICTIM_TASK="$(sl_task_of_tm "$SL_OUT" "$SL_VICTIM_TM" "$stage")"
    sl_run sl_cli taskmanagers
    SL_VICTIM_PID="$(awk -v tm="$SL_VICTIM_TM" '$1 == tm { print $3; exit }' <<<"$SL_OUT")"
    [ -n "$SL_VICTIM_PID" ] || fail "taskmanager $SL_VICTIM_TM is not listed:"$'\n'"$SL_OUT"
    SL_VICTIM_HOST="$(hl_host_of_pid "$SL_VICTIM_PID")"
    [ -n "$SL_VICTIM_HOST" ] || fail "taskmanager $SL_VICTIM_TM (pid $SL_VICTIM_PID) runs in none of the hosts"
    echo "taskmanager $SL_VICTIM_TM (pid $SL_VICTIM_PID, host $SL_VICTIM_HOST) runs $SL_VICTIM_TASK (attempt $SL_PREV_ATTEMPT)"
}

# hl_kill_host_silently NAME: the host dies without a word: its link goes
# down, then every sluice process in it gets SIGKILL (their sockets close
# behind a dead link: no FIN or RST leaves the host). Sets SL_KILL_MS (the
# time the link went down) and waits until they are gone.
hl_kill_host_silently() {
    local name="$1" pid pids
    pids="$(hl_sluice_pids "$name")"
    [ -n "$pids" ] || fail "no sluice process in host $name"
    SL_KILL_MS="$(sl__now_ms)"
    hl_link "$name" down
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    echo "host $name died silently at $(date +%T.%N | cut -c1-12) (link down, SIGKILL to $(tr "\n" " " <<<"$pids"))"
    for pid in $pids; do wait_for -t 30 sl_pid_gone "$pid"; done
}

# ---------------------------------------------------------------- cleanup

# Copies every host's logs (its private log folder, its sshd log) to
# $HL_DIR/logs/<host>/.
hl__collect_logs() {
    local name pid dst
    for name in "${HL_HOSTS[@]}"; do
        pid="${HL_PID[$name]:-}"
        dst="$HL_DIR/logs/$name"
        mkdir -p "$dst"
        if sl_pid_alive "$pid"; then cp -a "/proc/$pid/root$SL_LOG/." "$dst/" 2>/dev/null || true; fi
        cp -f "$HL_DIR/$name/sshd.log" "$dst/sshd.log" 2>/dev/null || true
    done
}

# Logs of the hosts too when a test fails (lib.sh's dumps only the clusters').
eval "$(declare -f sl_dump_logs | sed '1s/^sl_dump_logs/hl__dump_cluster_logs/')"
sl_dump_logs() {
    local f
    hl__dump_cluster_logs
    [ "${#HL_HOSTS[@]}" -gt 0 ] || return 0
    hl__collect_logs
    for f in "$HL_DIR"/logs/*/*.log; do
        [ -f "$f" ] || continue
        echo "----- ${f#"$HL_DIR"/logs/} (last 60 lines)" >&2
        tail -n 60 "$f" >&2 || true
    done
}

hl__cleanup() {
    local ns pid left i
    [ "${#HL_NETNS[@]}" -gt 0 ] || return 0
    hl__collect_logs
    for i in 1 2 3; do
        left=0
        for ns in "${HL_NETNS[@]}"; do
            for pid in $(ip netns pids "$ns" 2>/dev/null); do
                kill -KILL "$pid" 2>/dev/null && left=1
            done
        done
        for pid in "${HL_PID[@]}"; do
            if sl_pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null; fi
        done
        [ "$left" = 1 ] || break
        sleep 0.2
    done
    for ns in "${HL_NETNS[@]}"; do
        for _ in $(seq 1 50); do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
        ip netns del "$ns" 2>/dev/null || true
    done
    if ip netns list 2>/dev/null | grep -q "^$HL_TAG-"; then
        echo "warning: network namespaces left: $(ip netns list | grep "^$HL_TAG-" | tr '\n' ' ')" >&2
    fi
    HL_NETNS=()
}

# Namespaces of earlier runs whose test process is gone (killed with
# SIGKILL, so their cleanup never ran): their processes and the namespaces.
hl__reap_stale() {
    local ns owner pid
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^sluice-[0-9]+-[0-9]+-' || true); do
        owner="${ns#sluice-}"
        owner="${owner%%-*}"
        kill -0 "$owner" 2>/dev/null && continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        sleep 0.1
        ip netns del "$ns" 2>/dev/null && echo "removed the network namespace $ns of an earlier run (pid $owner is gone)"
    done
    return 0
}

hl__on_exit() {
    local rc=$?
    set +e
    trap '' INT TERM
    hl__cleanup
    (exit "$rc")
    sl__on_exit
}
trap hl__on_exit EXIT

# ------------------------------------------------------------- impairment
#
# hl_impair NAME LOSS_PCT DELAY_MS: from now on the host's link drops
# LOSS_PCT % of the frames and delays every frame by DELAY_MS, each
# independently per direction (to and from the bridge), in order; so a
# round trip between two impaired hosts takes 4 x DELAY_MS more.
# hl_impair NAME off: the link as before. Two mechanisms, probed once
# (HL_IMPAIR_MECH=netem|emu forces one):
#  - netem: where the kernel has sch_netem, a netem qdisc on both ends of
#    the host's veth (eth0 in the host, its port HL_PORT[NAME] in the switch).
#  - emu: otherwise, link_emu.py (python3, standard library) in the switch
#    namespace: p<i> leaves the bridge, a veth pair e<i>/f<i> is made (e<i>
#    on the bridge), and the emulator forwards the frames between p<i> and
#    f<i> with raw sockets, delayed and thinned. Offloads (TSO, GSO, GRO,
#    tx checksums) are turned off with ethtool on every host's eth0 and on
#    the switch's veths first, so no frame is above the MTU or has a
#    partial checksum. Its counters: $HL_DIR/emu-NAME.stats. It runs in the
#    switch namespace, so the cleanup kills it with the rest.

HL_IMPAIR_MECH="${HL_IMPAIR_MECH:-}"   # netem or emu; empty: probed at the first hl_impair
HL_EMU="$(dirname "${BASH_SOURCE[0]}")/link_emu.py"
HL_EMU_STOP_S=10                       # bound on the emulator's exit at hl_impair off
HL_EMU_READY_S=20                      # bound on its start
HL_OFFLOADS_OFF=0
declare -A HL_IMPAIRED=() HL_EMU_PID=()

# hl__port NAME: the host's switch port (p<i>; the emulator's veths are e<i>, f<i>).
hl__port() {
    [ -n "${HL_PORT[$1]:-}" ] || fail "no host '$1'"
    echo "${HL_PORT[$1]}"
}

# hl__impair_probe: sets HL_IMPAIR_MECH: netem if a netem qdisc can be added
# to a throwaway veth pair in the switch namespace, else emu.
hl__impair_probe() {
    local out
    [ -z "$HL_IMPAIR_MECH" ] || return 0
    hl__run "probe veth" ip -n "$HL_SWITCH" link add hl-probe0 type veth peer name hl-probe1
    if out="$(tc -n "$HL_SWITCH" qdisc add dev hl-probe0 root netem delay 1ms 2>&1)"; then
        HL_IMPAIR_MECH=netem
    else
        HL_IMPAIR_MECH=emu
        echo "no sch_netem in this kernel (tc: $out): links impaired by tests/integration/link_emu.py"
    fi
    ip -n "$HL_SWITCH" link del hl-probe0 2>/dev/null || true
}

# hl__offloads_off DEV [NS]: no TSO/GSO/GRO, no tx checksum offload.
hl__offloads_off() {
    local -a in=()
    [ -z "${2:-}" ] || in=(ip netns exec "$2")
    hl__run "offloads of $1${2:+ in $2}" "${in[@]}" ethtool -K "$1" tso off gso off gro off tx off
}

# hl__emu_require: what the emulator needs; every host's eth0 and the
# switch's ports without offloads (once).
hl__emu_require() {
    local name
    command -v ethtool >/dev/null 2>&1 || hl__fail_setup "ethtool not found (make deps), needed by hl_impair without sch_netem"
    command -v python3 >/dev/null 2>&1 || hl__fail_setup "python3 not found, needed by hl_impair without sch_netem"
    [ "$HL_OFFLOADS_OFF" = 0 ] || return 0
    for name in "${HL_HOSTS[@]}"; do
        hl__offloads_off eth0 "${HL_NS[$name]}"
        hl__offloads_off "$(hl__port "$name")" "$HL_SWITCH"
    done
    HL_OFFLOADS_OFF=1
}

# hl__emu_ready NAME: for wait_for: the emulator of NAME bound its sockets.
hl__emu_ready() {
    local pid="${HL_EMU_PID[$1]}"
    if ! sl_pid_alive "$pid"; then
        hl__fail_setup "link_emu.py for $1 (pid $pid) exited" "$(cat "$HL_DIR/emu-$1.log")"
    fi
    grep -qx "ready $pid" "$HL_DIR/emu-$1.stats" 2>/dev/null
}

hl__emu_on() {
    local name="$1" loss="$2" delay="$3" p i sw="$HL_SWITCH"
    p="$(hl__port "$name")"
    i="${p#p}"
    hl__emu_require
    hl__run "emulator veth for $name" ip -n "$sw" link add "e$i" type veth peer name "f$i"
    hl__offloads_off "e$i" "$sw"
    hl__offloads_off "f$i" "$sw"
    ip netns exec "$sw" sysctl -qw "net.ipv6.conf.f$i.disable_ipv6=1" >/dev/null 2>&1 || true
    hl__run "e$i on the bridge" ip -n "$sw" link set "e$i" master br0 up
    hl__run "f$i up" ip -n "$sw" link set "f$i" promisc on up
    hl__run "$p off the bridge" ip -n "$sw" link set "$p" nomaster
    hl__run "$p up" ip -n "$sw" link set "$p" promisc on up
    rm -f "$HL_DIR/emu-$name.stats"
    ip netns exec "$sw" python3 "$HL_EMU" --loss "$loss" --delay "$delay" \
        --stats "$HL_DIR/emu-$name.stats" "$p" "f$i" >"$HL_DIR/emu-$name.log" 2>&1 </dev/null \
        {SL_FD_OUT}>&- {SL_FD_ERR}>&- &
    HL_EMU_PID[$name]=$!
    sl_record_pid "$!"
    disown "$!" # killed at hl_impair off or at cleanup (it is in the switch namespace)
    wait_for -t "$HL_EMU_READY_S" hl__emu_ready "$name"
}

hl__emu_off() {
    local name="$1" p i pid="${HL_EMU_PID[$1]}" sw="$HL_SWITCH"
    p="$(hl__port "$name")"
    i="${p#p}"
    kill -TERM "$pid" 2>/dev/null || true
    wait_for -t "$HL_EMU_STOP_S" eval "! sl_pid_alive $pid"
    hl__run "e$i removed" ip -n "$sw" link del "e$i"
    hl__run "$p on the bridge" ip -n "$sw" link set "$p" promisc off master br0 up
    unset "HL_EMU_PID[$name]"
}

# hl__netem NAME add|del [LOSS DELAY]: the qdisc on both ends of the host's veth.
hl__netem() {
    local name="$1" op="$2" p
    p="$(hl__port "$name")"
    if [ "$op" = add ]; then
        hl__run "netem on $name" tc -n "${HL_NS[$name]}" qdisc replace dev eth0 root netem loss "$3%" delay "${4}ms"
        hl__run "netem on $p" tc -n "$HL_SWITCH" qdisc replace dev "$p" root netem loss "$3%" delay "${4}ms"
    else
        hl__run "netem off $name" tc -n "${HL_NS[$name]}" qdisc del dev eth0 root
        hl__run "netem off $p" tc -n "$HL_SWITCH" qdisc del dev "$p" root
    fi
}

hl_impair() {
    local name="$1" loss="${2:-}" delay="${3:-}"
    [ -n "${HL_NS[$name]:-}" ] || fail "hl_impair: no host '$name'"
    if [ "$loss" = off ]; then
        [ -n "${HL_IMPAIRED[$name]:-}" ] || return 0
        if [ "$HL_IMPAIR_MECH" = netem ]; then hl__netem "$name" del; else hl__emu_off "$name"; fi
        unset "HL_IMPAIRED[$name]"
        echo "link of $name no longer impaired"
        return 0
    fi
    if ! [[ "$loss" =~ ^[0-9]+(\.[0-9]+)?$ && "$delay" =~ ^[0-9]+$ ]]; then
        fail "hl_impair $name: want LOSS_PCT (a number) and DELAY_MS (whole), got '$loss' '$delay'"
    fi
    hl_impair "$name" off >/dev/null
    hl__impair_probe
    if [ "$HL_IMPAIR_MECH" = netem ]; then hl__netem "$name" add "$loss" "$delay"; else hl__emu_on "$name" "$loss" "$delay"; fi
    HL_IMPAIRED[$name]="$loss% $delay ms"
    echo "link of $name impaired: $loss % loss, $delay ms delay per direction (by $HL_IMPAIR_MECH)"
}

# hl_impair_drops NAME: frames the impairment of NAME's link dropped so far
# (both directions; 0 if none).
hl_impair_drops() {
    local name="$1" p
    if [ "$HL_IMPAIR_MECH" = netem ]; then
        p="$(hl__port "$name")"
        { tc -n "${HL_NS[$name]}" -s qdisc show dev eth0; tc -n "$HL_SWITCH" -s qdisc show dev "$p"; } 2>/dev/null |
            awk '$1 == "Sent" { for (k = 1; k < NF; k++) if ($k == "(dropped") { sub(/,/, "", $(k + 1)); t += $(k + 1) } }
                 END { print t + 0 }'
    else
        awk '$1 == "up" || $1 == "down" { t += $5 } END { print t + 0 }' "$HL_DIR/emu-$name.stats" 2>/dev/null || echo 0
    fi
}

# hl_impair_stats NAME: the impairment's counters, for the test's output.
hl_impair_stats() {
    local p
    p="$(hl__port "$1")"
    if [ "$HL_IMPAIR_MECH" = netem ]; then
        tc -n "${HL_NS[$1]}" -s qdisc show dev eth0 2>&1
        tc -n "$HL_SWITCH" -s qdisc show dev "$p" 2>&1
    else
        cat "$HL_DIR/emu-$1.stats" 2>&1
    fi
}

# hl_rtt_ms NAME ADDR [PORT] [TRIES]: the shortest of TRIES [5] TCP connects
# from host NAME to ADDR:PORT [22] in ms (a connect is one round trip).
hl_rtt_ms() {
    hl_exec "$1" python3 - "$2" "${3:-22}" "${4:-5}" <<'PY'
import socket, sys, time
best = None
for _ in range(int(sys.argv[3])):
    t = time.monotonic()
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10).close()
    except OSError:
        continue
    ms = (time.monotonic() - t) * 1000.0
    best = ms if best is None or ms < best else best
print(-1 if best is None else int(best))
PY
}
