#!/usr/bin/env bash
# Chaos: two long jobs with exactly-once file sinks and a checkpoint every
# 300 ms -- word count (file source -> tokenize -> count -> file sink, p=2)
# and a keyed event-time window job (csv source -> tumbling count and
# session count by user -> file sinks, p=2) -- on CHAOS_TMS [4]
# taskmanagers of 2 slots, while CHAOS_ACTIONS [100] random faults strike,
# one every 1 to 3 s (seeded: the seed is printed, CHAOS_SEED replays it):
#
#   kill       SIGKILL of a busy taskmanager (one running a task), then a
#              replacement started with scripts/taskmanager.sh start
#   stop       SIGSTOP of a busy taskmanager for 1 to 5 s, then SIGCONT
#              (heartbeat.timeout is 3 s: the longer ones are declared lost,
#              and the taskmanager registers again after SIGCONT)
#   ckpt-kill  the same as kill and stop, but timed for while a checkpoint
#   ckpt-stop  of the victim's job is being written: the script polls the
#              job's checkpoint folder for a chk-N without _metadata and
#              strikes at once (counted "struck" when it saw one)
#
# Restart strategy: fixed-delay, 1000000 attempts, 200 ms. After every
# action the checkpoint folders are scanned: a chk-N without _metadata
# older than a completed one, a completed one the retention does not keep
# (not among the newest num-retained), _metadata.tmp next to _metadata,
# or any other file, still there 3 s later, is an orphan. At the end both
# jobs must be FINISHED, their committed output exact (word count: every
# word's counts 1..N once, sl_check_exactly_once; windows: row for row the
# awk reference of windows_lib.sh), their checkpoint folders gone (a
# FINISHED job keeps none), no orphan seen during the run, and after
# stop-cluster.sh no process of the cluster left (every pid seen, and any
# process whose environment names the cluster's pid folder). Prints a
# summary: actions by kind, restarts, checkpoints completed/failed, result.
#
#   tests/chaos/chaos.sh            (make chaos; CHAOS_ACTIONS=10 in make test)
#
# Environment: CHAOS_ACTIONS [100], CHAOS_SEED [random], CHAOS_TMS [4], and
# lib.sh's (SLUICE_BUILD, KEEP_TMP=1).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/windows_lib.sh"

CH_ACTIONS="${CHAOS_ACTIONS:-100}"
CH_SEED="${CHAOS_SEED:-}"
CH_TMS="${CHAOS_TMS:-4}"
[[ "$CH_ACTIONS" =~ ^[0-9]+$ ]] || fail "CHAOS_ACTIONS must be a whole number, not '$CH_ACTIONS'"
[[ "$CH_TMS" =~ ^[1-9][0-9]*$ ]] || fail "CHAOS_TMS must be a positive number, not '$CH_TMS'"
if [ -z "$CH_SEED" ]; then CH_SEED=$(((${EPOCHREALTIME/[.,]/} ^ $$) % 2147483646 + 1)); fi
[[ "$CH_SEED" =~ ^[0-9]+$ ]] || fail "CHAOS_SEED must be a whole number, not '$CH_SEED'"
CH_X=$((CH_SEED % 2147483646 + 1))
echo "chaos: $CH_ACTIONS actions, seed $CH_SEED (replay: CHAOS_SEED=$CH_SEED CHAOS_ACTIONS=$CH_ACTIONS)"

RETAINED=3
ORPHAN_MS=3000 # a suspicious checkpoint entry still there this long is an orphan
TUMBLE=1000 GAP=300 DELAY=500

# ch_rand N: CH_R = a number in 0..N-1 (Park-Miller, seeded by CH_SEED;
# bash's RANDOM is left to lib.sh).
ch_rand() {
    CH_X=$(((CH_X * 16807) % 2147483647))
    CH_R=$((CH_X % $1))
}

declare -A CH_COUNT=() CH_SUSPECT=() CH_ORPHAN=() CH_ALL_PIDS=()
CH_STRUCK=0 CH_LOST_BY_STOP=0 CH_SKIPPED=0
ch_count() { CH_COUNT[$1]=$((${CH_COUNT[$1]:-0} + 1)); }

# ch_note_pids: remembers every pid of the cluster's pid files.
ch_note_pids() {
    local p
    for p in $(sl_pidfile_pids taskmanager) $(sl_pidfile_pids jobmanager); do CH_ALL_PIDS[$p]=1; done
}

# ------------------------------------------------------------- the jobs

# Sized so that the jobs outlast the faults (about 3.5 s per action).
nominal=$((CH_ACTIONS * 7 / 2 + 20))
sl_recovery_cluster "$CH_TMS" taskmanager.numberOfTaskSlots 2 \
    heartbeat.interval "500 ms" heartbeat.timeout "3 s"
ch_note_pids
config="  execution.checkpointing.interval: 300 ms
  execution.checkpointing.mode: EXACTLY_ONCE
  state.checkpoints.num-retained: $RETAINED
  restart-strategy.type: fixed-delay
  restart-strategy.fixed-delay.attempts: 1000000
  restart-strategy.fixed-delay.delay: 200 ms"

sl_wordcount_setup $((400000 + CH_ACTIONS * 50000)) "$nominal"
sl_write_file_job "$SL_DATA/wordcount.yaml" chaos-wordcount "$SL_TEXT" "$SL_OUTDIR" 2 \
    "    rate: $SL_RATE" "$config"

nrec=$((nominal * 1000))
win_gen "$SL_DATA/events.csv" "$nrec" "$((CH_SEED % 100000 + 1))"
win_ref tumble "$SL_DATA/events.csv" "$TUMBLE" >"$SL_DATA/tumble.ref"
win_ref session "$SL_DATA/events.csv" "$GAP" >"$SL_DATA/session.ref"
echo "window input: $nrec records, $(wc -l <"$SL_DATA/tumble.ref") tumbling and $(wc -l <"$SL_DATA/session.ref") session windows"
{
    echo "name: chaos-windows"
    echo "parallelism: 2"
    echo "config:"
    echo "$config"
    echo "pipeline:"
    echo "  - name: events"
    echo "    source: file"
    echo "    path: $SL_DATA/events.csv"
    echo "    format: csv"
    echo "    schema: \"ts:int, user:string, amount:int\""
    echo "    parallelism: 1"
    echo "    rate: 1000"
    for w in "tumble|size: $TUMBLE ms" "session|gap: $GAP ms"; do
        echo "  - name: ${w%%|*}"
        echo "    input: events"
        echo "    operator: window"
        echo "    key-by: user"
        echo "    time-field: ts"
        echo "    max-out-of-orderness: $DELAY ms"
        echo "    ${w#*|}"
        echo "  - name: out_${w%%|*}"
        echo "    input: ${w%%|*}"
        echo "    sink: file"
        echo "    path: $SL_DATA/out_${w%%|*}"
    done
} >"$SL_DATA/windows.yaml"

sl_submit_detached "$SL_DATA/wordcount.yaml"
JOB_WC="$SL_JOBID"
sl_submit_detached "$SL_DATA/windows.yaml"
JOB_WIN="$SL_JOBID"
JOBS=("$JOB_WC" "$JOB_WIN")
echo "jobs: word count $JOB_WC, windows $JOB_WIN (about $nominal s each without faults)"
wait_for sl_job_deployed "$JOB_WC"
wait_for sl_job_deployed "$JOB_WIN"
wait_for sl_ckpt_completed_at_least "$JOB_WC" 1
wait_for sl_ckpt_completed_at_least "$JOB_WIN" 1

# ------------------------------------------------------------ victims

# ch_tm_pids: CH_TMPIDS = "tm pid" of every RUNNING taskmanager whose pid is
# a live sluice-taskmanager of this cluster's pid file.
ch_tm_pids() {
    local tm pid
    CH_TMPIDS=()
    sl_run sl_cli taskmanagers
    [ "$SL_RC" -eq 0 ] || return 0
    while read -r tm pid; do
        grep -qx "$pid" < <(sl_pidfile_pids taskmanager) || continue
        sl_pid_is_sluice "$pid" taskmanager || continue
        CH_TMPIDS+=("$tm $pid")
    done < <(awk '$6 == "RUNNING" { print $1, $3 }' <<<"$SL_OUT")
}

# ch_pick_victim [JOBID]: CH_VICTIM (pid) and CH_VICTIM_TM: a taskmanager
# running a task of JOBID (else of any job, else any RUNNING one). 1 if none.
ch_pick_victim() {
    local j tm pid busy="" line
    local -a cands=() jobs=("${JOBS[@]}")
    [ "$#" -eq 0 ] || jobs=("$@")
    ch_tm_pids
    [ "${#CH_TMPIDS[@]}" -gt 0 ] || return 1
    for j in "${jobs[@]}"; do
        sl_info "$j"
        [ "$SL_RC" -eq 0 ] || continue
        busy+=" $(sl_tasks "$SL_OUT" | awk '$4 == "RUNNING" { print $5 }' | tr '\n' ' ')"
    done
    for line in "${CH_TMPIDS[@]}"; do
        read -r tm pid <<<"$line"
        [[ " $busy " == *" $tm "* ]] && cands+=("$line")
    done
    [ "${#cands[@]}" -gt 0 ] || cands=("${CH_TMPIDS[@]}")
    ch_rand "${#cands[@]}"
    read -r CH_VICTIM_TM CH_VICTIM <<<"${cands[$CH_R]}"
}

# ch_strike SIG: SIGKILL (then a replacement) or SIGSTOP for 1-5 s (then
# SIGCONT) of CH_VICTIM.
ch_strike() {
    local d
    if [ "$1" = KILL ]; then
        kill -KILL "$CH_VICTIM" 2>/dev/null || true
        wait_for sl_pid_gone "$CH_VICTIM"
        sl_add_taskmanager >/dev/null
        ch_note_pids
        echo "    killed $CH_VICTIM_TM (pid $CH_VICTIM), replacement pid $SL_NEW_TM_PID"
    else
        ch_rand 41
        d=$((10 + CH_R)) # tenths of a second
        kill -STOP "$CH_VICTIM" 2>/dev/null || true
        sleep "$((d / 10)).$((d % 10))"
        kill -CONT "$CH_VICTIM" 2>/dev/null || true
        if [ "$d" -ge 30 ]; then CH_LOST_BY_STOP=$((CH_LOST_BY_STOP + 1)); fi
        echo "    stopped $CH_VICTIM_TM (pid $CH_VICTIM) for $((d / 10)).$((d % 10)) s"
    fi
}

# ch_pending_chk DIR: 0 (and CH_PENDING set) if DIR has a chk-N without
# _metadata. Globs only: no process is forked, so a poll takes microseconds.
ch_pending_chk() {
    local d
    for d in "$1"/chk-*; do
        if [ -d "$d" ] && [ ! -e "$d/_metadata" ]; then
            CH_PENDING="${d##*/}"
            return 0
        fi
    done
    return 1
}

# ch_strike_in_checkpoint SIG: picks a victim of a random job, then waits
# (up to 5 s) for that job's checkpoint folder to hold a chk-N being written
# and strikes at once (at the end of the 5 s anyway).
ch_strike_in_checkpoint() {
    local j dir deadline
    ch_rand "${#JOBS[@]}"
    j="${JOBS[$CH_R]}"
    ch_pick_victim "$j" || return 1
    dir="$(sl_ckpt_job_dir "$j")"
    deadline=$(($(sl__now_ms) + 5000))
    CH_PENDING=""
    while ! ch_pending_chk "$dir"; do
        [ "$(sl__now_ms)" -lt "$deadline" ] || break
        sleep 0.002
    done
    if [ -n "$CH_PENDING" ]; then
        CH_STRUCK=$((CH_STRUCK + 1))
        echo "    $CH_PENDING of job ${j:0:8} is being written"
    else
        echo "    no checkpoint of job ${j:0:8} in progress within 5 s"
    fi
    ch_strike "$1"
}

# --------------------------------------------------------- orphan scan

# ch_scan: notes suspicious entries of the checkpoint folders; one still
# there ORPHAN_MS later is an orphan (CH_ORPHAN).
ch_scan() {
    local now j dir d f n maxdone=0 e
    local -a done_ids=()
    local -A cur=()
    now="$(sl__now_ms)"
    for j in "${JOBS[@]}"; do
        dir="$(sl_ckpt_job_dir "$j")"
        [ -d "$dir" ] || continue
        maxdone=0
        done_ids=()
        for d in "$dir"/*; do
            [ -e "$d" ] || continue
            case "${d##*/}" in
                chk-[0-9]*)
                    n="${d##*/chk-}"
                    if [ -e "$d/_metadata" ]; then
                        done_ids+=("$n")
                        [ "$n" -le "$maxdone" ] || maxdone="$n"
                    fi
                    for f in "$d"/*; do
                        [ -e "$f" ] || continue
                        case "${f##*/}" in
                            _metadata | *.state) ;;
                            _metadata.tmp) [ ! -e "$d/_metadata" ] || cur[$f]=1 ;;
                            *) cur[$f]=1 ;;
                        esac
                    done
                    ;;
                shared) ;;
                *) cur[$d]=1 ;;
            esac
        done
        for d in "$dir"/chk-*; do
            [ -d "$d" ] && [ ! -e "$d/_metadata" ] || continue
            [ "${d##*/chk-}" -ge "$maxdone" ] || cur[$d]=1
        done
        if [ "${#done_ids[@]}" -gt "$RETAINED" ]; then
            for n in $(printf '%s\n' "${done_ids[@]}" | sort -n | head -n $((${#done_ids[@]} - RETAINED))); do
                cur[$dir/chk-$n]=1
            done
        fi
    done
    for e in "${!CH_SUSPECT[@]}"; do
        [ -n "${cur[$e]:-}" ] || unset "CH_SUSPECT[$e]"
    done
    for e in "${!cur[@]}"; do
        [ -e "$e" ] || continue
        if [ -z "${CH_SUSPECT[$e]:-}" ]; then
            CH_SUSPECT[$e]="$now"
        elif [ $((now - CH_SUSPECT[$e])) -ge "$ORPHAN_MS" ] && [ -z "${CH_ORPHAN[$e]:-}" ]; then
            CH_ORPHAN[$e]="$(ls -la "$e" 2>&1 | head -n 8 | tr '\n' ';')"
            echo "    ORPHAN: $e (there for $((now - CH_SUSPECT[$e])) ms)"
        fi
    done
}

# ---------------------------------------------------------- the faults

t_start="$(sl__now_ms)"
for ((a = 1; a <= CH_ACTIONS; a++)); do
    ch_rand 21
    sleep "$((1 + CH_R / 10)).$((CH_R % 10))"
    ch_rand 10
    case "$CH_R" in
        0 | 1 | 2) kind=kill ;;
        3 | 4 | 5) kind=stop ;;
        6 | 7) kind=ckpt-kill ;;
        *) kind=ckpt-stop ;;
    esac
    echo "  $(date +%T.%N | cut -c1-12) action $a/$CH_ACTIONS: $kind"
    ok=0
    case "$kind" in
        kill) ch_pick_victim && ch_strike KILL && ok=1 ;;
        stop) ch_pick_victim && ch_strike STOP && ok=1 ;;
        ckpt-kill) ch_strike_in_checkpoint KILL && ok=1 ;;
        ckpt-stop) ch_strike_in_checkpoint STOP && ok=1 ;;
    esac
    if [ "$ok" = 1 ]; then ch_count "$kind"; else CH_SKIPPED=$((CH_SKIPPED + 1)); echo "    no victim"; fi
    ch_scan
done
t_faults=$((($(sl__now_ms) - t_start) / 1000))
echo "faults done after $t_faults s"

# ------------------------------------------------------------- results

ch_summary() {
    local j s r line
    echo "===== chaos summary (seed $CH_SEED)"
    echo "actions: $CH_ACTIONS in $t_faults s: kill ${CH_COUNT[kill]:-0}, stop ${CH_COUNT[stop]:-0}," \
        "ckpt-kill ${CH_COUNT[ckpt-kill]:-0}," \
        "ckpt-stop ${CH_COUNT[ckpt-stop]:-0} ($CH_STRUCK struck while a chk-N was being written), skipped $CH_SKIPPED; stops of 3 s or more (the heartbeat timeout): $CH_LOST_BY_STOP"
    for j in "${JOBS[@]}"; do
        sl_info "$j"
        s="$(sl_field "$SL_OUT" state)" r="$(sl_field "$SL_OUT" restarts)"
        sl_checkpoints "$j"
        line="completed $(sl_ckpt_count "$SL_OUT" completed), failed $(sl_ckpt_count "$SL_OUT" failed), restored $(sl_ckpt_count "$SL_OUT" restored)"
        echo "job $j: ${s:-?}, restarts ${r:-?}, checkpoints: $line"
    done
    echo "orphans seen: ${#CH_ORPHAN[@]}"
}

for j in "${JOBS[@]}"; do wait_for -t $((nominal * 3 + 120)) sl__job_ended "$j"; done
ch_summary
for j in "${JOBS[@]}"; do
    sl_info "$j"
    assert_eq FINISHED "$(sl_field "$SL_OUT" state)" "state of job $j at the end; info: $SL_OUT"
done
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"
win_check "$SL_DATA/out_tumble" "$SL_DATA/tumble.ref"
win_check "$SL_DATA/out_session" "$SL_DATA/session.ref"

[ "${#CH_ORPHAN[@]}" -eq 0 ] || fail "orphans in the checkpoint folders during the run:"$'\n'"$(for e in "${!CH_ORPHAN[@]}"; do echo "$e: ${CH_ORPHAN[$e]}"; done)"
# A FINISHED job keeps no checkpoint: its folder goes.
ckpt_root_empty() {
    find "$SL_ROOT/checkpoints" -mindepth 1 | head -n 20
    [ -z "$(find "$SL_ROOT/checkpoints" -mindepth 1 | head -n 1)" ]
}
wait_for -t 30 ckpt_root_empty
echo "checkpoint folder empty (both jobs FINISHED)"

ch_note_pids
sl_run sl_script stop-cluster.sh
[ "$SL_RC" -eq 0 ] || fail "stop-cluster.sh exited $SL_RC: $SL_OUT $SL_ERR"
# cluster_procs: pids of live processes of this cluster: seen in a pid file,
# or with the cluster's pid folder in their environment.
cluster_procs() {
    local p e
    for p in "${!CH_ALL_PIDS[@]}"; do sl_pid_alive "$p" && echo "$p"; done
    for e in /proc/[0-9]*/environ; do
        p="${e#/proc/}"
        p="${p%/environ}"
        [ "$p" != "$$" ] || continue
        if tr '\0' '\n' <"$e" 2>/dev/null | grep -qxF "SLUICE_PID_DIR=$SL_PIDDIR"; then
            sl_pid_is_sluice "$p" && echo "$p"
        fi
    done
}
no_process_left() {
    local left
    left="$(cluster_procs | sort -u | tr '\n' ' ')"
    echo "left: $left"
    [ -z "$left" ]
}
wait_for -t 30 no_process_left
echo "no process left (${#CH_ALL_PIDS[@]} daemons seen)"
echo "result: PASS ($(($(sl__now_ms) - t_start)) ms from the first fault)"
