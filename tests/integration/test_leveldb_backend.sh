#!/usr/bin/env bash
# The leveldb state backend under failure, exactly-once: a rate-limited word
# count (~12 s) at parallelism 2 with `state.backend.type: leveldb` in the
# job config, checkpoints every 200 ms, on 3 taskmanagers with 1 slot each.
# While it runs, every `counts` subtask has a leveldb database in its own
# working folder <root-dirs>/<job>-<attempt>-counts-<subtask>. Once a
# checkpoint completed, SIGKILL the taskmanager of a `counts` subtask: the
# job restarts from the latest completed checkpoint (leveldb state restored
# from the backend-independent snapshot), ends FINISHED, and its committed
# output holds every word's counts 1..N exactly once. Afterwards no working
# folder of the job is left, not even the killed taskmanager's.
. "$(dirname "$0")/lib.sh"

sl_recovery_cluster 3
state_root="$SL_ROOT/tm-state"
sl_wordcount_setup 2000000 12
sl_write_file_job "$SL_DATA/job.yaml" leveldb-backend "$SL_TEXT" "$SL_OUTDIR" 2 "    rate: $SL_RATE" \
    "  state.backend.type: leveldb
  execution.checkpointing.interval: 200 ms
  execution.checkpointing.mode: EXACTLY_ONCE"
sl_submit_detached "$SL_DATA/job.yaml"
jobid="$SL_JOBID"
echo "job $jobid submitted"

# ldb_dbs JOBID: the job's leveldb working folders (those holding a CURRENT
# file) under the state root, by name.
ldb_dbs() {
    find "$state_root" -mindepth 2 -maxdepth 2 -name CURRENT -path "*/$1-*" -printf '%h\n' 2>/dev/null |
        xargs -r -n 1 basename | LC_ALL=C sort
}

# ldb_both_counts JOBID ATTEMPT: for wait_for: both counts subtasks of the
# attempt have a database.
ldb_both_counts() {
    local dbs
    dbs="$(ldb_dbs "$1")"
    echo "working folders: ${dbs:-none}"
    grep -qx -- "$1-$2-counts-0" <<<"$dbs" && grep -qx -- "$1-$2-counts-1" <<<"$dbs"
}

wait_for sl_job_deployed "$jobid"
wait_for ldb_both_counts "$jobid" "$(sl_field "$SL_OUT" attempt)"
echo "leveldb working folders: $(ldb_dbs "$jobid" | tr '\n' ' ')"

wait_for sl_ckpt_completed_at_least "$jobid" 1
before="$(sl_latest_ckpt_id "$jobid")"
echo "latest completed checkpoint before the kill: $before"
sl_kill_counts_tm "$jobid" KILL
wait_for sl_pid_gone "$SL_SIGNALLED_PID"
victim_sub="${SL_VICTIM_TASK##* }"
victim_sub="${victim_sub%%/*}"
victim_dir="$state_root/$jobid-$SL_PREV_ATTEMPT-counts-$victim_sub"
[ -f "$victim_dir/CURRENT" ] || fail "the killed subtask's working folder $victim_dir holds no database:"$'\n'"$(ls -la "$state_root")"
echo "the killed taskmanager left $victim_dir behind"

sl_wait_restart "$jobid" "$SL_PREV_ATTEMPT"
restored="$(sl_line_value "$SL_INFO" "restored from")"
[[ "$restored" =~ ^([0-9]+)\ file:// ]] ||
    fail "info after the restart has no 'restored from: <id> file://...' line:"$'\n'"$SL_INFO"
[ "${BASH_REMATCH[1]}" -ge "$before" ] ||
    fail "restored from checkpoint ${BASH_REMATCH[1]}, older than checkpoint $before completed before the kill"
attempt="$(sl_field "$SL_INFO" attempt)"
wait_for ldb_both_counts "$jobid" "$attempt"
echo "leveldb working folders of attempt $attempt: $(ldb_dbs "$jobid" | tr '\n' ' ')"

sl_wait_job_end "$jobid" FINISHED 180
assert_ge 1 "$(sl_field "$SL_INFO" restarts)" "restarts in the info of the finished job"
sl_check_exactly_once "$SL_OUTDIR" "$SL_REF"

# Every task closed its state: the working copies are gone, the killed
# taskmanager's included (the new attempt removed it).
left="$(find "$state_root" -mindepth 1 -maxdepth 1 -name "$jobid-*" 2>/dev/null)"
[ -z "$left" ] || fail "working folders left after the job finished:"$'\n'"$left"$'\n'"$(ls -laR "$state_root" | head -n 40)"
echo "no working folder of job $jobid left in $state_root"
echo "ok"
